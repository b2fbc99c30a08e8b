"""Units of the Responses codecs: request to chat (lenient and strict), answers both ways,
and the native body with the gateway's edits."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.body import Untranslatable
from proxy.frontdoors.responses.answer import ResponsesWire, output_items, response_object
from proxy.frontdoors.responses.codec import lenient_chat, to_chat
from proxy.frontdoors.responses.request import decode_responses
from proxy.schema import (
    ChatCompletion,
    Choice,
    FunctionCall,
    ResponseMessage,
    ToolCall,
    Usage,
)

CALL = {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"}


def test_items_map_to_messages_in_order() -> None:
    req = {
        "instructions": "rules",
        "input": [
            {"role": "developer", "content": "dev note"},
            {"role": "user", "content": [{"type": "input_text", "text": "hi"}]},
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "calling"}],
            },
            CALL,
            {**CALL, "call_id": "c2"},
            {"type": "reasoning", "id": "rs_1", "summary": []},
            {"type": "function_call_output", "call_id": "c1", "output": "one"},
            {
                "type": "function_call_output",
                "call_id": "c2",
                "output": [{"type": "input_text", "text": "two"}],
            },
        ],
    }
    c = to_chat(req, strict=True)
    assert c.instructions == 1
    assert c.chat["messages"] == [
        {"role": "system", "content": "rules"},
        {"role": "system", "content": "dev note"},
        {"role": "user", "content": [{"type": "text", "text": "hi"}]},
        {
            "role": "assistant",
            "content": "calling",
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}},
                {"id": "c2", "type": "function", "function": {"name": "f", "arguments": "{}"}},
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "one"},
        {"role": "tool", "tool_call_id": "c2", "content": "two"},
    ]


def test_parameters_map() -> None:
    req = {
        "model": "m",
        "input": "x",
        "stream": True,
        "max_output_tokens": 9,
        "temperature": 0.1,
        "reasoning": {"effort": "high"},
        "text": {"format": {"type": "json_schema", "name": "W", "schema": {"type": "object"}}},
        "tools": [
            {"type": "function", "name": "f", "parameters": {}},
            {"type": "function", "name": "g"},
        ],
        "tool_choice": {
            "type": "allowed_tools",
            "mode": "required",
            "tools": [{"type": "function", "name": "g"}],
        },
        "seed": 7,
    }
    chat = to_chat(req, strict=True).chat
    assert chat["max_completion_tokens"] == 9 and chat["reasoning_effort"] == "high"
    assert chat["stream_options"] == {"include_usage": True} and chat["seed"] == 7
    assert chat["response_format"]["json_schema"] == {"name": "W", "schema": {"type": "object"}}
    assert [t["function"]["name"] for t in chat["tools"]] == ["g"]
    assert chat["tool_choice"] == "required"
    one = to_chat({"input": "x", "tool_choice": {"type": "function", "name": "f"}}, strict=True)
    assert one.chat["tool_choice"] == {"type": "function", "function": {"name": "f"}}


@pytest.mark.parametrize(
    ("req", "param"),
    [
        ({"input": [{"type": "computer_call_output", "call_id": "x"}]}, "input[0].type"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_video"}]}]},
            "input[0].content[0]",
        ),
        (
            {"input": [{"role": "system", "content": [{"type": "input_image", "image_url": "u"}]}]},
            "input[0].content[0]",
        ),
        ({"input": [{"type": "function_call", "name": "f"}]}, "input[0]"),
        ({"input": ["just a string"]}, "input[0]"),
        ({"tools": [{"type": "mcp", "server_label": "x"}]}, "tools[0]"),
        ({"text": {"format": {"type": "grammar"}}}, "text.format"),
        ({"conversation": "conv_1"}, "conversation"),
        ({"prompt": {"id": "pmpt_1"}}, "prompt"),
    ],
)
def test_strict_names_what_it_cannot_carry(req: dict[str, Any], param: str) -> None:
    with pytest.raises(Untranslatable) as err:
        to_chat({"input": "x", **req}, strict=True)
    assert err.value.param == param


def test_lenient_view_keeps_what_chat_cannot_hold() -> None:
    """Two requests that differ only where chat has no field must not look the same (the
    cache keys on this view)."""
    base = {"model": "m", "input": "same"}
    variants = [
        base,
        {**base, "previous_response_id": "resp_1"},
        {**base, "previous_response_id": "resp_2"},
        {**base, "tools": [{"type": "web_search_preview"}]},
        {**base, "text": {"verbosity": "low"}},
        {**base, "reasoning": {"effort": "low", "summary": "auto"}},
        {**base, "input": [{"type": "item_reference", "id": "msg_1"}]},
        {**base, "brand_new_field": True},
    ]
    views = [json.dumps(lenient_chat(v), sort_keys=True) for v in variants]
    assert len(set(views)) == len(views)
    same = [base, {**base, "store": False, "metadata": {"a": "b"}, "stream": False}]
    assert len({json.dumps(lenient_chat(v), sort_keys=True) for v in same}) == 1


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "type",
                    "role",
                    "content",
                    "text",
                    "call_id",
                    "name",
                    "arguments",
                    "output",
                    "input",
                    "tools",
                    "tool_choice",
                    "instructions",
                    "image_url",
                    "format",
                    "reasoning",
                    "effort",
                ]
            ),
            inner,
            max_size=5,
        )
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(
    req=st.dictionaries(
        st.sampled_from(
            ["input", "instructions", "tools", "tool_choice", "text", "reasoning", "x"]
        ),
        JSON,
        max_size=5,
    )
)
def test_lenient_never_raises_and_strict_raises_only_400s(req: dict[str, Any]) -> None:
    lenient_chat(req)  # middlewares read this for any body OpenAI may accept
    try:
        to_chat(req, strict=True)
    except Untranslatable as exc:
        assert exc.status == 400 and exc.param


def completion(content: str | None, calls: int = 0, finish: str = "stop") -> ChatCompletion:
    tool_calls = [
        ToolCall(id=f"c{i}", function=FunctionCall("f", f'{{"n": {i}}}')) for i in range(calls)
    ]
    msg = ResponseMessage(content=content, tool_calls=tool_calls or msgspec.UNSET)
    return ChatCompletion(
        id="x", created=1, model="m", choices=[Choice(0, msg, finish)], usage=Usage(3, 4, 7)
    )


@pytest.mark.parametrize(
    ("c", "finish"),
    [
        (completion("hello"), "stop"),
        (completion("partial", finish="length"), "length"),
        (completion("look", 2, "tool_calls"), "tool_calls"),
    ],
)
def test_answer_round_trips_through_the_wire_codec(c: ChatCompletion, finish: str) -> None:
    ch = c.choices[0]
    obj = response_object(
        {"model": "m"}, "resp_1", 1, "m", output_items(c), ch.finish_reason, c.usage
    )  # type: ignore[arg-type]
    back = ResponsesWire().completion(msgspec.json.encode(obj))
    assert back.choices[0].message.content == ch.message.content
    assert back.choices[0].finish_reason == finish
    assert [t.id for t in back.choices[0].message.tool_calls or []] == [
        t.id for t in ch.message.tool_calls or []
    ]
    assert back.usage == Usage(3, 4, 7)
    assert ResponsesWire().usage(
        msgspec.json.encode({"type": "response.completed", "response": obj})
    ) == Usage(3, 4, 7)


def test_native_body_takes_edits_with_a_responses_name() -> None:
    raw = b'{"model":"@oa/m","input":"x","reasoning":{"summary":"auto"},"zz":1}'
    body = decode_responses(raw)
    assert body.native_bytes("responses") == raw  # untouched: the very bytes
    body.set(temperature=0.5, max_tokens=10, reasoning_effort="low")
    edited = json.loads(body.native_bytes("responses", model="m") or b"")
    assert edited == {
        "model": "m",
        "input": "x",
        "reasoning": {"summary": "auto", "effort": "low"},
        "zz": 1,
        "temperature": 0.5,
        "max_output_tokens": 10,
    }
    body.set(messages=[{"role": "user", "content": "redacted"}])
    assert body.native_bytes("responses") is None  # a rewrite of the input: the chat path
    assert body.native_bytes("chat") is None
