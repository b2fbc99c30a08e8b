"""Every registered adapter passes the same contract (one test row per provider).

A new provider added to the registry is checked here without writing anything: it builds an
http(s) request without leaking credentials into the URL, keeps an upstream error's status
in the OpenAI error shape, and has a stream translator with feed/finish.
"""

from __future__ import annotations

import msgspec
import pytest

from proxy.errors import GatewayError
from proxy.framing import FRAMINGS
from proxy.frontdoors.chat import decode_chat
from proxy.providers import PROVIDERS
from proxy.providers.base import EmbeddingsInput, NativeEmbeddingsAdapter, UpstreamRequest
from proxy.routing.resolve import settings_target
from proxy.target import Target

RAW = (
    b'{"model":"m","messages":[{"role":"system","content":"s"},'
    b'{"role":"user","content":"hello"}],"max_tokens":16}'
)
SECRET = "contract-secret-key-0042"


def target(name: str) -> Target:
    return settings_target(
        provider=name,
        api_key=SECRET,
        custom_host="https://upstream.example/v1" if name != "bedrock" else None,
        resource_name="res",
        deployment_id="dep",
        aws_access_key_id="AKIDCONTRACT",
        aws_secret_access_key=SECRET,
        aws_region="us-east-1",
        vertex_project_id="proj",
        vertex_region="us-central1",
    )


@pytest.mark.parametrize("name", sorted(PROVIDERS))
@pytest.mark.parametrize("stream", [False, True])
def test_build_request(name: str, stream: bool) -> None:
    adapter = PROVIDERS[name]
    raw = RAW.replace(b'"max_tokens"', b'"stream":true,"max_tokens"') if stream else RAW
    up = adapter.build_request(decode_chat(raw), target(name), "m")
    assert isinstance(up, UpstreamRequest)
    assert up.url.startswith(("https://", "http://"))
    assert SECRET not in up.url, "credentials travel in headers, never in URLs (URLs get logged)"
    assert up.stream is stream
    assert up.body and up.method == "POST"
    assert SECRET not in repr(up)


@pytest.mark.parametrize("name", sorted(PROVIDERS))
@pytest.mark.parametrize("status", [400, 401, 429, 500, 503])
def test_parse_error_keeps_status_and_shape(name: str, status: int) -> None:
    err = PROVIDERS[name].parse_error(status, {}, b'{"error": {"message": "nope"}}')
    assert isinstance(err, GatewayError)
    assert err.status == status
    body = err.body()
    assert body.error.message and body.error.type


@pytest.mark.parametrize("name", sorted(PROVIDERS))
def test_request_is_authenticated_json_with_no_secret_in_the_body(name: str) -> None:
    adapter = PROVIDERS[name]
    up = adapter.build_request(decode_chat(RAW), target(name), "m")
    assert isinstance(msgspec.json.decode(up.body), dict)
    assert SECRET.encode() not in up.body
    auth = {k.lower(): v for k, v in up.headers.items()}
    assert any(auth.get(h) for h in ("authorization", "api-key", "x-api-key", "x-goog-api-key"))


@pytest.mark.parametrize("name", sorted(PROVIDERS))
@pytest.mark.parametrize("raw", [b"<html>sign in</html>", b'{"unexpected": true}', b"[1, 2]"])
def test_an_answer_the_provider_would_not_send_is_a_502(name: str, raw: bytes) -> None:
    with pytest.raises(GatewayError) as info:
        PROVIDERS[name].parse_response(200, {}, raw, "m").parsed  # noqa: B018 - decoding is the test
    assert info.value.status == 502
    assert info.value.code == "upstream_invalid_response"


def _garbage_event(framing: str) -> list[object]:
    """One native stream event whose payload is not what the provider speaks."""
    if framing == "aws-eventstream":
        from tests.providers.bedrock.frames import frame

        decoder = FRAMINGS[framing]()
        headers = {":message-type": "event", ":event-type": "contentBlockDelta"}
        return decoder.feed(frame(headers, b"{not json"))
    return FRAMINGS[framing]().feed(b"event: content_block_delta\ndata: {not json\n\n")


@pytest.mark.parametrize("name", sorted(PROVIDERS))
def test_stream_translator_refuses_garbage_and_truncation(name: str) -> None:
    adapter = PROVIDERS[name]
    raw = RAW.replace(b'"max_tokens"', b'"stream":true,"max_tokens"')
    up = adapter.build_request(decode_chat(raw), target(name), "m")
    [event] = _garbage_event(up.framing)
    with pytest.raises(GatewayError) as info:
        adapter.stream_translator("m", True).feed(event)
    assert info.value.status == 502
    with pytest.raises(GatewayError) as cut:  # a stream that ends before its end marker
        adapter.stream_translator("m", True).finish()
    assert cut.value.status == 502
    assert adapter.name == name


NO_EMBEDDINGS_API = {"anthropic"}  # Anthropic points to Voyage AI for embeddings
EMBED_MODELS = {
    "google": "gemini-embedding-001",
    "vertex-ai": "text-embedding-005",
    "bedrock": "amazon.titan-embed-text-v2:0",
}


@pytest.mark.parametrize("name", sorted(PROVIDERS))
def test_embeddings_requests_keep_credentials_out_of_urls(name: str) -> None:
    """Every adapter that serves /v1/embeddings builds http(s) calls, keys in headers only."""
    adapter = PROVIDERS[name]
    model = EMBED_MODELS.get(name, "text-embedding-3-small")
    if isinstance(adapter, NativeEmbeddingsAdapter):
        calls = adapter.embeddings_calls(EmbeddingsInput(["a", "b"]), target(name), model)
    elif hasattr(adapter, "build_embeddings_request"):
        body = b'{"model": "%s", "input": ["a", "b"]}' % model.encode()
        calls = [adapter.build_embeddings_request(body, target(name), model)]
    else:  # a provider with no embeddings API of its own: /v1/embeddings answers 400 for it
        assert name in NO_EMBEDDINGS_API, f"{name} should serve /v1/embeddings"
        return
    assert calls
    for up in calls:
        assert up.url.startswith(("https://", "http://")) and SECRET not in up.url
        assert up.body and SECRET not in repr(up)
