"""The anthropic SDK -> /v1/messages -> OpenAI (the mock), translated both ways.

Each test checks both sides: what the SDK got (its own parsing is the judge of the
format), and the chat request that reached OpenAI (no field OpenAI would refuse).
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import anthropic
import httpx
import pytest

from tests.conftest import PROVIDER_KEY
from tests.frontdoors.messages.conftest import route

LOOKUP = {
    "name": "lookup",
    "description": "Look a word up",
    "input_schema": {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {"q": {"type": "string"}},
        "required": ["q"],
        "additionalProperties": False,
    },
    "cache_control": {"type": "ephemeral"},
}
PIXEL = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 16).decode()
OPENAI_FIELDS = {
    "model",
    "messages",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "stop",
    "stream",
    "stream_options",
    "user",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "reasoning_effort",
    "response_format",
}


@pytest.fixture
def openai_sdk(client, mock_openai):
    mock, upstream = mock_openai
    return client("openai", upstream), mock


def sent(mock: Any) -> dict[str, Any]:
    body: dict[str, Any] = mock.requests[-1]["json"]
    assert set(body) <= OPENAI_FIELDS, set(body) - OPENAI_FIELDS
    return body


def test_create_text_and_the_chat_request(openai_sdk) -> None:
    sdk, mock = openai_sdk
    msg = sdk.messages.create(
        model="gpt-4o",
        max_tokens=300,
        system=[
            {"type": "text", "text": "be brief"},
            {"type": "text", "text": "be kind", "cache_control": {"type": "ephemeral"}},
        ],
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "hello", "cache_control": {"type": "ephemeral"}}
                ],
            }
        ],
        stop_sequences=["END"],
        metadata={"user_id": json.dumps({"device_id": "d1", "session_id": "s1"})},
        extra_body={
            "temperature": 0.5,  # SDK 2.x's default version dropped the sampling parameters
            "top_p": 0.9,
            "top_k": 40,
            "context_management": {"edits": []},
            "service_tier": "auto",
            "brand_new": 1,
        },
    )
    assert msg.type == "message" and msg.role == "assistant"
    assert msg.content[0].type == "text" and msg.content[0].text == "echo: hello"
    assert msg.stop_reason == "end_turn"
    assert msg.id.startswith("msg_")
    assert msg.usage.input_tokens > 0 and msg.usage.output_tokens > 0
    body = sent(mock)
    assert body["messages"] == [
        {"role": "system", "content": "be brief\nbe kind"},
        {"role": "user", "content": "hello"},
    ]
    assert body["max_completion_tokens"] == 300  # OpenAI's name: max_tokens is refused by o-series
    assert (body["temperature"], body["top_p"], body["stop"]) == (0.5, 0.9, ["END"])
    assert "top_k" not in body  # not a parameter OpenAI takes
    user_id = json.dumps({"device_id": "d1", "session_id": "s1"})
    assert body["user"] == hashlib.sha256(user_id.encode()).hexdigest()


def test_stream_text(openai_sdk) -> None:
    sdk, mock = openai_sdk
    with sdk.messages.stream(
        model="gpt-4o", max_tokens=50, messages=[{"role": "user", "content": "stream me"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "echo: stream me"
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == 3 and final.usage.input_tokens > 0
    assert sent(mock)["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize("stream", [False, True])
def test_agent_loop_with_tools(openai_sdk, stream) -> None:
    """A tool call (its first argument fragment beside its name), then its result."""
    sdk, mock = openai_sdk
    ask: list[Any] = [{"role": "user", "content": 'call lookup {"q": "gateway"}'}]
    kw = {"model": "gpt-4o", "max_tokens": 100, "tools": [LOOKUP], "tool_choice": {"type": "auto"}}
    if stream:
        with sdk.messages.stream(messages=ask, **kw) as s:
            kinds = [ev.type for ev in s]
            msg = s.get_final_message()
        assert "input_json" in kinds
    else:
        msg = sdk.messages.create(messages=ask, **kw)
    assert msg.stop_reason == "tool_use"
    (use,) = msg.content
    assert (use.type, use.name, use.input) == ("tool_use", "lookup", {"q": "gateway"})
    body = sent(mock)
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "lookup",
                "description": "Look a word up",
                "parameters": LOOKUP["input_schema"],
            },
        }
    ]
    assert body["tool_choice"] == "auto"
    turn2 = [
        *ask,
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in msg.content]},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": use.id, "content": "a meaning"},
                {"type": "text", "text": "go on"},
            ],
        },
    ]
    msg2 = sdk.messages.create(messages=turn2, **kw)
    body = sent(mock)
    assert body["messages"][1:] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": use.id,
                    "type": "function",
                    "function": {"name": "lookup", "arguments": '{"q":"gateway"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": use.id, "content": "a meaning"},
        {"role": "user", "content": "go on"},
    ]
    assert msg2.content[0].text == "echo: go on"  # the mock echoes the last user text


@pytest.mark.parametrize("stream", [False, True])
def test_parallel_tool_calls(openai_sdk, stream) -> None:
    sdk, _ = openai_sdk
    kw: dict[str, Any] = {
        "model": "tools",
        "max_tokens": 100,
        "tools": [{"name": "get_weather", "input_schema": {"type": "object"}}],
        "messages": [{"role": "user", "content": "weather in two places"}],
    }
    if stream:
        with sdk.messages.stream(**kw) as s:
            msg = s.get_final_message()
    else:
        msg = sdk.messages.create(**kw)
    assert msg.stop_reason == "tool_use"
    assert [(b.id, b.input) for b in msg.content] == [
        ("call_mock_weather_1", {"city": "Paris"}),
        ("call_mock_weather_2", {"city": "Tokyo"}),
    ]


def test_images_base64_and_url(openai_sdk) -> None:
    sdk, mock = openai_sdk
    sdk.messages.create(
        model="gpt-4o",
        max_tokens=20,
        messages=[
            {
                "role": "user",
                "content": [
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": PIXEL},
                    },
                    {
                        "type": "image",
                        "source": {"type": "url", "url": "https://example.com/a.png"},
                    },
                    {"type": "text", "text": "what is this"},
                ],
            }
        ],
    )
    assert sent(mock)["messages"][0]["content"] == [
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PIXEL}"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
        {"type": "text", "text": "what is this"},
    ]


@pytest.mark.parametrize("stream", [False, True])
def test_reasoning_becomes_thinking(openai_sdk, stream) -> None:
    """A provider's reasoning_content comes back as a thinking block before the text."""
    sdk, mock = openai_sdk
    kw: dict[str, Any] = {
        "model": "deep-reasoner",
        "max_tokens": 4096,
        "thinking": {"type": "enabled", "budget_tokens": 16000},
        "messages": [{"role": "user", "content": "why"}],
    }
    if stream:
        with sdk.messages.stream(**kw) as s:
            msg = s.get_final_message()
    else:
        msg = sdk.messages.create(**kw)
    assert [b.type for b in msg.content] == ["thinking", "text"]
    assert msg.content[0].thinking == "Considering: why"
    assert msg.content[1].text == "echo: why"
    assert sent(mock)["reasoning_effort"] == "high"


def test_history_thinking_and_adaptive_effort_are_dropped(openai_sdk) -> None:
    sdk, mock = openai_sdk
    sdk.messages.create(
        model="gpt-4o",
        max_tokens=20,
        thinking={"type": "adaptive"},
        extra_body={"output_config": {"effort": "high"}},
        messages=[
            {"role": "user", "content": "one"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                    {"type": "redacted_thinking", "data": "xx"},
                    {"type": "text", "text": "two"},
                ],
            },
            {"role": "system", "content": "a note from the harness"},
            {"role": "user", "content": "three"},
        ],
    )
    body = sent(mock)
    assert "reasoning_effort" not in body
    assert body["messages"] == [
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "two"},
        {"role": "system", "content": "a note from the harness"},
        {"role": "user", "content": "three"},
    ]


def test_named_tool_choice_without_parallel(openai_sdk) -> None:
    sdk, mock = openai_sdk
    sdk.messages.create(
        model="gpt-4o",
        max_tokens=20,
        tools=[LOOKUP],
        tool_choice={"type": "tool", "name": "lookup", "disable_parallel_tool_use": True},
        messages=[{"role": "user", "content": "x"}],
    )
    body = sent(mock)
    assert body["tool_choice"] == {"type": "function", "function": {"name": "lookup"}}
    assert body["parallel_tool_calls"] is False


@pytest.mark.parametrize(
    ("status", "exc", "etype"),
    [
        (400, anthropic.BadRequestError, "invalid_request_error"),
        (401, anthropic.AuthenticationError, "authentication_error"),
        (403, anthropic.PermissionDeniedError, "permission_error"),
        (404, anthropic.NotFoundError, "not_found_error"),
        (429, anthropic.RateLimitError, "rate_limit_error"),
        (500, anthropic.InternalServerError, "api_error"),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_errors_in_anthropic_shape(openai_sdk, status, exc, etype, stream) -> None:
    sdk, _ = openai_sdk
    with pytest.raises(exc) as info:
        kw: dict[str, Any] = {"max_tokens": 8, "messages": [{"role": "user", "content": "x"}]}
        if stream:
            with sdk.messages.stream(model=f"error-{status}", **kw) as s:
                s.get_final_message()
        else:
            sdk.messages.create(model=f"error-{status}", **kw)
    assert info.value.status_code == status
    assert info.value.body["type"] == "error"
    assert info.value.body["error"]["type"] == etype
    if status == 429:
        assert info.value.response.headers["retry-after"] == "1"


@pytest.mark.parametrize("model", ["midstream-error", "truncated"])
def test_failure_after_the_first_byte_is_an_error_event(openai_sdk, model) -> None:
    sdk, _ = openai_sdk
    seen: list[str] = []
    stream = sdk.messages.stream(
        model=model, max_tokens=8, messages=[{"role": "user", "content": "a b c d e"}]
    )
    with pytest.raises(anthropic.APIStatusError) as info, stream as s:
        for ev in s:
            seen.append(ev.type)
    assert seen[0] == "message_start"
    assert info.value.body["type"] == "error"


def test_what_cannot_be_carried_is_a_400_naming_the_provider(openai_sdk) -> None:
    sdk, mock = openai_sdk
    cases: list[dict[str, Any]] = [
        {"tools": [{"type": "web_search_20250305", "name": "web_search"}]},
        {"messages": [{"role": "user", "content": [{"type": "search_result", "source": "x"}]}]},
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "document", "source": {"type": "url", "url": "https://x/y.pdf"}}
                    ],
                }
            ]
        },
        {"mcp_servers": [{"type": "url", "url": "https://mcp.example", "name": "m"}]},
    ]
    for extra in cases:
        body = {"model": "gpt-4o", "max_tokens": 8, "messages": [{"role": "user", "content": "x"}]}
        with pytest.raises(anthropic.BadRequestError) as info:
            sdk.messages.create(**body, extra_body=extra)
        assert "(not supported by openai)" in info.value.body["error"]["message"], extra
    assert mock.requests == []


def test_count_tokens_is_estimated(client, mock_openai) -> None:
    mock, upstream = mock_openai
    sdk = client("openai", upstream)
    r = sdk.messages.with_raw_response.count_tokens(
        model="gpt-4o", messages=[{"role": "user", "content": "one two three four " * 10}]
    )
    assert r.parse().input_tokens > 10
    assert r.headers["x-gateway-token-count"] == "estimated"
    assert mock.requests == []


def test_bad_heads_are_400_in_anthropic_shape(make_gateway, mock_openai) -> None:
    gw = make_gateway()
    headers = {**route("openai", mock_openai[1]), "x-api-key": PROVIDER_KEY}
    for body, param in (
        ({"model": "m", "messages": [{"role": "user", "content": "x"}]}, "max_tokens"),
        ({"model": "m", "max_tokens": 5, "messages": []}, "messages"),
        ({"model": "m", "max_tokens": 5, "messages": ["x"]}, "messages[0]"),
        ({"max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}, "model"),
    ):
        r = httpx.post(gw.url + "/v1/messages", json=body, headers=headers)
        assert r.status_code == 400, (body, r.text)
        assert r.json()["type"] == "error"
        assert r.json()["error"]["type"] == "invalid_request_error"
        assert param in r.json()["error"]["message"]
    r = httpx.post(gw.url + "/v1/messages", content=b"", headers=headers)
    assert r.status_code == 400 and r.json()["type"] == "error"
