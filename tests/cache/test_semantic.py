"""Semantic mode: near questions answered from the nearest stored entry, far ones not.

The embeddings come from the mock with vectors the test sets, so similarities are exact:
0.98 is a hit at the default threshold (0.95), 0.90 a near-miss.
"""

from __future__ import annotations

import math

import pytest

from tests.cache.conftest import cache_config, chain
from tests.cache.helpers import ask, ask_stream, text_of
from tests.conftest import SECRETS, openai_client

Q_FRANCE = "What is the capital of France?"
Q_FRANCE_AGAIN = "Which city is France's capital?"
Q_SPAIN = "What is the capital of Spain?"


def _unit(cos: float) -> list[float]:
    return [cos, math.sqrt(1 - cos * cos), 0.0, 0.0]


def semantic_options(embed_upstream, **extra):
    return {
        "embedding_base_url": embed_upstream.url + "/v1",
        "embedding_api_key": SECRETS[2],
        "embedding_model": "mock-embed",
        **extra,
    }


@pytest.fixture
def vectors(mock_embeddings):
    mock, upstream = mock_embeddings
    mock.vectors.update({Q_FRANCE: _unit(1.0), Q_FRANCE_AGAIN: _unit(0.98), Q_SPAIN: _unit(0.9)})
    return mock, upstream


def test_semantic_hit_and_near_miss(make_gateway, mock_openai, vectors) -> None:
    chat, upstream = mock_openai
    emb, emb_upstream = vectors
    gw = make_gateway({"middleware": chain(semantic_options(emb_upstream))})
    client = openai_client(gw, upstream, x_portkey_config=cache_config(upstream, "semantic"))
    _, s1 = ask(client, Q_FRANCE)
    assert s1 == "SEMANTIC MISS" and chat.calls == 1
    again, s2 = ask(client, Q_FRANCE_AGAIN)
    assert s2 == "SEMANTIC HIT" and chat.calls == 1
    assert again.choices[0].message.content == f"echo: {Q_FRANCE}"  # the stored answer
    chunks, s3 = ask_stream(client, Q_FRANCE_AGAIN)
    assert s3 == "SEMANTIC HIT" and text_of(chunks) == f"echo: {Q_FRANCE}"
    spain, s4 = ask(client, Q_SPAIN)
    assert s4 == "SEMANTIC MISS" and chat.calls == 2
    assert spain.choices[0].message.content == f"echo: {Q_SPAIN}"
    # an exact repeat is found without embedding anything
    before = emb.calls
    assert ask(client, Q_FRANCE)[1] == "SEMANTIC HIT"
    assert emb.calls == before
    # embeddings went to the configured endpoint with its key, one text per lookup
    sent = emb.requests[0]
    assert sent["headers"]["Authorization"] == f"Bearer {SECRETS[2]}"
    assert sent["json"] == {"model": "mock-embed", "input": [Q_FRANCE], "encoding_format": "float"}
    assert emb.texts() == [Q_FRANCE, Q_FRANCE_AGAIN, Q_FRANCE_AGAIN, Q_SPAIN]


def test_semantic_compares_only_same_model_params_and_context(
    make_gateway, mock_openai, vectors
) -> None:
    chat, upstream = mock_openai
    _, emb_upstream = vectors
    gw = make_gateway({"middleware": chain(semantic_options(emb_upstream))})
    client = openai_client(gw, upstream, x_portkey_config=cache_config(upstream, "semantic"))
    assert ask(client, Q_FRANCE)[1] == "SEMANTIC MISS"
    assert ask(client, Q_FRANCE_AGAIN, model="gpt-4o")[1] == "SEMANTIC MISS"
    assert ask(client, Q_FRANCE_AGAIN, temperature=0.2)[1] == "SEMANTIC MISS"
    system = [{"role": "system", "content": "answer in French"}]
    r = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[*system, {"role": "user", "content": Q_FRANCE_AGAIN}]
    )
    assert r.headers["x-portkey-cache-status"] == "SEMANTIC MISS"
    assert chat.calls == 4


def test_threshold_is_configurable(make_gateway, mock_openai, vectors) -> None:
    chat, upstream = mock_openai
    _, emb_upstream = vectors
    options = semantic_options(emb_upstream, semantic_threshold=0.85)
    client = openai_client(
        make_gateway({"middleware": chain(options)}),
        upstream,
        x_portkey_config=cache_config(upstream, "semantic"),
    )
    assert ask(client, Q_FRANCE)[1] == "SEMANTIC MISS"
    assert ask(client, Q_SPAIN)[1] == "SEMANTIC HIT"  # 0.90 >= 0.85
    assert chat.calls == 1


def test_embedding_failure_degrades_to_miss(make_gateway, mock_openai, mock_embeddings, logs):
    chat, upstream = mock_openai
    emb, emb_upstream = mock_embeddings
    options = semantic_options(emb_upstream, embedding_model="error-503")
    client = openai_client(
        make_gateway({"middleware": chain(options)}),
        upstream,
        x_portkey_config=cache_config(upstream, "semantic"),
    )
    assert [ask(client, Q_FRANCE)[1] for _ in range(2)] == ["SEMANTIC MISS", "SEMANTIC HIT"]
    assert ask(client, Q_FRANCE_AGAIN)[1] == "SEMANTIC MISS"  # no vector: exact entries only
    assert chat.calls == 2
    failed = [x for x in logs() if x.get("event") == "semantic cache: embedding failed"]
    assert len(failed) == 1 and failed[0]["status"] == 503
    assert emb.calls == 1  # after a failure the embedder rests: no call per request


def test_semantic_without_embedder_caches_exact(make_gateway, mock_openai, logs) -> None:
    chat, upstream = mock_openai
    gw = make_gateway({"middleware": chain()})
    client = openai_client(gw, upstream, x_portkey_config=cache_config(upstream, "semantic"))
    assert [ask(client, Q_FRANCE)[1] for _ in range(2)] == ["MISS", "HIT"]
    assert chat.calls == 1
    assert sum("no embedding provider" in str(x.get("event")) for x in logs()) == 1


@pytest.mark.redis
def test_semantic_across_replicas_in_redis(make_gateway, mock_openai, vectors, redis_cache):
    chat, upstream = mock_openai
    _, emb_upstream = vectors
    settings = {"middleware": chain({**redis_cache, **semantic_options(emb_upstream)})}
    config = cache_config(upstream, "semantic")
    a = openai_client(make_gateway(settings), upstream, x_portkey_config=config)
    b = openai_client(make_gateway(settings), upstream, x_portkey_config=config)
    assert ask(a, Q_FRANCE)[1] == "SEMANTIC MISS"
    answer, status = ask(b, Q_FRANCE_AGAIN)
    assert status == "SEMANTIC HIT" and answer.choices[0].message.content == f"echo: {Q_FRANCE}"
    assert ask(b, Q_SPAIN)[1] == "SEMANTIC MISS"
    assert chat.calls == 2


def test_bad_threshold_fails_at_start(make_gateway) -> None:
    from proxy.pipeline import SettingsError

    with pytest.raises(SettingsError, match="semantic_threshold"):
        make_gateway({"middleware": chain({"semantic_threshold": 1.5})})
    with pytest.raises(SettingsError, match="backend"):
        make_gateway({"middleware": chain({"backend": "disk"})})


def test_embeddings_through_a_settings_slug(make_gateway, mock_openai, vectors) -> None:
    chat, upstream = mock_openai
    emb, emb_upstream = vectors
    settings = {
        "providers": {
            "embedder": {
                "provider": "openai",
                "api_key": SECRETS[2],
                "custom_host": emb_upstream.url + "/v1",
            }
        },
        "middleware": chain({"embedding_slug": "embedder", "embedding_model": "e-small"}),
    }
    client = openai_client(
        make_gateway(settings), upstream, x_portkey_config=cache_config(upstream, "semantic")
    )
    assert ask(client, Q_FRANCE)[1] == "SEMANTIC MISS"
    assert ask(client, Q_FRANCE_AGAIN)[1] == "SEMANTIC HIT"
    assert chat.calls == 1
    assert emb.requests[-1]["headers"]["Authorization"] == f"Bearer {SECRETS[2]}"
    assert emb.requests[-1]["json"]["model"] == "e-small"


def test_option_errors_fail_at_start(make_gateway) -> None:
    from proxy.pipeline import SettingsError

    with pytest.raises(SettingsError, match=r"redis://"):
        make_gateway({"middleware": chain({"backend": "redis", "redis_url": "http://x"})})
    with pytest.raises(SettingsError, match="nowhere"):
        make_gateway({"middleware": chain({"embedding_slug": "nowhere"})})
