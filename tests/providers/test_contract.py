"""Every registered adapter passes the same contract (one test row per provider).

A new provider added to the registry is checked here without writing anything: it builds an
http(s) request without leaking credentials into the URL, keeps an upstream error's status
in the OpenAI error shape, and has a stream translator with feed/finish.
"""

from __future__ import annotations

import pytest

from proxy.context import RequestBody
from proxy.errors import GatewayError
from proxy.providers import PROVIDERS
from proxy.providers.base import EmbeddingsInput, NativeEmbeddingsAdapter, UpstreamRequest
from proxy.schema import request_decoder
from proxy.target import Target

RAW = (
    b'{"model":"m","messages":[{"role":"system","content":"s"},'
    b'{"role":"user","content":"hello"}],"max_tokens":16}'
)
SECRET = "contract-secret-key-0042"


def target(name: str) -> Target:
    return Target(
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
    up = adapter.build_request(RequestBody(raw, request_decoder.decode(raw)), target(name), "m")
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
def test_stream_translator_shape(name: str) -> None:
    translator = PROVIDERS[name].stream_translator("m", True)
    assert callable(translator.feed) and callable(translator.finish)
    assert PROVIDERS[name].name == name


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
