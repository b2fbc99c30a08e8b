"""The anthropic SDK -> /v1/messages -> Anthropic (the mock): pass-through stays pass-through.

The body reaches Anthropic byte for byte (unknown fields, block kinds and betas included),
the answer and the stream come back as Anthropic sent them, and the gateway still logs
usage and routes. When a middleware must read a stream's content, it is translated and
encoded back, and the client sees the same answer.
"""

from __future__ import annotations

import json
import time
from typing import Any

import anthropic
import httpx
import pytest

from tests.conftest import PROVIDER_KEY
from tests.frontdoors.messages.conftest import route
from tests.guardrails.conftest import guard
from tests.providers.anthropic.mock import signature, stream_events

WEATHER = {
    "name": "get_weather",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}
FUTURE = {
    "model": "claude-opus-4-8",
    "max_tokens": 64,
    "messages": [
        {
            "role": "user",
            "content": [
                {
                    "type": "text",
                    "text": "hello",
                    "cache_control": {"type": "ephemeral", "ttl": "1h"},
                },
                {"type": "quantum_block", "payload": {"qubits": 3}},  # a block kind of 2027
            ],
        }
    ],
    "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
    "thinking": {"type": "adaptive"},
    "output_config": {"effort": "high"},
    "a_field_from_the_future": {"x": [1, 2, 3]},
}


@pytest.fixture
def native(client, mock_anthropic):
    mock, upstream = mock_anthropic
    return client("anthropic", upstream), mock


def post(gw_url: str, upstream: Any, body: bytes, path: str = "/v1/messages", **headers: str):
    h = {**route("anthropic", upstream), "x-api-key": PROVIDER_KEY, **headers}
    h["content-type"] = "application/json"
    return httpx.post(gw_url + path, content=body, headers=h, timeout=10)


@pytest.mark.parametrize("stream", [False, True])
def test_body_goes_byte_for_byte(make_gateway, mock_anthropic, stream) -> None:
    mock, upstream = mock_anthropic
    gw = make_gateway()
    raw = json.dumps({**FUTURE, "stream": stream}, indent=1).encode()  # odd spacing survives
    r = post(
        gw.url,
        upstream,
        raw,
        **{
            "anthropic-version": "2023-06-01",
            "anthropic-beta": "context-management-2025-06-27, effort-2025-11-24",
        },
    )
    assert r.status_code == 200, r.text
    got = mock.requests[-1]
    assert got["raw"] == raw
    headers = {k.lower(): v for k, v in got["headers"].items()}
    assert headers["anthropic-version"] == "2023-06-01"
    assert headers["anthropic-beta"] == "context-management-2025-06-27,effort-2025-11-24"
    assert headers["x-api-key"] == PROVIDER_KEY


def test_answer_and_stream_come_back_as_anthropic_sent_them(make_gateway, mock_anthropic) -> None:
    _, upstream = mock_anthropic
    gw = make_gateway()
    body = {"model": "claude-parallel", "max_tokens": 64, "tools": [WEATHER]}
    body["messages"] = [{"role": "user", "content": "weather"}]
    direct = httpx.post(
        upstream.url + "/v1/messages",
        json=body,
        headers={"x-api-key": PROVIDER_KEY, "anthropic-version": "2023-06-01"},
    )
    r = post(gw.url, upstream, json.dumps(body).encode(), **{"anthropic-version": "2023-06-01"})
    assert r.content == direct.content
    assert r.headers["x-upstream-request-id"] == "req_mock_0002"
    r = post(gw.url, upstream, json.dumps({**body, "stream": True}).encode())
    expected = b"".join(
        f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()
        for name, data in stream_events(json.loads(direct.content))
    )
    assert r.headers["content-type"].startswith("text/event-stream")
    assert r.content == expected  # ping included, nothing added, nothing lost


def test_beta_query_and_routing_by_slug(make_gateway, mock_anthropic) -> None:
    """?beta=true goes on; a routed model replaces the model and nothing else."""
    mock, upstream = mock_anthropic
    settings = {
        "providers": {
            "claude": {
                "provider": "anthropic",
                "api_key": "sk-settings-key-0003",
                "custom_host": upstream.url + "/v1",
            }
        }
    }
    gw = make_gateway(settings)
    body = {**FUTURE, "model": "@claude/claude-sonnet-4-6"}
    r = httpx.post(
        gw.url + "/v1/messages?beta=true",
        json=body,
        headers={"anthropic-version": "2023-06-01"},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    got = mock.requests[-1]
    assert got["query"] == {"beta": "true"}
    assert got["json"] == {**FUTURE, "model": "claude-sonnet-4-6"}
    assert got["headers"]["x-api-key"] == "sk-settings-key-0003"


def test_thinking_and_tool_use_round_trip_natively(native) -> None:
    sdk, mock = native
    kw: dict[str, Any] = {
        "model": "claude-sonnet-4-6",
        "max_tokens": 2048,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "tools": [WEATHER],
    }
    ask = [{"role": "user", "content": 'call get_weather {"city": "Lima"}'}]
    with sdk.messages.stream(messages=ask, **kw) as s:
        msg = s.get_final_message()
    assert [b.type for b in msg.content] == ["thinking", "tool_use"]
    assert msg.content[0].signature == signature(msg.content[0].thinking)
    assert msg.content[1].input == {"city": "Lima"}
    assert msg.stop_reason == "tool_use"
    turn2 = [
        *ask,
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in msg.content]},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": msg.content[1].id, "content": "22C"}
            ],
        },
    ]
    final = sdk.messages.create(messages=turn2, **kw)
    assert final.content[-1].text == "results: 22C"
    sent_thinking = mock.requests[-1]["json"]["messages"][1]["content"][0]
    assert sent_thinking["signature"] == msg.content[0].signature  # relayed untouched


@pytest.mark.parametrize(
    ("status", "exc", "etype"),
    [
        (400, anthropic.BadRequestError, "invalid_request_error"),
        (429, anthropic.RateLimitError, "rate_limit_error"),
        (529, anthropic.InternalServerError, "overloaded_error"),
    ],
)
def test_errors_keep_anthropic_types(native, status, exc, etype) -> None:
    sdk, _ = native
    with pytest.raises(exc) as info:
        sdk.messages.create(
            model=f"error-{status}", max_tokens=8, messages=[{"role": "user", "content": "x"}]
        )
    assert info.value.status_code == status
    assert info.value.body["error"]["type"] == etype
    if status == 429:
        assert info.value.response.headers["retry-after"] == "7"
        assert info.value.response.headers["anthropic-ratelimit-requests-remaining"] == "0"


@pytest.mark.parametrize("model", ["midstream-error", "truncated"])
def test_stream_failures_are_error_events(native, model) -> None:
    sdk, _ = native
    stream = sdk.messages.stream(
        model=model, max_tokens=8, messages=[{"role": "user", "content": "a b c d e f"}]
    )
    with pytest.raises(anthropic.APIStatusError) as info, stream as s:
        for _ in s:
            pass
    assert info.value.body["type"] == "error"
    if model == "midstream-error":
        assert info.value.body["error"]["type"] == "overloaded_error"


def test_count_tokens_natively(native) -> None:
    sdk, mock = native
    r = sdk.messages.with_raw_response.count_tokens(
        model="claude-sonnet-4-6",
        messages=[{"role": "user", "content": "one two three"}],
        tools=[WEATHER],
    )
    assert r.parse().input_tokens > 0
    assert "x-gateway-token-count" not in r.headers
    assert mock.requests[-1]["path"] == "/v1/messages/count_tokens"


def test_usage_is_logged_from_native_answers(native, logs) -> None:
    sdk, _ = native
    with sdk.messages.stream(
        model="cached", max_tokens=64, messages=[{"role": "user", "content": "one two"}]
    ) as s:
        final = s.get_final_message()
    lines = [x for x in logs() if x.get("event") == "request" and x.get("endpoint") == "messages"]
    assert lines, logs()
    line = lines[-1]
    u = final.usage
    prompt = u.input_tokens + u.cache_read_input_tokens + u.cache_creation_input_tokens
    assert line["prompt_tokens"] == prompt
    assert line["completion_tokens"] == u.output_tokens


# an output guardrail that passes only when it reads the answer's text: it reads the answer,
# so a stream is read as chat, and a native answer through the anthropic wire's codec
OUTPUT_GUARD = {"output_guardrails": [guard("default.contains", {"words": ["Let me check."]})]}


@pytest.mark.parametrize("stream", [False, True])
def test_a_middleware_reading_the_answer_still_gets_anthropic_shapes(
    client, mock_anthropic, logs, stream
) -> None:
    """An output guardrail reads the stream as chat: it is encoded back for the client."""
    mock, upstream = mock_anthropic
    sdk = client("anthropic", upstream, x_portkey_config=json.dumps(OUTPUT_GUARD))
    kw: dict[str, Any] = {"model": "claude-parallel", "max_tokens": 64, "tools": [WEATHER]}
    kw["messages"] = [{"role": "user", "content": "weather"}]
    if stream:
        with sdk.messages.stream(**kw) as s:
            msg = s.get_final_message()
    else:
        raw = sdk.messages.with_raw_response.create(**kw)
        assert raw.status_code == 200  # the guardrail saw the text (a failed check: 246)
        msg = raw.parse()
    # a stream's output check runs once its last event is out: the SDK may have the final
    # message a moment before the verdict is logged
    deadline = time.monotonic() + 5
    while not (verdicts := [x["verdict"] for x in logs() if x.get("event") == "guardrails"]):
        assert time.monotonic() < deadline, "no guardrail verdict was logged"
        time.sleep(0.01)
    assert verdicts == [True]
    assert [b.type for b in msg.content] == ["text", "tool_use", "tool_use"]
    assert [b.input for b in msg.content[1:]] == [{"city": "Paris"}, {"city": "Tokyo"}]
    assert msg.stop_reason == "tool_use"
    assert mock.requests[-1]["json"]["tools"] == [WEATHER]  # the request stayed native


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_cache_hits_answer_in_anthropic_shapes(
    client, mock_anthropic, mock_openai, provider
) -> None:
    """The cache stores chat; a hit is encoded back, streamed or not, whoever answered."""
    mock, upstream = mock_anthropic if provider == "anthropic" else mock_openai
    config = json.dumps({"cache": {"mode": "simple"}})
    sdk = client(provider, upstream, x_portkey_config=config)
    kw: dict[str, Any] = {
        "model": "claude-x",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "cache me"}],
    }
    first = sdk.messages.with_raw_response.create(**kw)
    again = sdk.messages.with_raw_response.create(**kw)
    assert (first.headers["x-portkey-cache-status"], again.headers["x-portkey-cache-status"]) == (
        "MISS",
        "HIT",
    )
    assert again.parse().content[0].text == first.parse().content[0].text == "echo: cache me"
    with sdk.messages.stream(**{**kw, "model": "claude-y"}) as s:
        s.get_final_message()
    with sdk.messages.stream(**{**kw, "model": "claude-y"}) as s:
        hit = s.get_final_message()
    assert hit.content[0].text == "echo: cache me" and hit.stop_reason == "end_turn"
    assert len(mock.requests) == 2
