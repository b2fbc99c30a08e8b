"""Converse responses, ConverseStream events and Bedrock errors -> OpenAI shapes."""

from __future__ import annotations

import json

import msgspec
import pytest

from proxy.errors import GatewayError
from proxy.providers.bedrock.eventstream import Frame
from tests.providers.bedrock import frames
from tests.providers.bedrock.helpers import ADAPTER, MODEL, fixture, stream_bytes, translate

HEADERS = {"x-amzn-RequestId": "7c5f5a8e-1111-4000-8000-000000000000"}


def parse(name: str) -> dict:
    c = ADAPTER.parse_response(200, HEADERS, fixture(name), MODEL)
    return msgspec.json.decode(c.raw)


def test_text() -> None:
    c = parse("converse_text.json")
    assert c["id"] == "chatcmpl-7c5f5a8e-1111-4000-8000-000000000000"
    assert c["model"] == MODEL and isinstance(c["created"], int)
    (choice,) = c["choices"]
    assert choice["message"]["content"] == "Hello! How can I help you today?"
    assert choice["finish_reason"] == "stop"
    assert c["usage"] == {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21}


def test_tool_use() -> None:
    msg = parse("converse_tool_use.json")["choices"][0]
    assert msg["finish_reason"] == "tool_calls"
    assert msg["message"]["content"] == "I'll check the weather in both cities."
    calls = msg["message"]["tool_calls"]
    assert [c["id"] for c in calls] == [
        "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q",
        "tooluse_2Hq7Yb0WRGm8nZ0a1yZ6Ww",
    ]
    assert all(c["function"]["name"] == "get_weather" for c in calls)
    assert json.loads(calls[1]["function"]["arguments"]) == {"city": "Tokyo", "unit": "celsius"}


def test_cached_tokens_and_max_tokens() -> None:
    c = parse("converse_cached_max_tokens.json")
    assert c["choices"][0]["finish_reason"] == "length"
    assert c["usage"]["prompt_tokens"] == 20 + 2048  # OpenAI counts cached tokens in the prompt
    assert c["usage"]["prompt_tokens_details"] == {"cached_tokens": 2048}
    assert c["usage"]["total_tokens"] == 2072


def test_guardrail_is_content_filter() -> None:
    assert parse("converse_guardrail.json")["choices"][0]["finish_reason"] == "content_filter"


def test_forced_json_tool_becomes_content() -> None:
    choice = parse("converse_json_tool.json")["choices"][0]
    assert json.loads(choice["message"]["content"]) == {"city": "Paris", "temperature_c": 21}
    assert "tool_calls" not in choice["message"]
    assert choice["finish_reason"] == "stop"


def test_not_a_converse_body_is_502() -> None:
    with pytest.raises(GatewayError) as err:
        ADAPTER.parse_response(200, {}, b"<html>", MODEL)
    assert err.value.status == 502


# ---------------------------------------------------------------- streams


def test_stream_text_with_usage() -> None:
    chunks = translate(stream_bytes("stream_text.json"))
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == "Hello! How can I help you today?"
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21}
    assert len({c["id"] for c in chunks}) == 1


def test_stream_without_include_usage_has_no_usage_chunk() -> None:
    chunks = translate(stream_bytes("stream_text.json"), include_usage=False)
    assert all("usage" not in c for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_stream_tool_calls_have_stable_indices() -> None:
    chunks = translate(stream_bytes("stream_tool_use.json"))
    calls: dict[int, dict] = {}
    for c in chunks:
        for choice in c["choices"]:
            for tc in choice["delta"].get("tool_calls", []):
                slot = calls.setdefault(tc["index"], {"id": None, "name": "", "args": ""})
                slot["id"] = tc.get("id", slot["id"])
                slot["name"] += tc.get("function", {}).get("name", "")
                slot["args"] += tc.get("function", {}).get("arguments", "")
    # Bedrock's block indices are 1 and 2; OpenAI's tool indices start at 0
    assert sorted(calls) == [0, 1]
    assert calls[0]["id"] == "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q"
    assert json.loads(calls[0]["args"]) == {"city": "Paris"}
    assert json.loads(calls[1]["args"]) == {"city": "Tokyo"}
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks[-1]["usage"]["prompt_tokens_details"] == {"cached_tokens": 100}
    assert chunks[-1]["usage"]["prompt_tokens"] == 480


def test_stream_forced_json_tool_streams_content() -> None:
    data = frames.events(
        [
            ["messageStart", {"role": "assistant"}],
            [
                "contentBlockStart",
                {
                    "contentBlockIndex": 0,
                    "start": {"toolUse": {"toolUseId": "t", "name": "_json_response"}},
                },
            ],
            [
                "contentBlockDelta",
                {"contentBlockIndex": 0, "delta": {"toolUse": {"input": '{"a"'}}},
            ],
            [
                "contentBlockDelta",
                {"contentBlockIndex": 0, "delta": {"toolUse": {"input": ": 1}"}}},
            ],
            ["contentBlockStop", {"contentBlockIndex": 0}],
            ["messageStop", {"stopReason": "tool_use"}],
        ]
    )
    chunks = translate(data)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert json.loads(text) == {"a": 1}
    assert all("tool_calls" not in c["choices"][0]["delta"] for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


@pytest.mark.parametrize(
    ("exception", "status"),
    [
        ("throttlingException", 429),
        ("validationException", 400),
        ("modelStreamErrorException", 424),
        ("internalServerException", 500),
        ("serviceUnavailableException", 503),
    ],
)
def test_stream_exception_frames(exception: str, status: int) -> None:
    data = frames.events([["messageStart", {"role": "assistant"}]])
    data += frames.exception(exception, "it broke")
    with pytest.raises(GatewayError) as err:
        translate(data)
    assert err.value.status == status
    assert err.value.code == exception
    assert "it broke" in err.value.message


def test_eventstream_error_message_type() -> None:
    tr = ADAPTER.stream_translator(MODEL, False)
    frame = Frame(
        {":message-type": "error", ":error-code": "InternalFailure", ":error-message": "boom"}, b""
    )
    with pytest.raises(GatewayError) as err:
        tr.feed(frame)
    assert err.value.status == 502 and "boom" in err.value.message


def test_stream_without_message_stop_is_an_error() -> None:
    data = frames.events(
        [
            ["messageStart", {"role": "assistant"}],
            ["contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "a"}}],
        ]
    )
    with pytest.raises(GatewayError) as err:
        translate(data)
    assert err.value.status == 502


def test_unknown_events_and_reasoning_are_skipped() -> None:
    data = frames.events(
        [
            ["messageStart", {"role": "assistant"}],
            [
                "contentBlockDelta",
                {"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": "thinking"}}},
            ],
            ["someFutureEvent", {"x": 1}],
            ["contentBlockDelta", {"contentBlockIndex": 1, "delta": {"text": "ok"}}],
            ["messageStop", {"stopReason": "end_turn"}],
        ]
    )
    chunks = translate(data, include_usage=False)
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks) == "ok"


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("status", "etype", "name", "otype"),
    [
        (400, "ValidationException", "error_validation.json", "invalid_request_error"),
        (403, "AccessDeniedException", "error_access_denied.json", "permission_error"),
        (429, "ThrottlingException", "error_throttling.json", "rate_limit_error"),
        (503, "ServiceUnavailableException", "error_throttling.json", "api_error"),
    ],
)
def test_http_errors(status: int, etype: str, name: str, otype: str) -> None:
    headers = {"x-amzn-ErrorType": f"{etype}:http://internal.amazon.com/coral/com.amazon.bedrock/"}
    err = ADAPTER.parse_error(status, headers, fixture(name))
    assert err.status == status
    assert err.type == otype
    assert err.code == etype
    native = json.loads(fixture(name))
    assert (native.get("message") or native["Message"]) in err.message
    body = json.loads(err.to_json())["error"]
    assert set(body) == {"message", "type", "param", "code"}


def test_error_without_json_body() -> None:
    err = ADAPTER.parse_error(500, {}, b"<html>oops</html>")
    assert err.status == 500 and "oops" in err.message and err.code is None
