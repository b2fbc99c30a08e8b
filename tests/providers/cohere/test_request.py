"""OpenAI chat request -> Cohere Chat API v2 body: each mapping, and each 400."""

from __future__ import annotations

import base64

import pytest

from proxy.body import Untranslatable
from proxy.errors import GatewayError, InvalidRequest
from proxy.frontdoors.chat import decode_chat
from proxy.routing.resolve import settings_target
from tests.conftest import PROVIDER_KEY
from tests.providers.cohere.helpers import ADAPTER, native, upstream

USER = {"role": "user", "content": "hi"}
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\nnot really").decode()
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
CLOCK = {"type": "function", "function": {"name": "get_time"}}
ONE_USER = b'{"model":"m","messages":[{"role":"user","content":"x"}]}'


def test_minimal_request_url_and_headers() -> None:
    up = upstream({"model": "m", "messages": [USER]})
    assert up.url == "https://api.cohere.com/v2/chat"
    assert up.headers["Authorization"] == f"Bearer {PROVIDER_KEY}"
    assert up.headers["Accept"] == "application/json"
    assert not up.stream
    assert native({"messages": [USER]}) == {
        "model": "command-a-03-2025",
        "messages": [{"role": "user", "content": "hi"}],
    }


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("http://127.0.0.1:9000", "http://127.0.0.1:9000/v2/chat"),
        ("http://127.0.0.1:9000/", "http://127.0.0.1:9000/v2/chat"),
        ("https://proxy.example/cohere/v2", "https://proxy.example/cohere/v2/chat"),
    ],
)
def test_custom_host(host: str, url: str) -> None:
    target = settings_target(provider="cohere", api_key=PROVIDER_KEY, custom_host=host)
    up = ADAPTER.build_request(decode_chat(ONE_USER), target, "m")
    assert up.url == url


def test_no_key_is_401() -> None:
    with pytest.raises(GatewayError) as info:
        ADAPTER.build_request(
            decode_chat(ONE_USER),
            settings_target(provider="cohere"),
            "m",
        )
    assert info.value.status == 401


def test_stream_asks_for_sse() -> None:
    up = upstream({"model": "m", "messages": [USER], "stream": True})
    assert up.stream and up.headers["Accept"] == "text/event-stream"
    assert native({"messages": [USER], "stream": True})["stream"] is True


def test_system_and_developer_messages_go_first() -> None:
    body = native(
        {
            "messages": [
                {"role": "system", "content": "Be terse."},
                USER,
                {"role": "assistant", "content": "Hello."},
                {"role": "developer", "content": [{"type": "text", "text": "Use English."}]},
                {"role": "user", "content": "again"},
            ]
        }
    )
    assert body["messages"] == [
        {
            "role": "system",
            "content": [
                {"type": "text", "text": "Be terse."},
                {"type": "text", "text": "Use English."},
            ],
        },
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "Hello."},
        {"role": "user", "content": "again"},
    ]


def test_sampling_parameters() -> None:
    body = native(
        {
            "messages": [USER],
            "temperature": 0.2,
            "top_p": 0.9,
            "top_k": 40,
            "max_completion_tokens": 100,
            "stop": "END",
            "seed": 7,
            "frequency_penalty": 0.1,
            "presence_penalty": 0.3,
            "user": "u-1",  # no Cohere field: dropped
            "parallel_tool_calls": False,  # no Cohere switch: dropped
        }
    )
    assert {k: v for k, v in body.items() if k not in ("model", "messages")} == {
        "temperature": 0.2,
        "p": 0.9,
        "k": 40,
        "max_tokens": 100,
        "stop_sequences": ["END"],
        "seed": 7,
        "frequency_penalty": 0.1,
        "presence_penalty": 0.3,
    }
    assert native({"messages": [USER], "max_tokens": 5, "stop": ["a", "b"]})["stop_sequences"] == [
        "a",
        "b",
    ]


def test_images_text_parts_and_detail() -> None:
    body = native(
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "compare"},
                        {
                            "type": "image_url",
                            "image_url": {"url": "https://e.com/a.jpg", "detail": "low"},
                        },
                        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                    ],
                }
            ]
        }
    )
    assert body["messages"][0]["content"] == [
        {"type": "text", "text": "compare"},
        {"type": "image_url", "image_url": {"url": "https://e.com/a.jpg", "detail": "low"}},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
    ]


@pytest.mark.parametrize(
    ("part", "status"),
    [
        ({"type": "image_url", "image_url": {"url": "ftp://e.com/a.png"}}, 400),
        ({"type": "image_url", "image_url": {"url": "data:image/png;base64,@@@"}}, 400),
        ({"type": "image_url", "image_url": {"url": f"data:image/tiff;base64,{PNG}"}}, 400),
        ({"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}, 400),
        ({"type": "file", "file": {"file_id": "file-1"}}, 400),
    ],
)
def test_content_cohere_cannot_take_is_400(part: dict, status: int) -> None:
    with pytest.raises(InvalidRequest) as info:
        native({"messages": [{"role": "user", "content": [part]}]})
    assert info.value.status == status
    assert info.value.param == "messages[0].content[0]"


def test_tools_and_a_two_turn_history() -> None:
    call = {
        "id": "c1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
    }
    bare = {"id": "c2", "type": "function", "function": {"name": "get_time", "arguments": ""}}
    body = native(
        {
            "messages": [
                USER,
                {"role": "assistant", "content": "Let me check.", "tool_calls": [call, bare]},
                {"role": "tool", "tool_call_id": "c1", "content": "18C"},
                {
                    "role": "tool",
                    "tool_call_id": "c2",
                    "content": [{"type": "text", "text": "noon"}],
                },
            ],
            "tools": [WEATHER, CLOCK],
        }
    )
    assert body["tools"] == [
        {"type": "function", "function": {**WEATHER["function"]}},
        {
            "type": "function",
            "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}},
        },
    ]
    assert body["messages"][1:] == [
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                },
                {
                    "id": "c2",
                    "type": "function",
                    "function": {"name": "get_time", "arguments": "{}"},
                },
            ],
            "tool_plan": "Let me check.",  # Cohere refuses text content beside tool calls
        },
        {"role": "tool", "tool_call_id": "c1", "content": "18C"},
        {"role": "tool", "tool_call_id": "c2", "content": "noon"},
    ]
    assert "tool_choice" not in body and "strict_tools" not in body


@pytest.mark.parametrize(
    ("choice", "sent", "tools"),
    [
        ("auto", None, ["get_weather", "get_time"]),
        ("none", "NONE", ["get_weather", "get_time"]),
        ("required", "REQUIRED", ["get_weather", "get_time"]),
        ({"type": "function", "function": {"name": "get_time"}}, "REQUIRED", ["get_time"]),
    ],
)
def test_tool_choice(choice: object, sent: str | None, tools: list[str]) -> None:
    body = native({"messages": [USER], "tools": [WEATHER, CLOCK], "tool_choice": choice})
    assert body.get("tool_choice") == sent
    assert [t["function"]["name"] for t in body["tools"]] == tools


def test_tool_choice_naming_an_absent_tool_is_400() -> None:
    with pytest.raises(InvalidRequest) as info:
        native(
            {
                "messages": [USER],
                "tools": [WEATHER],
                "tool_choice": {"type": "function", "function": {"name": "nope"}},
            }
        )
    assert info.value.param == "tool_choice"


def test_tool_choice_without_tools_is_not_sent() -> None:
    assert "tool_choice" not in native({"messages": [USER], "tool_choice": "none"})


def test_strict_tools() -> None:
    strict = {"type": "function", "function": {**WEATHER["function"], "strict": True}}
    assert native({"messages": [USER], "tools": [strict]})["strict_tools"] is True
    with pytest.raises(Untranslatable) as info:  # one switch for all tools in Cohere
        native({"messages": [USER], "tools": [strict, WEATHER]})
    assert info.value.param == "tools"


def test_response_format() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
    rf = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema, "strict": True}}
    assert native({"messages": [USER], "response_format": rf})["response_format"] == {
        "type": "json_object",
        "json_schema": schema,
    }
    assert native({"messages": [USER], "response_format": {"type": "json_object"}})[
        "response_format"
    ] == {"type": "json_object"}
    assert "response_format" not in native(
        {"messages": [USER], "response_format": {"type": "text"}}
    )


@pytest.mark.parametrize(
    ("effort", "thinking"), [("none", "disabled"), ("low", "enabled"), ("high", "enabled")]
)
def test_reasoning_effort_turns_thinking_on_or_off(effort: str, thinking: str) -> None:
    body = native({"messages": [USER], "reasoning_effort": effort})
    assert body["thinking"] == {"type": thinking}


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"n": 2}, "n"),
        ({"logprobs": True}, "logprobs"),
        ({"top_logprobs": 3}, "logprobs"),
        ({"messages": [USER, {"role": "function", "name": "f", "content": "x"}]}, "messages[1]"),
    ],
)
def test_what_cohere_cannot_carry_is_400(extra: dict, param: str) -> None:
    with pytest.raises(Untranslatable) as info:
        native({"messages": [USER], **extra})
    err = info.value.for_provider("cohere")
    assert err.status == 400 and err.param == param
    assert err.message.endswith("(not supported by cohere)")


def test_empty_assistant_turns_are_left_out_and_system_only_is_400() -> None:
    body = native({"messages": [USER, {"role": "assistant", "content": ""}, USER]})
    assert [m["role"] for m in body["messages"]] == ["user", "user"]
    with pytest.raises(InvalidRequest):
        native({"messages": [{"role": "system", "content": "s"}]})
