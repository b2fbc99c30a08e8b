"""Cohere answers, streams and errors -> OpenAI shapes, from recorded native fixtures.

The JSON and SSE fixtures are the Chat API v2 reference's own examples (text, tool calls
with thinking, citations); the thinking and generation-error streams follow their shape.
"""

from __future__ import annotations

import json

import pytest

from proxy.errors import GatewayError, UpstreamError, UpstreamInvalid
from proxy.sse import SSEEvent
from tests.providers.cohere.helpers import ADAPTER, fixture, sse_events


def completion(raw: bytes) -> dict:
    return json.loads(ADAPTER.parse_response(200, {}, raw, "command-a").raw)


def run(raw: bytes, include_usage: bool = True) -> list[dict]:
    """Every chunk a stream becomes, as the client reads it."""
    translator = ADAPTER.stream_translator("command-a", include_usage)
    out = [c for ev in sse_events(raw) for c in translator.feed(ev)]
    out += translator.finish()
    return [json.loads(c.raw) for c in out]


def joined(chunks: list[dict], field: str) -> str:
    return "".join(ch["delta"].get(field) or "" for c in chunks for ch in c["choices"])


# ---------------------------------------------------------------- answers


def test_text_answer() -> None:
    r = completion(fixture("chat_text.json"))
    native = json.loads(fixture("chat_text.json"))
    assert r["id"] == native["id"]
    assert r["object"] == "chat.completion" and r["model"] == "command-a"
    choice = r["choices"][0]
    assert choice["message"] == {
        "role": "assistant",
        "content": native["message"]["content"][0]["text"],
    }
    assert choice["finish_reason"] == "stop"
    tokens = native["usage"]["tokens"]
    assert r["usage"]["prompt_tokens"] == tokens["input_tokens"]
    assert r["usage"]["completion_tokens"] == tokens["output_tokens"]
    assert r["usage"]["total_tokens"] == tokens["input_tokens"] + tokens["output_tokens"]


def test_tool_calls_with_thinking() -> None:
    r = completion(fixture("chat_tool_calls.json"))
    msg = r["choices"][0]["message"]
    assert r["choices"][0]["finish_reason"] == "tool_calls"
    assert msg["content"] is None
    assert msg["reasoning_content"].startswith("I will first find the sales summary")
    assert [(c["id"], c["type"], c["function"]["name"]) for c in msg["tool_calls"]] == [
        ("query_daily_sales_report_hgxxmkby3wta", "function", "query_daily_sales_report"),
        ("query_product_catalog_rpg0z5h8yyz2", "function", "query_product_catalog"),
    ]
    assert json.loads(msg["tool_calls"][1]["function"]["arguments"]) == {"category": "Electronics"}
    assert r["usage"]["prompt_tokens"] == 1032


def test_tool_plan_is_content_and_empty_arguments_an_object() -> None:
    raw = {
        "id": "x",
        "finish_reason": "TOOL_CALL",
        "message": {
            "role": "assistant",
            "tool_plan": "I will check the time.",
            "tool_calls": [{"id": "t1", "type": "function", "function": {"name": "now"}}],
        },
    }
    msg = completion(json.dumps(raw).encode())["choices"][0]["message"]
    assert msg["content"] == "I will check the time."
    assert msg["tool_calls"][0]["function"] == {"name": "now", "arguments": "{}"}


def test_citations_are_left_out() -> None:
    r = completion(fixture("chat_citations.json"))
    assert r["choices"][0]["message"]["content"].startswith("Both NSync and Backstreet Boys")
    assert "citations" not in r["choices"][0]["message"]


@pytest.mark.parametrize(
    ("native", "openai"),
    [
        ("COMPLETE", "stop"),
        ("STOP_SEQUENCE", "stop"),
        ("MAX_TOKENS", "length"),
        ("TOOL_CALL", "tool_calls"),
        ("TIMEOUT", "length"),
        ("SOMETHING_NEW", "stop"),
    ],
)
def test_finish_reasons(native: str, openai: str) -> None:
    raw = {
        "id": "x",
        "finish_reason": native,
        "message": {"content": [{"type": "text", "text": "a"}]},
    }
    assert completion(json.dumps(raw).encode())["choices"][0]["finish_reason"] == openai


def test_finish_reason_error_is_a_502() -> None:
    raw = {"id": "x", "finish_reason": "ERROR", "message": {"content": []}}
    with pytest.raises(UpstreamError) as info:
        completion(json.dumps(raw).encode())
    assert info.value.status == 502 and info.value.code == "upstream_generation_failed"


def test_usage_falls_back_to_billed_units_and_counts_cached_tokens() -> None:
    raw = {
        "id": "x",
        "finish_reason": "COMPLETE",
        "message": {"content": [{"type": "text", "text": "a"}, {"type": "new_kind"}]},
        "usage": {"billed_units": {"input_tokens": 5.0, "output_tokens": 2}, "cached_tokens": 3},
    }
    r = completion(json.dumps(raw).encode())
    assert r["usage"] == {
        "prompt_tokens": 5,
        "completion_tokens": 2,
        "total_tokens": 7,
        "prompt_tokens_details": {"cached_tokens": 3},
    }
    assert r["choices"][0]["message"]["content"] == "a"  # an unknown block kind is skipped


@pytest.mark.parametrize(
    "raw",
    [
        b'{"choices": []}',  # OpenAI's shape, not Cohere's
        b'{"id": "x", "message": {"content": []}}',  # no finish_reason
        b'{"id": "x", "finish_reason": "COMPLETE", "message": {"tool_calls": [{"id": "t"}]}}',
        b'{"id": "x", "finish_reason": "COMPLETE", "message": {"content": "text"}}',
        b"[]",
        b"<html>",
    ],
)
def test_a_body_that_is_not_an_answer_is_a_502(raw: bytes) -> None:
    with pytest.raises(UpstreamInvalid) as info:
        completion(raw)
    assert info.value.status == 502 and info.value.code == "upstream_invalid_response"


# ---------------------------------------------------------------- streams


def test_stream_text_matches_the_answer() -> None:
    chunks = run(fixture("stream_text.sse"))
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert {c["id"] for c in chunks} == {"29f14a5a-11de-4cae-9800-25e4747408ea"}
    assert joined(chunks, "content").startswith("LLMs")
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["prompt_tokens"] == 71
    assert chunks[-1]["usage"]["completion_tokens"] == 26


def test_stream_without_include_usage() -> None:
    chunks = run(fixture("stream_text.sse"), include_usage=False)
    assert all("usage" not in c for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_stream_tool_plan_and_calls() -> None:
    chunks = run(fixture("stream_tool_calls.sse"))
    roles = [ch["delta"]["role"] for c in chunks for ch in c["choices"] if "role" in ch["delta"]]
    assert roles == ["assistant"]
    assert joined(chunks, "content").startswith("I will")
    calls: dict[int, dict] = {}
    for c in chunks:
        for ch in c["choices"]:
            for tc in ch["delta"].get("tool_calls", []):
                slot = calls.setdefault(tc["index"], {"id": None, "name": "", "arguments": ""})
                slot["id"] = tc.get("id") or slot["id"]
                slot["name"] += tc.get("function", {}).get("name", "")
                slot["arguments"] += tc.get("function", {}).get("arguments", "")
    assert [(i, c["name"]) for i, c in sorted(calls.items())] == [
        (0, "query_daily_sales_report"),
        (1, "query_product_catalog"),
    ]
    assert calls[0]["id"] == "query_daily_sales_report_j3f0adww9pmr"
    assert json.loads(calls[1]["arguments"]) == {"category": "Electronics"}
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "tool_calls"


def test_stream_thinking_is_reasoning_content_and_done_is_skipped() -> None:
    chunks = run(fixture("stream_thinking.sse"))
    assert joined(chunks, "reasoning_content") == "The user greets me."
    assert joined(chunks, "content") == "Hello!"
    assert chunks[-1]["usage"]["prompt_tokens_details"] == {"cached_tokens": 448}


def test_stream_citations_are_skipped() -> None:
    chunks = run(fixture("stream_citations.sse"))
    assert joined(chunks, "content").startswith("Both Nsync")


def test_stream_generation_error_comes_after_the_text_so_far() -> None:
    translator = ADAPTER.stream_translator("command-a", True)
    got: list[str] = []
    with pytest.raises(UpstreamError) as info:
        for ev in sse_events(fixture("stream_generation_error.sse")):
            got += [
                json.loads(c.raw)["choices"][0]["delta"].get("content", "")
                for c in translator.feed(ev)
            ]
    assert "".join(got) == "Partial"
    assert info.value.status == 502
    assert "internal server error" in info.value.message


def test_truncated_stream_is_a_502() -> None:
    raw = fixture("stream_text.sse")
    cut = raw[: raw.index(b"event: message-end")]
    with pytest.raises(UpstreamError) as info:
        run(cut)
    assert info.value.status == 502 and info.value.code == "upstream_stream_truncated"
    with pytest.raises(UpstreamError):  # [DONE] is not an end marker: message-end is
        run(cut + b"data: [DONE]\n\n")


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"{not json", "upstream_invalid_response"),
        (b'{"type": "content-delta", "index": "zero"}', "upstream_invalid_response"),
        (b'{"no": "type"}', "upstream_invalid_response"),
        (b'{"type": "tool-call-delta", "index": 3}', "upstream_invalid_response"),
        (
            b'{"type": "tool-call-start", "index": 0, "delta": {"message": {}}}',
            "upstream_invalid_response",
        ),
        (b'{"message": "internal error"}', "upstream_error"),
    ],
)
def test_malformed_events_are_502(data: bytes, code: str) -> None:
    translator = ADAPTER.stream_translator("m", False)
    with pytest.raises(GatewayError) as info:
        translator.feed(SSEEvent(data))
    assert info.value.status == 502 and info.value.code == code


def test_unknown_event_types_are_skipped() -> None:
    translator = ADAPTER.stream_translator("m", False)
    assert translator.feed(SSEEvent(b'{"type": "debug", "prompt": "x"}')) == []
    assert translator.feed(SSEEvent(b'{"type": "something-new"}')) == []


def test_repeated_tool_call_start_is_a_502() -> None:
    call = {"id": "a", "type": "function", "function": {"name": "f", "arguments": ""}}
    event = {"type": "tool-call-start", "index": 0, "delta": {"message": {"tool_calls": call}}}
    start = json.dumps(event).encode()
    translator = ADAPTER.stream_translator("m", False)
    assert len(translator.feed(SSEEvent(start))) == 2  # role, then the call
    with pytest.raises(UpstreamInvalid):
        translator.feed(SSEEvent(start))


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("status", "name", "etype"),
    [
        (400, "error_invalid_request.json", "invalid_request_error"),
        (429, "error_rate_limit.json", "rate_limit_error"),
    ],
)
def test_error_bodies(status: int, name: str, etype: str) -> None:
    err = ADAPTER.parse_error(
        status, {"retry-after": "12", "x-ratelimit-remaining": "0"}, fixture(name)
    )
    native = json.loads(fixture(name))
    assert err.status == status
    assert err.body().error.type == etype
    assert err.message == f"cohere error: {native['message']}"
    assert err.headers == {"retry-after": "12", "x-ratelimit-remaining": "0"}


@pytest.mark.parametrize(
    ("status", "etype"),
    [
        (401, "authentication_error"),
        (402, "invalid_request_error"),
        (498, "authentication_error"),
        (503, "api_error"),
    ],
)
def test_error_types_by_status(status: int, etype: str) -> None:
    err = ADAPTER.parse_error(status, {}, b'{"message": "x"}')
    assert (err.status, err.type) == (status, etype)


def test_error_body_that_is_not_json() -> None:
    err = ADAPTER.parse_error(502, {}, b"<html>bad gateway</html>")
    assert err.status == 502 and err.message == "cohere error: <html>bad gateway</html>"
    assert ADAPTER.parse_error(500, {}, b"").message == "cohere error: upstream returned HTTP 500"
