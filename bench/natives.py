"""Pre-rendered native answers of each provider, for the benchmark's mock upstream.

The same text as the OpenAI answer (bench/mock_upstream.py: 18 text pieces per stream), in
each provider's wire format as its API reference documents it and as the project's test
mocks produce it (those are proven with the providers' SDKs):

- Anthropic Messages (tests/providers/anthropic/mock.py): a ``message``, or the event
  sequence ``message_start``, ``ping``, ``content_block_start``, 18 ``content_block_delta``,
  ``content_block_stop``, ``message_delta``, ``message_stop`` (24 events);
- Gemini generateContent (tests/providers/google/mock.py): a ``GenerateContentResponse``, or
  one per SSE event (``streamGenerateContent?alt=sse``), CRLF-separated (18 events);
- Bedrock Converse (tests/providers/bedrock/mock.py, frames.py): a Converse answer, or
  ConverseStream's binary AWS eventstream frames with their CRCs: ``messageStart``, 18
  ``contentBlockDelta``, ``contentBlockStop``, ``messageStop``, ``metadata`` (22 frames);
- OpenAI Responses (tests/mock_openai_responses.py): a ``response``, or its typed events
  ``response.created`` ... 18 ``response.output_text.delta`` ... ``response.completed``
  (26 events).

``answer(path)`` picks one by the request path, as the mock upstream's dispatch does.
"""

from __future__ import annotations

import json
import struct
import zlib
from typing import Any

TEXT = (
    "Hello! This is the mock upstream speaking (mock-ok). Gateways under benchmark should "
    "pass this sentence through unchanged, token for token, without any edits."
)
WORDS = TEXT.split(" ")
PIECES = [
    (" " if i else "") + " ".join(WORDS[i * len(WORDS) // 18 : (i + 1) * len(WORDS) // 18])
    for i in range(18)
]
SYSTEM = "You are a concise assistant."
USER = "Summarise what an AI gateway does."


def _j(o: object) -> bytes:
    return json.dumps(o, separators=(",", ":")).encode()


def http(body: bytes, ctype: bytes) -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: "
        + ctype
        + b"\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\nConnection: keep-alive\r\n\r\n"
        + body
    )


# ---------------------------------------------------------------- Anthropic


def anthropic_message() -> dict[str, Any]:
    return {
        "id": "msg_bench_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": [{"type": "text", "text": TEXT}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 31,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": 27,
        },
    }


def anthropic_stream() -> bytes:
    msg = anthropic_message()
    start = {**msg, "content": [], "stop_reason": None, "usage": {**msg["usage"]}}
    start["usage"]["output_tokens"] = 1
    events: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"type": "message_start", "message": start}),
        ("ping", {"type": "ping"}),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ),
    ]
    events += [
        (
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}},
        )
        for p in PIECES
    ]
    events.append(("content_block_stop", {"type": "content_block_stop", "index": 0}))
    delta = {"stop_reason": "end_turn", "stop_sequence": None}
    events.append(
        ("message_delta", {"type": "message_delta", "delta": delta, "usage": msg["usage"]})
    )
    events.append(("message_stop", {"type": "message_stop"}))
    return b"".join(b"event: " + n.encode() + b"\ndata: " + _j(d) + b"\n\n" for n, d in events)


# ---------------------------------------------------------------- Gemini


def _gemini_usage(completion: int) -> dict[str, int]:
    return {
        "promptTokenCount": 31,
        "candidatesTokenCount": completion,
        "totalTokenCount": 31 + completion,
    }


def gemini_response() -> dict[str, Any]:
    return {
        "candidates": [
            {
                "content": {"parts": [{"text": TEXT}], "role": "model"},
                "finishReason": "STOP",
                "index": 0,
            }
        ],
        "usageMetadata": _gemini_usage(27),
        "modelVersion": "gemini-2.0-flash",
        "responseId": "bench-response-1",
    }


def gemini_stream() -> bytes:
    events = []
    for i, p in enumerate(PIECES):
        cand: dict[str, Any] = {"content": {"parts": [{"text": p}], "role": "model"}}
        last = i == len(PIECES) - 1
        if last:
            cand["finishReason"] = "STOP"
        events.append(
            {
                "candidates": [cand],
                "usageMetadata": _gemini_usage(27 if last else 0),
                "modelVersion": "gemini-2.0-flash",
            }
        )
    return b"".join(b"data: " + _j(e) + b"\r\n\r\n" for e in events)


# ---------------------------------------------------------------- Bedrock

_BEDROCK_USAGE = {"inputTokens": 31, "outputTokens": 27, "totalTokens": 58}


def converse_answer() -> dict[str, Any]:
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": TEXT}]}},
        "stopReason": "end_turn",
        "usage": _BEDROCK_USAGE,
        "metrics": {"latencyMs": 12},
    }


def eventstream_frame(event_type: str, payload: dict[str, Any]) -> bytes:
    """One AWS eventstream message: prelude (total length, headers length, CRC32), string
    headers, JSON payload, message CRC32 (as tests/providers/bedrock/frames.py encodes)."""
    hdr = b""
    for name, value in (
        (":event-type", event_type),
        (":content-type", "application/json"),
        (":message-type", "event"),
    ):
        n, v = name.encode(), value.encode()
        hdr += struct.pack("!B", len(n)) + n + b"\x07" + struct.pack("!H", len(v)) + v
    data = _j(payload)
    prelude = struct.pack("!II", 12 + len(hdr) + len(data) + 4, len(hdr))
    prelude += struct.pack("!I", zlib.crc32(prelude) & 0xFFFFFFFF)
    body = prelude + hdr + data
    return body + struct.pack("!I", zlib.crc32(body) & 0xFFFFFFFF)


def converse_stream() -> bytes:
    frames = [eventstream_frame("messageStart", {"p": "abcdef", "role": "assistant"})]
    frames += [
        eventstream_frame(
            "contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": p}, "p": "abcd"}
        )
        for p in PIECES
    ]
    frames.append(eventstream_frame("contentBlockStop", {"contentBlockIndex": 0, "p": "a"}))
    frames.append(eventstream_frame("messageStop", {"stopReason": "end_turn", "p": "abcdefgh"}))
    frames.append(
        eventstream_frame("metadata", {"usage": _BEDROCK_USAGE, "metrics": {"latencyMs": 9}})
    )
    return b"".join(frames)


# ---------------------------------------------------------------- OpenAI Responses


def response_object(status: str = "completed") -> dict[str, Any]:
    done = status == "completed"
    message = {
        "type": "message",
        "id": "msg_bench_01",
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "text": TEXT, "annotations": [], "logprobs": []}],
    }
    usage = {
        "input_tokens": 31,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 27,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 58,
    }
    return {
        "id": "resp_bench_01",
        "object": "response",
        "created_at": 1732000000,
        "status": status,
        "error": None,
        "incomplete_details": None,
        "instructions": SYSTEM,
        "model": "gpt-4o-mini-2024-07-18",
        "output": [message] if done else [],
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "store": False,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": usage if done else None,
        "metadata": {},
    }


def responses_stream() -> bytes:
    events: list[dict[str, Any]] = []

    def add(kind: str, **fields: Any) -> None:
        events.append({"type": kind, "sequence_number": len(events), **fields})

    final = response_object()
    item = final["output"][0]
    part = item["content"][0]
    at = {"output_index": 0, "item_id": item["id"], "content_index": 0}
    add("response.created", response=response_object("in_progress"))
    add("response.in_progress", response=response_object("in_progress"))
    add("response.output_item.added", output_index=0, item={**item, "content": []})
    add("response.content_part.added", **at, part={**part, "text": ""})
    for p in PIECES:
        add("response.output_text.delta", **at, delta=p, logprobs=[])
    add("response.output_text.done", **at, text=TEXT, logprobs=[])
    add("response.content_part.done", **at, part=part)
    add("response.output_item.done", output_index=0, item=item)
    add("response.completed", response=final)
    return b"".join(b"event: " + e["type"].encode() + b"\ndata: " + _j(e) + b"\n\n" for e in events)


# ---------------------------------------------------------------- dispatch

_JSON, _SSE, _AWS = b"application/json", b"text/event-stream", b"application/vnd.amazon.eventstream"
ANSWERS: dict[str, bytes] = {
    "anthropic": http(_j(anthropic_message()), _JSON),
    "anthropic-stream": http(anthropic_stream(), _SSE),
    "gemini": http(_j(gemini_response()), _JSON),
    "gemini-stream": http(gemini_stream(), _SSE),
    "bedrock": http(_j(converse_answer()), _JSON),
    "bedrock-stream": http(converse_stream(), _AWS),
    "responses": http(_j(response_object()), _JSON),
    "responses-stream": http(responses_stream(), _SSE),
}


def answer(path: bytes) -> bytes | None:
    """The native answer for a request path, or None (then: OpenAI chat).

    Streams are chosen as the providers choose them: Gemini and Bedrock by the path's
    method; Anthropic and Responses by the body's ``stream``, which the mock does not parse:
    a ``/stream/`` path prefix (the custom host) says it instead, as for OpenAI chat.
    """
    if b":streamGenerateContent" in path:
        return ANSWERS["gemini-stream"]
    if b":generateContent" in path:
        return ANSWERS["gemini"]
    if path.endswith(b"/converse-stream"):
        return ANSWERS["bedrock-stream"]
    if path.endswith(b"/converse"):
        return ANSWERS["bedrock"]
    stream = path.startswith(b"/stream/")
    if path.endswith(b"/messages"):
        return ANSWERS["anthropic-stream" if stream else "anthropic"]
    if path.endswith(b"/responses"):
        return ANSWERS["responses-stream" if stream else "responses"]
    return None
