"""POST /v1/embeddings through the gateway, and the embeddings mock proven with the openai SDK."""

from __future__ import annotations

import math

import httpx
import openai
import pytest

from tests.cache.conftest import chain
from tests.cache.mock_embeddings import hashed_vector
from tests.conftest import PROVIDER_KEY, SECRETS, openai_client


def test_mock_speaks_openai_embeddings(mock_embeddings) -> None:
    """The official SDK straight at the mock: float and base64 (its default) both decode."""
    mock, upstream = mock_embeddings
    mock.vectors["fixed"] = [0.5, -0.25, 0.125, 1.0]
    client = openai.OpenAI(api_key=PROVIDER_KEY, base_url=upstream.url + "/v1", max_retries=0)
    r = client.embeddings.create(model="text-embedding-3-small", input="fixed")
    assert mock.requests[-1]["json"]["encoding_format"] == "base64"
    assert r.data[0].embedding == [0.5, -0.25, 0.125, 1.0]
    r = client.embeddings.create(
        model="text-embedding-3-small", input=["a b", "c"], encoding_format="float"
    )
    assert [d.index for d in r.data] == [0, 1]
    assert r.data[1].embedding == pytest.approx(hashed_vector("c"))
    assert r.usage.prompt_tokens == 3
    with pytest.raises(openai.BadRequestError):
        client.embeddings.create(model="text-embedding-3-small", input=[])


def test_embeddings_pass_through_with_the_sdk(make_gateway, mock_embeddings, logs) -> None:
    mock, upstream = mock_embeddings
    mock.vectors["hello"] = [0.0, 1.0, 0.0]
    gw = make_gateway({"middleware": chain()})
    client = openai_client(gw, upstream)
    r = client.embeddings.create(model="text-embedding-3-small", input="hello")
    assert r.data[0].embedding == [0.0, 1.0, 0.0]
    sent = mock.requests[-1]
    assert sent["path"] == "/v1/embeddings"
    assert sent["headers"]["Authorization"] == f"Bearer {PROVIDER_KEY}"
    assert sent["json"] == {
        "model": "text-embedding-3-small",
        "input": "hello",
        "encoding_format": "base64",
    }
    raw = client.embeddings.with_raw_response.create(
        model="text-embedding-3-small", input=["x", "y z"], encoding_format="float", dimensions=4
    )
    assert raw.headers["x-portkey-provider"] == "openai"
    assert raw.headers["x-portkey-trace-id"]
    assert [len(d.embedding) for d in raw.parse().data] == [4, 4]
    lines = [x for x in logs() if x.get("endpoint") == "embeddings"]
    assert [x["status"] for x in lines] == [200, 200]
    assert lines[0]["provider"] == "openai" and lines[0]["latency_ms"] >= 0


def test_embeddings_slug_from_settings(make_gateway, mock_embeddings) -> None:
    mock, upstream = mock_embeddings
    gw = make_gateway(
        {
            "middleware": chain(),
            "providers": {
                "emb": {
                    "provider": "openai",
                    "api_key": SECRETS[2],
                    "custom_host": upstream.url + "/v1",
                }
            },
        }
    )
    client = openai.OpenAI(api_key="unused", base_url=gw.url + "/v1", max_retries=0)
    r = client.embeddings.create(model="@emb/text-embedding-3-large", input="hi")
    assert len(r.data[0].embedding) == 8
    sent = mock.requests[-1]
    assert sent["json"]["model"] == "text-embedding-3-large"
    assert sent["headers"]["Authorization"] == f"Bearer {SECRETS[2]}"


def test_embeddings_azure_openai(make_gateway, mock_embeddings) -> None:
    mock, upstream = mock_embeddings
    gw = make_gateway({"middleware": chain()})
    client = openai.OpenAI(
        api_key=PROVIDER_KEY,
        base_url=gw.url + "/v1",
        max_retries=0,
        default_headers={
            "x-portkey-provider": "azure-openai",
            "x-portkey-custom-host": upstream.url + "/openai",
            "x-portkey-azure-deployment-id": "emb-deploy",
            "x-portkey-azure-api-version": "2024-10-21",
        },
    )
    r = client.embeddings.create(model="text-embedding-3-small", input="azure")
    assert r.data[0].embedding == pytest.approx(hashed_vector("azure"), abs=1e-6)
    sent = mock.requests[-1]
    assert sent["path"] == "/openai/deployments/emb-deploy/embeddings"
    assert sent["query"] == {"api-version": "2024-10-21"}
    assert sent["headers"]["api-key"] == PROVIDER_KEY
    assert "Authorization" not in sent["headers"]


def test_embeddings_errors_in_openai_shape(make_gateway, mock_embeddings) -> None:
    mock, upstream = mock_embeddings
    gw = make_gateway({"middleware": chain()})
    client = openai_client(gw, upstream)
    with pytest.raises(openai.RateLimitError) as exc:
        client.embeddings.create(model="error-429", input="x")
    assert exc.value.status_code == 429
    assert "mock failure 429" in exc.value.message
    with pytest.raises(openai.BadRequestError) as bad:
        client.embeddings.create(model="m", input="x", extra_headers={"x-portkey-provider": "nope"})
    assert bad.value.body["code"] == "unknown_provider"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as none:  # Anthropic has no embeddings API
        client.embeddings.create(
            model="m", input="x", extra_headers={"x-portkey-provider": "anthropic"}
        )
    assert "no embeddings endpoint" in none.value.message
    url = gw.url + "/v1/embeddings"
    r = httpx.post(url, json={"model": "m"}, headers={"x-portkey-provider": "openai"}, timeout=5)
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "input"
    r = httpx.post(url, content=b"{nope", timeout=5)
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json"
    r = httpx.post(url, json={"model": "m", "input": "x"}, timeout=5)
    assert r.status_code == 400 and r.json()["error"]["code"] == "missing_provider"
    assert mock.calls == 1  # only the 429 reached the upstream


def test_embeddings_need_the_gateway_key(make_gateway, mock_embeddings) -> None:
    mock, upstream = mock_embeddings
    gw = make_gateway({"middleware": chain(auth={"keys": [SECRETS[1]], "keys_env": ""})})
    anonymous = openai_client(gw, upstream)
    with pytest.raises(openai.AuthenticationError):
        anonymous.embeddings.create(model="text-embedding-3-small", input="x")
    assert mock.calls == 0
    client = openai_client(gw, upstream, x_portkey_api_key=SECRETS[1])
    r = client.embeddings.create(model="text-embedding-3-small", input="x")
    assert not math.isnan(r.data[0].embedding[0])
    # the gateway key went in x-portkey-api-key: the provider got the Bearer key only
    assert mock.requests[-1]["headers"]["Authorization"] == f"Bearer {PROVIDER_KEY}"
    assert SECRETS[1] not in str(mock.requests[-1]["headers"])
