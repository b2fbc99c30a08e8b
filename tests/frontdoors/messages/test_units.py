"""Units of /v1/messages: the chat codec, the stream encoder, the native stream reader.

The end-to-end files prove these against the SDKs; here each rule is pinned on its own,
with the cases a provider rarely produces (interleaved calls, calls without ids, refusals,
a stream that ends at once) and the shapes an upstream must not slip through.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict, CIMultiDictProxy

from proxy.body import Untranslatable
from proxy.errors import GatewayError, InvalidRequest, UpstreamError, UpstreamInvalid
from proxy.frontdoors.messages.encode import error_type, message_of
from proxy.frontdoors.messages.head import decode_messages
from proxy.frontdoors.messages.stream import MessagesEncoder
from proxy.frontdoors.messages.to_chat import check, to_chat
from proxy.observability.usage_estimate import StreamUsage
from proxy.providers.anthropic.messages import NativeStream, same_events
from proxy.reply import Chunk
from proxy.schema import ChatCompletion, ChatCompletionChunk, ChatRequest
from proxy.sse import SSEEvent

PDF = "JVBERi0xLjQK"


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **kw: Any) -> Chunk:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    body = {"id": "c1", "created": 1, "model": "m", "choices": choices, **kw}
    return Chunk(parsed=msgspec.convert(body, ChatCompletionChunk))


def sse(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for block in raw.decode().split("\n\n")[:-1]:
        name, data = block.split("\n")
        out.append((name[7:], json.loads(data[6:])))
    return out


def stream_of(*chunks: Chunk) -> list[tuple[str, dict[str, Any]]]:
    enc = MessagesEncoder("m")
    return sse(b"".join(enc.frame(c) for c in chunks) + enc.end())


# ---------------------------------------------------------------- to_chat


def test_documents_tool_result_images_and_choices() -> None:
    native = {
        "model": "m",
        "max_tokens": 5,
        "messages": [
            {
                "role": "user",
                "content": [
                    {
                        "type": "document",
                        "source": {"type": "base64", "media_type": "application/pdf", "data": PDF},
                        "title": "a.pdf",
                    },
                    {
                        "type": "document",
                        "source": {"type": "text", "media_type": "text/plain", "data": "plain"},
                    },
                ],
            },
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "t1", "name": "shot", "input": {}}],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "t1",
                        "is_error": True,
                        "content": [
                            {"type": "text", "text": "took it"},
                            {"type": "image", "source": {"type": "url", "url": "https://x/p.png"}},
                        ],
                    }
                ],
            },
        ],
        "tools": [{"name": "shot", "input_schema": {"type": "object"}, "strict": True}],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
        "output_config": {"format": {"type": "json_schema", "schema": {"type": "object"}}},
        "metadata": {"user_id": "user-42"},
    }
    check(native)
    chat = to_chat(native)
    assert chat["messages"] == [
        {
            "role": "user",
            "content": [
                {
                    "type": "file",
                    "file": {
                        "file_data": f"data:application/pdf;base64,{PDF}",
                        "filename": "a.pdf",
                    },
                },
                {"type": "text", "text": "plain"},
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "t1", "type": "function", "function": {"name": "shot", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "t1", "content": "took it"},
        {
            "role": "user",
            "content": [{"type": "image_url", "image_url": {"url": "https://x/p.png"}}],
        },
    ]
    assert chat["tools"][0]["function"]["strict"] is True
    assert (chat["tool_choice"], chat["parallel_tool_calls"]) == ("required", False)
    assert chat["response_format"]["json_schema"]["schema"] == {"type": "object"}
    assert chat["user"] == "user-42"  # short and plain: kept
    msgspec.convert(chat, ChatRequest, strict=False)  # what a translating adapter reads


@pytest.mark.parametrize(
    ("budget", "effort"), [(1024, "low"), (2048, "low"), (8000, "medium"), (32000, "high")]
)
def test_thinking_budget_bands(budget, effort) -> None:
    native = {
        "model": "m",
        "messages": [],
        "thinking": {"type": "enabled", "budget_tokens": budget},
    }
    assert to_chat(native)["reasoning_effort"] == effort


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"system": [{"type": "image"}]}, "system[0]"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].role"),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image", "source": {"type": "file", "file_id": "f"}}],
                    }
                ]
            },
            "messages[0].content[0].source",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "document",
                                "source": {"type": "base64", "media_type": "text/csv", "data": "x"},
                            }
                        ],
                    }
                ]
            },
            "messages[0].content[0].source.media_type",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "tool_result",
                                "tool_use_id": "t",
                                "content": [{"type": "search_result"}],
                            }
                        ],
                    }
                ]
            },
            "messages[0].content[0].content[0].type",
        ),
        ({"tools": [{"name": "x"}]}, "tools[0]"),
        ({"tools": [{"type": "bash_20250124", "name": "bash"}]}, "tools[0]"),
    ],
)
def test_check_names_what_cannot_be_carried(extra, param) -> None:
    native = {"model": "m", "messages": [{"role": "user", "content": "x"}], **extra}
    with pytest.raises(Untranslatable) as info:
        check(native)
    assert info.value.param == param


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=30,
)
BLOCK = st.fixed_dictionaries(
    {
        "type": st.sampled_from(
            ["text", "image", "document", "tool_use", "tool_result", "thinking", "x"]
        )
    },
    optional={
        "text": JSON,
        "source": JSON,
        "content": JSON,
        "input": JSON,
        "id": JSON,
        "name": JSON,
    },
)
MESSAGE = st.fixed_dictionaries(
    {
        "role": st.sampled_from(["user", "assistant", "system", "bot"]),
        "content": st.text(max_size=5) | st.lists(BLOCK, max_size=4) | JSON,
    }
)


@settings(max_examples=300, deadline=None)
@given(
    messages=st.lists(MESSAGE | JSON, max_size=5),
    extra=st.dictionaries(
        st.sampled_from(
            [
                "system",
                "tools",
                "tool_choice",
                "thinking",
                "metadata",
                "stop_sequences",
                "top_k",
                "output_config",
            ]
        ),
        JSON,
    ),
)
def test_to_chat_is_total_and_check_guards_the_typed_view(messages, extra) -> None:
    """Whatever the body holds, to_chat answers (middlewares never fail on a native
    request); and a body that passes check converts to the typed ChatRequest."""
    native = {"model": "m", "max_tokens": 5, "messages": messages, **extra}
    chat = to_chat(native)
    try:
        check(native)
    except Untranslatable:
        return
    msgspec.convert(chat, ChatRequest, strict=False)


# ---------------------------------------------------------------- stream encoder


def test_arguments_in_the_naming_chunk_are_kept() -> None:
    """LiteLLM's bug class: the first fragment rides with the call's name."""
    seq = stream_of(
        chunk({"role": "assistant"}),
        chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "c",
                        "type": "function",
                        "function": {"name": "f", "arguments": '{"a"'},
                    }
                ]
            }
        ),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": ": 1}"}}]}),
        chunk({}, finish="tool_calls"),
    )
    parts = [d["delta"]["partial_json"] for n, d in seq if n == "content_block_delta"]
    assert "".join(parts) == '{"a": 1}'
    assert seq[-2][1]["delta"]["stop_reason"] == "tool_use"


def test_interleaved_calls_keep_each_fragment_on_its_block() -> None:
    seq = stream_of(
        chunk(
            {"tool_calls": [{"index": 0, "id": "a", "function": {"name": "f", "arguments": ""}}]}
        ),
        chunk(
            {"tool_calls": [{"index": 1, "id": "b", "function": {"name": "g", "arguments": "{}"}}]}
        ),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]}),
        chunk({}, finish="tool_calls"),
    )
    deltas = [
        (d["index"], d["delta"]["partial_json"]) for n, d in seq if n == "content_block_delta"
    ]
    assert deltas == [(1, "{}"), (0, "{}")]
    starts = [d["content_block"]["id"] for n, d in seq if n == "content_block_start"]
    assert starts == ["a", "b"]


def test_call_without_id_refusal_and_stop_reasons() -> None:
    seq = stream_of(
        chunk({"tool_calls": [{"index": 0, "function": {"name": "f"}}]}), chunk({}, finish="stop")
    )
    assert seq[2][1]["content_block"]["id"] == "toolu_gw_1"
    assert (
        seq[-2][1]["delta"]["stop_reason"] == "tool_use"
    )  # "stop" after calls is still a tool turn
    seq = stream_of(chunk({"refusal": "no"}), chunk({}, finish="stop"))
    assert seq[-2][1]["delta"]["stop_reason"] == "refusal"
    seq = stream_of(chunk({"content": "x"}), chunk({}, finish="length"))
    assert seq[-2][1]["delta"]["stop_reason"] == "max_tokens"


def test_usage_after_the_finish_and_cached_tokens() -> None:
    usage = {
        "prompt_tokens": 100,
        "completion_tokens": 7,
        "total_tokens": 107,
        "prompt_tokens_details": {"cached_tokens": 60},
    }
    seq = stream_of(chunk({"content": "x"}), chunk({}, finish="stop"), chunk(None, usage=usage))
    assert [n for n, _ in seq] == [
        "message_start",
        "ping",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert seq[-2][1]["usage"] == {
        "input_tokens": 40,
        "output_tokens": 7,
        "cache_read_input_tokens": 60,
    }


def test_an_empty_stream_is_still_a_whole_message() -> None:
    names = [n for n, _ in stream_of()]
    assert names == ["message_start", "ping", "message_delta", "message_stop"]


def test_native_events_pass_through_and_close_themselves() -> None:
    enc = MessagesEncoder("m")
    c = Chunk(raw=b'{"type":"message_stop"}', wire="anthropic", event="message_stop")
    assert enc.frame(c) == b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    assert enc.end() == b""


def test_message_of_thinking_refusal_and_bad_arguments() -> None:
    completion = msgspec.convert(
        {
            "id": "x",
            "created": 1,
            "model": "m",
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": None,
                        "reasoning_content": "hmm",
                        "tool_calls": [
                            {
                                "id": "c",
                                "type": "function",
                                "function": {"name": "f", "arguments": "{oops"},
                            }
                        ],
                    },
                    "finish_reason": "tool_calls",
                }
            ],
        },
        ChatCompletion,
    )
    msg = json.loads(message_of(completion, "m"))
    assert [b["type"] for b in msg["content"]] == ["thinking", "tool_use"]
    assert msg["content"][1]["input"] == {}  # a model's broken JSON: an empty object
    assert msg["stop_reason"] == "tool_use" and msg["id"] == "msg_x"


# ---------------------------------------------------------------- native stream reader


def feed(stream: NativeStream, *events: bytes) -> list[Chunk]:
    return [c for e in events for c in stream.feed(SSEEvent(e))]


def test_native_usage_is_cumulative_and_read_by_stream_usage() -> None:
    s = NativeStream("anthropic", same_events)
    chunks = feed(
        s,
        b'{"type":"message_start","message":{"usage":{"input_tokens":10,"cache_read_input_tokens":5,"output_tokens":1}}}',
        b'{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x"}}',
        b'{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":9}}',
        b'{"type":"message_stop"}',
    )
    assert s.finish() == []
    counter = StreamUsage()
    for c in chunks:
        counter.feed(c)
    usage, estimated = counter.result(None)
    assert (usage.prompt_tokens, usage.completion_tokens, estimated) == (15, 9, False)


@pytest.mark.parametrize(
    "event",
    [
        b'{"type":"message_start\\n\\nevent: error"}',  # an event line smuggled in a type
        b'["not", "an", "object"]',
        b'{"no_type": true}',
    ],
)
def test_native_events_that_are_not_events_are_502(event) -> None:
    with pytest.raises(UpstreamInvalid):
        feed(NativeStream("anthropic", same_events), event)


def test_native_line_breaks_cannot_end_the_clients_event() -> None:
    (c,) = feed(NativeStream("anthropic", same_events), b'{\n"type": "ping"\n}')
    assert b"\n" not in c.raw and c.event == "ping"


def test_native_error_event_and_truncation() -> None:
    s = NativeStream("vertex-ai", same_events)
    with pytest.raises(GatewayError) as info:
        feed(s, b'{"type":"error","error":{"type":"overloaded_error","message":"busy"}}')
    assert (info.value.status, info.value.code, error_type(info.value)) == (
        529,
        "overloaded_error",
        "overloaded_error",
    )
    with pytest.raises(UpstreamError, match="before message_stop"):
        NativeStream("anthropic", same_events).finish()


# ---------------------------------------------------------------- head


def head(**headers: str) -> CIMultiDictProxy[str]:
    return CIMultiDictProxy(CIMultiDict(headers))


BODY = b'{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}]}'


@pytest.mark.parametrize(
    "headers",
    [
        {"anthropic-version": "latest"},
        {"anthropic-beta": "ok-1,bad beta"},
        {"anthropic-beta": ",".join(f"b{i}" for i in range(33))},
        {"anthropic-beta": "x/../../y"},
    ],
)
def test_anthropic_headers_are_checked(headers) -> None:
    with pytest.raises(InvalidRequest):
        decode_messages(BODY, head(**headers), False, False)


def test_betas_are_split_and_deduplicated() -> None:
    body = decode_messages(BODY, head(**{"anthropic-beta": "a-1, b-2,a-1"}), False, True)
    assert body.head.betas == ("a-1", "b-2")  # type: ignore[attr-defined]
    assert body.head.beta_query is True  # type: ignore[attr-defined]


def test_too_deep_a_body_is_a_400() -> None:
    deep = b'{"model":"m","max_tokens":5,"messages":[{"x":' + b"[" * 5000 + b"]" * 5000 + b"}]}"
    with pytest.raises(InvalidRequest, match="nests too deeply"):
        decode_messages(deep, head(), False, False)
