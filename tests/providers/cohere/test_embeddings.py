"""POST /v1/embeddings on ``cohere``: OpenAI's request through the gateway to ``/v2/embed``.

The mock's embed route is proven with the cohere SDK in test_mock_sdk.py; here the openai SDK
goes through the real gateway: float and base64 answers, ``dimensions``, inputs over
Cohere's 96 texts a call split and joined in order, errors with their status, a 502 for an
answer that is not Cohere's.
"""

from __future__ import annotations

import base64
import struct

import openai
import pytest

from tests.cache.mock_embeddings import hashed_vector
from tests.conftest import PROVIDER_KEY, GatewayFactory
from tests.providers.cohere.conftest import Mock


@pytest.fixture
def client(make_gateway: GatewayFactory, mock_cohere: Mock) -> openai.OpenAI:
    _, upstream = mock_cohere
    return openai.OpenAI(
        api_key=PROVIDER_KEY,
        base_url=make_gateway().url + "/v1",
        max_retries=0,
        default_headers={"x-portkey-provider": "cohere", "x-portkey-custom-host": upstream.url},
    )


def test_float_and_dimensions(client: openai.OpenAI, mock_cohere: Mock) -> None:
    mock, _ = mock_cohere
    r = client.embeddings.create(
        model="embed-v4.0", input=["a b", "c"], dimensions=4, encoding_format="float"
    )
    assert r.model == "embed-v4.0"
    assert [d.embedding for d in r.data] == [
        pytest.approx(hashed_vector("a b", 4)),
        pytest.approx(hashed_vector("c", 4)),
    ]
    assert r.usage.prompt_tokens == 3 and r.usage.total_tokens == 3
    seen = mock.requests[-1]
    assert seen["path"] == "/v2/embed"
    assert seen["headers"]["Authorization"] == f"Bearer {PROVIDER_KEY}"
    assert seen["json"] == {
        "model": "embed-v4.0",
        "texts": ["a b", "c"],
        "input_type": "search_document",
        "embedding_types": ["float"],
        "output_dimension": 4,
    }


def test_base64_default_of_the_sdk(client: openai.OpenAI, mock_cohere: Mock) -> None:
    mock, _ = mock_cohere
    r = client.embeddings.create(model="embed-v4.0", input="solo")  # the SDK asks for base64
    assert r.data[0].embedding == pytest.approx(hashed_vector("solo"), abs=1e-6)
    raw = client.embeddings.with_raw_response.create(
        model="embed-v4.0", input="solo", encoding_format="base64"
    ).http_response.json()
    packed = base64.b64decode(raw["data"][0]["embedding"])
    assert list(struct.unpack(f"<{len(packed) // 4}f", packed)) == pytest.approx(
        hashed_vector("solo"), abs=1e-6
    )
    assert "output_dimension" not in mock.last


def test_more_than_96_texts_are_split_and_joined_in_order(
    client: openai.OpenAI, mock_cohere: Mock
) -> None:
    mock, _ = mock_cohere
    texts = [f"text {i}" for i in range(200)]
    r = client.embeddings.create(model="embed-v4.0", input=texts, encoding_format="float")
    assert [d.index for d in r.data] == list(range(200))
    assert [d.embedding for d in r.data] == [pytest.approx(hashed_vector(t)) for t in texts]
    assert r.usage.prompt_tokens == 400
    sent = sorted((q["json"]["texts"] for q in mock.requests), key=lambda t: int(t[0][5:]))
    assert [len(t) for t in sent] == [96, 96, 8]
    assert [t for batch in sent for t in batch] == texts


@pytest.mark.parametrize("status", [400, 401, 429, 500])
def test_errors_keep_their_status(client: openai.OpenAI, status: int) -> None:
    with pytest.raises(openai.APIStatusError) as info:
        client.embeddings.create(model=f"error-{status}", input="x")
    assert info.value.status_code == status
    assert info.value.message.endswith(f"cohere error: mock embed failure {status}")
    if status == 429:
        assert info.value.response.headers["retry-after"] == "7"


def test_an_answer_that_is_not_cohere_is_a_502(client: openai.OpenAI) -> None:
    with pytest.raises(openai.APIStatusError) as info:
        client.embeddings.create(model="not-cohere", input="x")
    assert info.value.status_code == 502
    assert info.value.body["code"] == "upstream_invalid_response"  # type: ignore[index]
