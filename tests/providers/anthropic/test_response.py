"""Native answers, streams and errors -> OpenAI shapes, from recorded fixtures."""

from __future__ import annotations

import json

import pytest

from proxy.convert import StreamAssembler
from proxy.errors import GatewayError
from proxy.providers.anthropic.structured import ANSWER_TOOL
from proxy.schema import chunk_decoder
from proxy.sse import SSEEvent
from tests.providers.anthropic.helpers import ADAPTER, fixture, sse_events


def completion(name: str):
    return ADAPTER.parse_response(200, {}, fixture(name), "requested-model").parsed


def run_stream(events: list[SSEEvent], include_usage: bool = True):
    tr = ADAPTER.stream_translator("requested-model", include_usage)
    chunks = [c for ev in events for c in tr.feed(ev)] + tr.finish()
    return [json.loads(c.raw) for c in chunks]


def test_text_message() -> None:
    c = completion("message_text.json")
    assert c.id == "msg_013Zva2CMHLNnXjNJJKqJ2EF"
    assert c.model == "claude-sonnet-4-6"
    assert c.choices[0].message.content == "Hi! My name is Claude."
    assert c.choices[0].finish_reason == "stop"
    assert c.usage.prompt_tokens == 2095
    assert c.usage.completion_tokens == 503
    assert c.usage.total_tokens == 2598
    assert c.usage.prompt_tokens_details.cached_tokens == 0


def test_tool_use_message() -> None:
    c = completion("message_tool_use.json")
    msg = c.choices[0].message
    assert msg.content == "I'll check the current weather in San Francisco for you."
    assert [(t.id, t.function.name) for t in msg.tool_calls] == [
        ("toolu_01A09q90qw90lq917835lq9", "get_weather"),
        ("toolu_01B7k2m3n4p5q6r7s8t9u0v", "get_time"),
    ]
    assert json.loads(msg.tool_calls[0].function.arguments) == {
        "location": "San Francisco, CA",
        "unit": "celsius",
    }
    assert msg.tool_calls[1].function.arguments == "{}"
    assert c.choices[0].finish_reason == "tool_calls"


def test_thinking_skipped_text_joined_cache_counted() -> None:
    c = completion("message_thinking_cached.json")
    assert c.choices[0].message.content == "The answer is 42."
    assert c.choices[0].finish_reason == "length"
    assert c.usage.prompt_tokens == 50 + 248 + 1800
    assert c.usage.prompt_tokens_details.cached_tokens == 1800
    assert c.usage.total_tokens == 50 + 248 + 1800 + 9


@pytest.mark.parametrize(
    ("stop", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("pause_turn", "stop"),
        (None, "stop"),
    ],
)
def test_finish_reasons(stop, finish) -> None:
    raw = json.loads(fixture("message_text.json"))
    raw["stop_reason"] = stop
    c = ADAPTER.parse_response(200, {}, json.dumps(raw).encode(), "m").parsed
    assert c.choices[0].finish_reason == finish


def test_answer_tool_becomes_content() -> None:
    raw = json.loads(fixture("message_tool_use.json"))
    raw["content"] = [
        {"type": "tool_use", "id": "toolu_x", "name": ANSWER_TOOL, "input": {"answer": "42"}}
    ]
    c = ADAPTER.parse_response(200, {}, json.dumps(raw).encode(), "m").parsed
    assert json.loads(c.choices[0].message.content) == {"answer": "42"}
    assert not c.choices[0].message.tool_calls
    assert c.choices[0].finish_reason == "stop"


def test_bad_body_is_502() -> None:
    with pytest.raises(GatewayError) as info:
        ADAPTER.parse_response(200, {}, b"<html>", "m")
    assert info.value.status == 502


def test_text_stream() -> None:
    chunks = run_stream(sse_events("stream_text.sse"))
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert {c["id"] for c in chunks} == {"msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY"}
    assert {c["model"] for c in chunks} == {"claude-sonnet-4-6"}
    text = [c["choices"][0]["delta"].get("content") for c in chunks[1:-2]]
    assert text == ["Hello", "!"]
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {
        "prompt_tokens": 25,
        "completion_tokens": 15,
        "total_tokens": 40,
        "prompt_tokens_details": {"cached_tokens": 0},
    }


def test_no_usage_chunk_unless_asked() -> None:
    chunks = run_stream(sse_events("stream_text.sse"), include_usage=False)
    assert all("usage" not in c for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_tool_stream_indices_fragments_and_empty_input() -> None:
    chunks = run_stream(sse_events("stream_tool_use.sse"))
    asm = StreamAssembler()
    calls = []
    for raw in chunks:
        asm.add(chunk_decoder.decode(json.dumps(raw)))
        for ch in raw["choices"]:
            calls.extend(ch["delta"].get("tool_calls", []))
    # first delta of each call carries id, type and name, with index 0.. in block order
    starts = [c for c in calls if "id" in c]
    assert [(c["index"], c["function"]["name"]) for c in starts] == [
        (0, "get_weather"),
        (1, "get_time"),
    ]
    fragments = [c["function"]["arguments"] for c in calls if c["index"] == 0 and "id" not in c]
    assert fragments == ['{"location":', ' "San Francisco, CA"', ', "unit": "fahrenheit"}']
    result = asm.result()
    msg = result.choices[0].message
    assert msg.content == "Okay, let's check the weather for San Francisco, CA:"
    assert json.loads(msg.tool_calls[0].function.arguments)["unit"] == "fahrenheit"
    assert msg.tool_calls[1].function.arguments == "{}"
    assert result.choices[0].finish_reason == "tool_calls"
    assert result.usage.prompt_tokens == 472 + 128
    assert result.usage.prompt_tokens_details.cached_tokens == 128
    assert result.usage.completion_tokens == 89


def test_answer_tool_streams_as_content() -> None:
    events = [
        SSEEvent(
            b'{"type":"message_start","message":{"id":"msg_a","model":"claude-3-5-haiku",'
            b'"content":[],"usage":{"input_tokens":3,"output_tokens":1}}}',
            "message_start",
        ),
        SSEEvent(
            b'{"type":"content_block_start","index":0,"content_block":{"type":"tool_use",'
            b'"id":"toolu_1","name":"' + ANSWER_TOOL.encode() + b'","input":{}}}',
            "content_block_start",
        ),
        SSEEvent(
            b'{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta",'
            b'"partial_json":"{\\"a\\": 1}"}}',
            "content_block_delta",
        ),
        SSEEvent(b'{"type":"content_block_stop","index":0}', "content_block_stop"),
        SSEEvent(
            b'{"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":5}}',
            "message_delta",
        ),
        SSEEvent(b'{"type":"message_stop"}', "message_stop"),
    ]
    chunks = run_stream(events, include_usage=False)
    assert chunks[1]["choices"][0]["delta"] == {"content": '{"a": 1}'}
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert all("tool_calls" not in c["choices"][0]["delta"] for c in chunks)


def test_unknown_events_and_data_only_events_are_handled() -> None:
    events = sse_events("stream_text.sse")
    data_only = [SSEEvent(e.data) for e in events]  # no event: line, type read from data
    data_only.insert(2, SSEEvent(b'{"type":"some_future_event","x":1}', "some_future_event"))
    chunks = run_stream(data_only)
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]) == (
        "Hello!"
    )


def test_error_event_raises_with_status_from_its_type() -> None:
    tr = ADAPTER.stream_translator("m", False)
    events = sse_events("stream_error.sse")
    out = [c for ev in events[:-1] for c in tr.feed(ev)]
    assert json.loads(out[-1].raw)["choices"][0]["delta"] == {"content": "Par"}
    with pytest.raises(GatewayError) as info:
        tr.feed(events[-1])
    assert info.value.status == 529
    assert info.value.type == "api_error"
    assert info.value.code == "overloaded_error"
    assert "Overloaded" in info.value.message


def test_truncated_stream_raises() -> None:
    tr = ADAPTER.stream_translator("m", False)
    for ev in sse_events("stream_text.sse")[:4]:
        tr.feed(ev)
    with pytest.raises(GatewayError) as info:
        tr.finish()
    assert info.value.status == 502


@pytest.mark.parametrize(
    ("name", "status", "etype", "code"),
    [
        ("error_overloaded.json", 529, "api_error", "overloaded_error"),
        ("error_rate_limit.json", 429, "rate_limit_error", "rate_limit_error"),
        ("error_invalid_request.json", 400, "invalid_request_error", "invalid_request_error"),
    ],
)
def test_errors(name, status, etype, code) -> None:
    headers = {
        "retry-after": "12",
        "anthropic-ratelimit-requests-remaining": "0",
        "request-id": "req_1",
    }
    err = ADAPTER.parse_error(status, headers, fixture(name))
    body = json.loads(err.to_json())["error"]
    assert err.status == status
    assert body["type"] == etype
    assert body["code"] == code
    assert body["message"].startswith("anthropic error: ")
    assert err.headers == {"retry-after": "12", "anthropic-ratelimit-requests-remaining": "0"}


def test_error_without_json_body() -> None:
    err = ADAPTER.parse_error(502, {}, b"<html>Bad Gateway</html>")
    assert err.status == 502
    assert err.type == "api_error"
    assert "Bad Gateway" in err.message
