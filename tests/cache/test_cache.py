"""The in-memory cache through the real gateway: hit, miss, refresh, namespace, expiry, replay."""

from __future__ import annotations

import json
import time

import httpx
import openai
import pytest

from tests.cache.conftest import cache_config, chain
from tests.cache.helpers import STATUS, ask, ask_stream, msgs, text_of
from tests.conftest import PROVIDER_KEY, SECRETS, openai_client


@pytest.fixture
def gw(make_gateway):
    return make_gateway({"middleware": chain()})


def test_miss_then_hit_without_the_upstream(gw, mock_openai, logs) -> None:
    mock, upstream = mock_openai
    client = openai_client(gw, upstream, x_portkey_config=cache_config(upstream))
    first, s1 = ask(client, "what is a gateway")
    second, s2 = ask(client, "what is a gateway")
    assert (s1, s2) == ("MISS", "HIT")
    assert mock.calls == 1
    assert second.choices[0].message.content == "echo: what is a gateway"
    assert second.model_dump() == first.model_dump()  # the stored answer, byte for byte
    access = [x for x in logs() if x.get("event") == "request"]
    assert [x["cache_status"] for x in access] == ["MISS", "HIT"]
    assert access[1]["status"] == 200 and access[1]["provider"] == "openai"


def test_key_ignores_key_order_and_stream_but_not_parameters(gw, mock_openai) -> None:
    mock, upstream = mock_openai
    headers = {
        "authorization": f"Bearer {PROVIDER_KEY}",
        "x-portkey-config": cache_config(upstream),
        "content-type": "application/json",
    }
    url = gw.url + "/v1/chat/completions"
    a = '{"model": "m1", "temperature": 0.5, "messages": [{"role": "user", "content": "k"}]}'
    b = '{"messages": [{"content": "k", "role": "user"}], "temperature": 0.5, "model": "m1"}'
    c = '{"messages": [{"content": "k", "role": "user"}], "temperature": 0.7, "model": "m1"}'
    statuses = [httpx.post(url, content=x, headers=headers).headers[STATUS] for x in (a, b, c)]
    assert statuses == ["MISS", "HIT", "MISS"]
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    for extra in ({"tools": tools}, {"response_format": {"type": "json_object"}}, {"seed": 7}):
        body = {**json.loads(a), **extra}
        assert httpx.post(url, json=body, headers=headers).headers[STATUS] == "MISS"
    other_model = {**json.loads(a), "model": "m2"}
    assert httpx.post(url, json=other_model, headers=headers).headers[STATUS] == "MISS"
    assert mock.calls == 6


def test_force_refresh_and_namespaces(gw, mock_openai) -> None:
    mock, upstream = mock_openai
    client = openai_client(gw, upstream, x_portkey_config=cache_config(upstream))
    assert ask(client, "ns")[1] == "MISS"
    refresh = {"x-portkey-cache-force-refresh": "true"}
    assert ask(client, "ns", extra_headers=refresh)[1] == "REFRESH"
    assert mock.calls == 2
    assert ask(client, "ns")[1] == "HIT"
    team = {"x-portkey-cache-namespace": "team-x"}
    assert ask(client, "ns", extra_headers=team)[1] == "MISS"
    assert ask(client, "ns", extra_headers=team)[1] == "HIT"
    assert ask(client, "ns", extra_headers={"x-portkey-cache-namespace": "team-y"})[1] == "MISS"
    assert mock.calls == 4


def test_max_age_expires_entries(gw, mock_openai) -> None:
    mock, upstream = mock_openai
    client = openai_client(gw, upstream, x_portkey_config=cache_config(upstream, max_age=1))
    assert ask(client, "short-lived")[1] == "MISS"
    assert ask(client, "short-lived")[1] == "HIT"
    time.sleep(1.05)
    assert ask(client, "short-lived")[1] == "MISS"
    assert mock.calls == 2


def test_disabled_unless_asked_and_default_mode(make_gateway, mock_openai) -> None:
    mock, upstream = mock_openai
    off = openai_client(make_gateway({"middleware": chain()}), upstream)
    assert [ask(off, "same")[1] for _ in range(2)] == ["DISABLED", "DISABLED"]
    assert mock.calls == 2
    on = make_gateway({"middleware": chain({"default_mode": "simple", "default_max_age": 60})})
    client = openai_client(on, upstream)
    assert [ask(client, "same")[1] for _ in range(2)] == ["MISS", "HIT"]
    assert mock.calls == 3


def test_non_stream_answer_replayed_as_a_stream(gw, mock_openai) -> None:
    mock, upstream = mock_openai
    client = openai_client(gw, upstream, x_portkey_config=cache_config(upstream))
    stored, _ = ask(client, "replay me please")
    chunks, status = ask_stream(client, "replay me please", stream_options={"include_usage": True})
    assert status == "HIT" and mock.calls == 1
    assert text_of(chunks) == "echo: replay me please"
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].usage.total_tokens == stored.usage.total_tokens
    # the raw wire: SSE events ending in [DONE]
    with httpx.stream(
        "POST",
        gw.url + "/v1/chat/completions",
        json={"model": "gpt-4o-mini", "messages": msgs("replay me please"), "stream": True},
        headers={
            "authorization": f"Bearer {PROVIDER_KEY}",
            "x-portkey-config": cache_config(upstream),
            # the routing headers are part of the key: send what the SDK client sent
            "x-portkey-provider": "openai",
            "x-portkey-custom-host": upstream.url + "/v1",
        },
    ) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        events = [line for line in r.iter_lines() if line]
    assert events[-1] == "data: [DONE]"
    assert all(e.startswith("data: ") for e in events)
    assert not any('"usage"' in e for e in events)  # include_usage not asked this time
    assert mock.calls == 1


def test_stream_stored_after_its_last_chunk(gw, mock_openai) -> None:
    mock, upstream = mock_openai
    client = openai_client(gw, upstream, x_portkey_config=cache_config(upstream))
    chunks, status = ask_stream(client, "streamed first", stream_options={"include_usage": True})
    assert status == "MISS" and text_of(chunks) == "echo: streamed first"
    answer, status = ask(client, "streamed first")
    assert status == "HIT" and mock.calls == 1
    assert answer.choices[0].message.content == "echo: streamed first"
    assert answer.choices[0].finish_reason == "stop"
    assert answer.usage.total_tokens == chunks[-1].usage.total_tokens
    again, status = ask_stream(client, "streamed first")
    assert status == "HIT" and text_of(again) == "echo: streamed first"
    assert mock.calls == 1


def test_tool_calls_survive_replay(gw, mock_openai) -> None:
    mock, upstream = mock_openai
    client = openai_client(gw, upstream, x_portkey_config=cache_config(upstream))
    ask_stream(client, "weather?", model="tools")
    answer, status = ask(client, "weather?", model="tools")
    assert status == "HIT" and mock.calls == 1
    calls = answer.choices[0].message.tool_calls
    assert [(c.id, c.function.arguments) for c in calls] == [
        ("call_mock_weather_1", '{"city": "Paris"}'),
        ("call_mock_weather_2", '{"city": "Tokyo"}'),
    ]
    assert answer.choices[0].finish_reason == "tool_calls"


def test_errors_are_never_stored(gw, mock_openai) -> None:
    mock, upstream = mock_openai
    client = openai_client(gw, upstream, x_portkey_config=cache_config(upstream))
    for _ in range(2):
        with pytest.raises(openai.InternalServerError):
            ask(client, "fail", model="error-500")
    assert mock.calls == 2
    for model in ("truncated", "midstream-error"):
        with pytest.raises(openai.APIError):
            ask_stream(client, "cut short", model=model)
        _, status = ask(client, "cut short", model=model)  # same key: would HIT if stored
        assert status == "MISS"
    assert mock.calls == 6


def test_cancelled_stream_is_not_stored(gw, mock_openai) -> None:
    mock, upstream = mock_openai
    config = cache_config(upstream)
    with httpx.stream(
        "POST",
        gw.url + "/v1/chat/completions",
        json={"model": "slow-stream", "messages": msgs("hang up"), "stream": True},
        headers={"authorization": f"Bearer {PROVIDER_KEY}", "x-portkey-config": config},
    ) as r:
        lines = r.iter_lines()
        got = [next(lines) for _ in range(6)]
        assert any(line.startswith("data: ") for line in got)
    deadline = time.monotonic() + 5
    while mock.disconnects == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert mock.disconnects == 1
    client = openai_client(gw, upstream, x_portkey_config=config)
    _, status = ask(client, "hang up", model="slow-stream")
    assert status == "MISS" and mock.calls == 2


def test_tenants_never_share_entries(make_gateway, mock_openai) -> None:
    mock, upstream = mock_openai
    keys = [{"key": SECRETS[1], "name": "team-a"}, {"key": "gw-team-b-key", "name": "team-b"}]
    gw = make_gateway({"middleware": chain(auth={"keys": keys, "keys_env": ""})})
    config = cache_config(upstream)
    a = openai_client(gw, upstream, x_portkey_api_key=SECRETS[1], x_portkey_config=config)
    b = openai_client(gw, upstream, x_portkey_api_key="gw-team-b-key", x_portkey_config=config)
    assert [ask(a, "secret plan")[1], ask(a, "secret plan")[1]] == ["MISS", "HIT"]
    assert [ask(b, "secret plan")[1], ask(b, "secret plan")[1]] == ["MISS", "HIT"]
    assert mock.calls == 2
    with pytest.raises(openai.AuthenticationError):
        ask(openai_client(gw, upstream, x_portkey_config=config), "secret plan")


def test_without_gateway_keys_the_provider_key_scopes(gw, mock_openai) -> None:
    mock, upstream = mock_openai
    config = cache_config(upstream)
    mine = openai_client(gw, upstream, x_portkey_config=config)
    other = openai.OpenAI(
        api_key="sk-someone-else",
        base_url=gw.url + "/v1",
        max_retries=0,
        default_headers={"x-portkey-config": config},
    )
    assert ask(mine, "q")[1] == "MISS"
    assert ask(other, "q")[1] == "MISS"
    assert ask(mine, "q")[1] == "HIT"
    assert mock.calls == 2


def test_default_chain_has_the_cache(make_gateway, mock_openai) -> None:
    mock, upstream = mock_openai
    client = openai_client(make_gateway(), upstream, x_portkey_config=cache_config(upstream))
    assert [ask(client, "defaults")[1] for _ in range(2)] == ["MISS", "HIT"]
    assert ask(openai_client(make_gateway(), upstream), "defaults")[1] == "DISABLED"
    assert mock.calls == 2
