"""POST /v1/embeddings for ``google`` (batchEmbedContents) and ``vertex-ai`` (predict).

The mock's embeddings routes are proven with google-genai's ``embed_content`` first; then the
openai SDK goes through the real gateway: float and base64 answers, ``dimensions``, the exact
native request, errors with their status, and the semantic cache embedding through Gemini.
"""

from __future__ import annotations

import base64
import struct

import httpx
import openai
import pytest
from google.genai import types

from tests.cache.conftest import cache_config, chain
from tests.cache.helpers import ask
from tests.cache.mock_embeddings import hashed_vector
from tests.conftest import PROVIDER_KEY, SECRETS, GatewayFactory, openai_client
from tests.providers.google.conftest import PROJECT, REGION
from tests.providers.google.mock import MockGemini
from tests.providers.google.test_mock_sdk import gemini_sdk, vertex_sdk
from tests.servers import ServerThread

Mock = tuple[MockGemini, ServerThread]


def test_gemini_sdk_embed_content(mock_gemini: Mock) -> None:
    mock, upstream = mock_gemini
    client = gemini_sdk(upstream)
    r = client.models.embed_content(
        model="gemini-embedding-001",
        contents=["first text", "second"],
        config=types.EmbedContentConfig(output_dimensionality=4),
    )
    assert r.embeddings is not None
    assert [e.values for e in r.embeddings] == [
        pytest.approx(hashed_vector("first text", 4)),
        pytest.approx(hashed_vector("second", 4)),
    ]
    assert mock.last["method"] == "batchEmbedContents"
    assert mock.last["json"]["requests"][0] == {
        "model": "models/gemini-embedding-001",
        "content": {"parts": [{"text": "first text"}], "role": "user"},
        "outputDimensionality": 4,
    }


def test_vertex_sdk_embed_content(mock_gemini: Mock) -> None:
    mock, upstream = mock_gemini
    client = vertex_sdk(upstream)
    r = client.models.embed_content(model="text-embedding-005", contents=["one two", "three"])
    assert r.embeddings is not None and len(r.embeddings) == 2
    assert r.embeddings[0].values == pytest.approx(hashed_vector("one two"))
    assert r.embeddings[0].statistics is not None
    assert r.embeddings[0].statistics.token_count == 2
    assert mock.last["path"].endswith(
        f"/projects/{PROJECT}/locations/{REGION}/publishers/google/models/text-embedding-005:predict"
    )


def _gemini(make_gateway: GatewayFactory, upstream: ServerThread, **headers: str) -> openai.OpenAI:
    return openai.OpenAI(
        api_key=PROVIDER_KEY,
        base_url=make_gateway().url + "/v1",
        max_retries=0,
        default_headers={
            "x-portkey-provider": "google",
            "x-portkey-custom-host": upstream.url,
            **headers,
        },
    )


def test_gemini_embeddings_through_the_gateway(
    make_gateway: GatewayFactory, mock_gemini: Mock
) -> None:
    mock, upstream = mock_gemini
    client = _gemini(make_gateway, upstream)
    r = client.embeddings.create(
        model="gemini-embedding-001", input=["a b", "c"], encoding_format="float"
    )
    assert r.object == "list" and r.model == "gemini-embedding-001"
    assert [(d.object, d.index) for d in r.data] == [("embedding", 0), ("embedding", 1)]
    assert r.data[0].embedding == pytest.approx(hashed_vector("a b"))
    assert r.usage.prompt_tokens == 0 and r.usage.total_tokens == 0  # Gemini counts none
    sent = mock.last
    assert sent["path"] == "/v1beta/models/gemini-embedding-001:batchEmbedContents"
    assert sent["headers"]["x-goog-api-key"] == PROVIDER_KEY
    assert "authorization" not in {k.lower() for k in sent["headers"]} and not sent["query"]
    assert sent["json"] == {
        "requests": [
            {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "a b"}]}},
            {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "c"}]}},
        ]
    }
    # the SDK's default is base64; dimensions become outputDimensionality
    r = client.embeddings.create(model="gemini-embedding-001", input="solo", dimensions=5)
    assert r.data[0].embedding == pytest.approx(hashed_vector("solo", 5), abs=1e-6)
    assert mock.last["json"]["requests"][0]["outputDimensionality"] == 5


def test_base64_is_little_endian_float32(make_gateway: GatewayFactory, mock_gemini: Mock) -> None:
    _, upstream = mock_gemini
    gw = make_gateway()
    body = {"model": "text-embedding-004", "input": "bytes", "encoding_format": "base64"}
    headers = {
        "x-portkey-provider": "google",
        "x-portkey-custom-host": upstream.url,
        "x-portkey-api-key": PROVIDER_KEY,
    }
    r = httpx.post(gw.url + "/v1/embeddings", json=body, headers=headers, timeout=5)
    assert r.status_code == 200, r.text
    raw = base64.b64decode(r.json()["data"][0]["embedding"])
    expected = hashed_vector("bytes")
    assert len(raw) == 4 * len(expected)
    assert list(struct.unpack(f"<{len(expected)}f", raw)) == pytest.approx(expected, abs=1e-6)
    assert r.json()["usage"] == {"prompt_tokens": 0, "total_tokens": 0}


def test_vertex_embeddings_through_the_gateway(
    vertex: tuple[openai.OpenAI, MockGemini],
) -> None:
    client, mock = vertex
    r = client.embeddings.create(
        model="text-embedding-005", input=["x y z", "w"], dimensions=3, encoding_format="float"
    )
    assert [d.embedding for d in r.data] == [
        pytest.approx(hashed_vector("x y z", 3)),
        pytest.approx(hashed_vector("w", 3)),
    ]
    assert r.usage.prompt_tokens == 4 and r.usage.total_tokens == 4
    sent = mock.last
    assert sent["path"] == (
        f"/v1/projects/{PROJECT}/locations/{REGION}/publishers/google/models/"
        "text-embedding-005:predict"
    )
    assert sent["headers"]["Authorization"] == f"Bearer {PROVIDER_KEY}"
    assert sent["json"] == {
        "instances": [{"content": "x y z"}, {"content": "w"}],
        "parameters": {"outputDimensionality": 3},
    }
    # gemini embedding models take one instance per request on Vertex: one call per text
    before = len(mock.requests)
    r = client.embeddings.create(model="gemini-embedding-001", input=["p", "q r", "s"])
    assert [d.embedding for d in r.data] == [
        pytest.approx(hashed_vector(t), abs=1e-6) for t in ("p", "q r", "s")
    ]
    assert r.usage.prompt_tokens == 4
    sent_texts = sorted(q["json"]["instances"][0]["content"] for q in mock.requests[before:])
    assert sent_texts == ["p", "q r", "s"]
    assert all(len(q["json"]["instances"]) == 1 for q in mock.requests[before:])


@pytest.mark.parametrize("status", [400, 401, 429, 500])
def test_errors_keep_their_status(
    make_gateway: GatewayFactory, mock_gemini: Mock, status: int
) -> None:
    mock, upstream = mock_gemini
    client = _gemini(make_gateway, upstream)
    with pytest.raises(openai.APIStatusError) as exc:
        client.embeddings.create(model=f"error-{status}", input="x")
    assert exc.value.status_code == status
    assert f"mock failure {status}" in exc.value.message
    if status == 429:
        assert exc.value.response.headers["retry-after"] == "7"  # from RetryInfo 6.2s
    assert mock.last["method"] == "batchEmbedContents"


def test_unreadable_answer_is_a_502(make_gateway: GatewayFactory, mock_gemini: Mock) -> None:
    _, upstream = mock_gemini
    client = _gemini(make_gateway, upstream)
    with pytest.raises(openai.APIStatusError) as exc:
        client.embeddings.create(model="bad-answer", input="x")
    assert exc.value.status_code == 502
    assert exc.value.body["code"] == "upstream_invalid_response"  # type: ignore[index]


def test_requests_refused_before_the_upstream(
    make_gateway: GatewayFactory, mock_gemini: Mock
) -> None:
    mock, upstream = mock_gemini
    client = _gemini(make_gateway, upstream)
    for bad, param in (
        ({"input": [[1, 2, 3]]}, "input"),
        ({"input": []}, "input"),
        ({"input": "x", "dimensions": 0}, "dimensions"),
        ({"input": "x", "encoding_format": "int8"}, "encoding_format"),
    ):
        with pytest.raises(openai.BadRequestError) as exc:
            client.embeddings.create(model="gemini-embedding-001", **bad)  # type: ignore[arg-type]
        assert exc.value.body["param"] == param  # type: ignore[index]
    gw = make_gateway()
    headers = {"x-portkey-provider": "google", "x-portkey-custom-host": upstream.url}
    body = {"model": "gemini-embedding-001", "input": "x"}
    r = httpx.post(gw.url + "/v1/embeddings", json=body, headers=headers, timeout=5)
    assert r.status_code == 401 and r.json()["error"]["code"] == "missing_api_key"
    assert mock.requests == []


def test_semantic_cache_embeds_with_gemini(
    make_gateway: GatewayFactory, mock_openai, mock_gemini: Mock
) -> None:
    """Only settings change: the cache's embedding provider is ``google``."""
    chat, chat_upstream = mock_openai
    gem, gem_upstream = mock_gemini
    options = {
        "embedding_provider": "google",
        "embedding_base_url": gem_upstream.url,
        "embedding_api_key": SECRETS[2],
        "embedding_model": "gemini-embedding-001",
    }
    gw = make_gateway({"middleware": chain(options)})
    config = cache_config(chat_upstream, "semantic")
    client = openai_client(gw, chat_upstream, x_portkey_config=config)
    assert ask(client, "What is the capital of France?")[1] == "SEMANTIC MISS"
    assert ask(client, "what is the capital of france")[1] == "SEMANTIC HIT"
    assert chat.calls == 1
    sent = gem.requests[0]
    assert sent["method"] == "batchEmbedContents"
    assert sent["headers"]["x-goog-api-key"] == SECRETS[2]
    assert sent["json"]["requests"][0]["content"]["parts"][0]["text"] == (
        "What is the capital of France?"
    )
