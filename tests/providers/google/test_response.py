"""Unit tests of the answer, stream and error translation, from recorded native fixtures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from proxy.convert import StreamAssembler
from proxy.errors import GatewayError, UpstreamError, UpstreamInvalid
from proxy.providers import reasoning
from proxy.providers.google import GeminiAdapter, VertexAdapter
from proxy.schema import (
    ChatCompletion,
    Choice,
    CompletionTokensDetails,
    PromptTokensDetails,
    ResponseMessage,
    Usage,
)
from proxy.sse import SSEDecoder

FIXTURES = Path(__file__).parent / "fixtures"
ADAPTER = GeminiAdapter()


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def parsed(name: str) -> ChatCompletion:
    return ADAPTER.parse_response(200, {}, fixture(name), "gemini-x").parsed


def test_text_answer_usage_and_ids() -> None:
    out = parsed("text.json")
    assert out.id == "chatcmpl-mpLKZ8yAN6Hbz7IPv8HQ2Aw"
    assert out.model == "gemini-2.5-flash"
    assert out.object == "chat.completion"
    assert out.choices == [
        Choice(0, ResponseMessage(content="Paris is the capital of France."), "stop")
    ]
    assert out.usage == Usage(
        prompt_tokens=12,
        completion_tokens=32,
        total_tokens=44,
        prompt_tokens_details=PromptTokensDetails(cached_tokens=4),
        completion_tokens_details=CompletionTokensDetails(reasoning_tokens=25),
    )


def test_thoughts_are_not_content_and_max_tokens_is_length() -> None:
    out = parsed("thoughts.json")
    assert out.choices[0].message.content == "42"
    assert out.choices[0].finish_reason == "length"


def test_function_calls_finish_as_tool_calls() -> None:
    choice = parsed("function_calls.json").choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    calls = choice.message.tool_calls
    assert isinstance(calls, list)
    assert [(c.type, c.function.name, json.loads(c.function.arguments)) for c in calls] == [
        ("function", "get_weather", {"city": "Paris"}),
        ("function", "get_weather", {"city": "Tokyo", "unit": "celsius"}),
    ]
    assert calls[0].id.startswith("call_") and calls[0].id != calls[1].id
    # the thought signature rides in reasoning_opaque, tied to the call it came with
    assert "~" not in calls[0].id
    blocks = reasoning.decode(choice.message.reasoning_opaque, "google", "x")
    assert [(b.kind, b.sig, b.at) for b in blocks] == [("signature", "CiQBVKhc7sig==", 0)]


def test_candidates_become_choices() -> None:
    out = parsed("candidates.json")
    assert [(c.index, c.message.content, c.finish_reason) for c in out.choices] == [
        (0, "Hello!", "stop"),
        (1, "Hi there", "length"),
    ]


def test_blocked_prompt_and_safety_finish_are_content_filter() -> None:
    out = parsed("blocked_prompt.json")
    assert out.choices == [Choice(0, ResponseMessage(content=""), "content_filter")]
    out = parsed("safety_finish.json")
    assert out.choices == [Choice(0, ResponseMessage(content=""), "content_filter")]


def test_garbage_body_is_a_502() -> None:
    with pytest.raises(UpstreamInvalid) as exc:
        ADAPTER.parse_response(200, {}, b"<html>", "m")
    assert exc.value.status == 502


def run_stream(name: str, include_usage: bool, split: int = 7) -> list[dict[str, Any]]:
    raw = fixture(name)
    decoder = SSEDecoder()
    tr = ADAPTER.stream_translator("gemini-x", include_usage)
    chunks = []
    for i in range(0, len(raw), split):  # arbitrary network splits
        for ev in decoder.feed(raw[i : i + split]):
            chunks.extend(tr.feed(ev))
    for ev in decoder.flush():
        chunks.extend(tr.feed(ev))
    chunks.extend(tr.finish())
    return [msgspec.to_builtins(c.parsed, builtin_types=None) for c in chunks]


def test_text_stream() -> None:
    out = run_stream("stream_text.sse", include_usage=True)
    assert out[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    texts = [c["choices"][0]["delta"].get("content") for c in out[1:4]]
    assert texts == ["The", " quick brown", " fox."]
    assert out[4]["choices"][0]["delta"] == {}
    assert out[4]["choices"][0]["finish_reason"] == "stop"
    assert out[5]["choices"] == []
    assert out[5]["usage"]["completion_tokens"] == 10
    assert out[5]["usage"]["completion_tokens_details"] == {"reasoning_tokens": 6}
    assert len({c["id"] for c in out}) == 1
    assert len(run_stream("stream_text.sse", include_usage=False)) == 5


def test_tool_stream_has_stable_indices_and_finishes_as_tool_calls() -> None:
    from proxy.schema import chunk_decoder

    out = run_stream("stream_tools.sse", include_usage=False, split=11)
    asm = StreamAssembler()
    for c in out:
        asm.add(chunk_decoder.decode(json.dumps(c)))
    result = asm.result()
    msg = result.choices[0].message
    assert msg.content == "Checking both."
    assert msg.tool_calls
    assert [(t.function.name, json.loads(t.function.arguments)) for t in msg.tool_calls] == [
        ("get_weather", {"city": "Paris"}),
        ("get_time", {"tz": "Asia/Tokyo"}),
    ]
    assert result.choices[0].finish_reason == "tool_calls"
    indices = [
        d["index"] for c in out for ch in c["choices"] for d in ch["delta"].get("tool_calls", [])
    ]
    assert indices == [0, 0, 1, 1]


def test_stream_without_finish_reason_is_an_error() -> None:
    raw = fixture("stream_text.sse").split(b"\n\n")[0] + b"\n\n"
    tr = ADAPTER.stream_translator("m", False)
    for ev in SSEDecoder().feed(raw):
        tr.feed(ev)
    with pytest.raises(UpstreamError) as exc:
        tr.finish()
    assert exc.value.status == 502


def test_error_event_in_stream() -> None:
    tr = ADAPTER.stream_translator("m", False)
    (ev,) = SSEDecoder().feed(
        b'data: {"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}}\n\n'
    )
    with pytest.raises(GatewayError) as exc:
        tr.feed(ev)
    assert exc.value.status == 503
    assert exc.value.code == "UNAVAILABLE"


def test_429_with_retry_info() -> None:
    err = ADAPTER.parse_error(429, {}, fixture("error_429.json"))
    assert err.status == 429
    assert err.type == "rate_limit_error"
    assert err.code == "RESOURCE_EXHAUSTED"
    assert err.headers["retry-after"] == "33"
    assert "exceeded your current quota" in err.message
    # a retry-after header from Google wins over the body
    err = ADAPTER.parse_error(429, {"retry-after": "5"}, fixture("error_429.json"))
    assert err.headers["retry-after"] == "5"


def test_400_and_vertex_list_errors() -> None:
    err = ADAPTER.parse_error(400, {}, fixture("error_400.json"))
    assert (err.status, err.type, err.code) == (400, "invalid_request_error", "INVALID_ARGUMENT")
    assert err.message.startswith("google error: * GenerateContentRequest.contents")
    err = VertexAdapter().parse_error(429, {}, fixture("vertex_error_list.json"))
    assert (err.status, err.code) == (429, "RESOURCE_EXHAUSTED")
    assert err.message.startswith("vertex-ai error: Resource exhausted")
    err = ADAPTER.parse_error(502, {}, b"<html>Bad Gateway</html>")
    assert (err.status, err.type) == (502, "api_error")
    assert "Bad Gateway" in err.message
