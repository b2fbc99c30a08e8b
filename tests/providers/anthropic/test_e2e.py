"""End to end: the openai SDK -> the real gateway -> the Anthropic mock, and back.

Each test checks both sides: what the client got, and the exact native request the mock
received.
"""

from __future__ import annotations

import base64
import json

import openai
import pytest

from proxy.providers.anthropic.structured import ANSWER_TOOL
from tests.conftest import PROVIDER_KEY, SECRETS
from tests.providers.anthropic.conftest import CHAIN
from tests.providers.script import script_messages

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
WEATHER_NATIVE = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": WEATHER["function"]["parameters"],
}
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\nnot really a png").decode()
ANSWER_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "temp_c": {"type": "integer"}},
    "required": ["city", "temp_c"],
    "additionalProperties": False,
}
JSON_SCHEMA = {"type": "json_schema", "json_schema": {"name": "Weather", "schema": ANSWER_SCHEMA}}


def text(content: str) -> dict:
    return {"type": "text", "text": content}


def stream_parts(stream) -> tuple[str, dict[int, dict], str | None, object]:
    """Joined content, tool calls by index, finish reason and usage of a chunk stream."""
    content, calls, finish, usage, roles = [], {}, None, None, []
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for ch in chunk.choices:
            d = ch.delta
            if d.role:
                roles.append(d.role)
            content.append(d.content or "")
            for tc in d.tool_calls or []:
                slot = calls.setdefault(tc.index, {"id": None, "name": "", "arguments": ""})
                slot["id"] = tc.id or slot["id"]
                slot["name"] += tc.function.name or "" if tc.function else ""
                slot["arguments"] += tc.function.arguments or "" if tc.function else ""
            finish = ch.finish_reason or finish
    assert roles == ["assistant"]
    return "".join(content), calls, finish, usage


# ---------------------------------------------------------------- text, system, turns


def test_text_completion_and_native_request(claude) -> None:
    client, mock = claude
    r = client.chat.completions.create(
        model="claude-sonnet-4-6", messages=[{"role": "user", "content": "hello claude"}]
    )
    assert r.choices[0].message.content == "echo: hello claude"
    assert r.choices[0].finish_reason == "stop"
    assert r.id == "msg_mock_01"
    assert r.model == "claude-sonnet-4-6"
    assert r.usage.prompt_tokens > 0
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    assert r.usage.prompt_tokens_details.cached_tokens == 0
    seen = mock.requests[-1]
    assert seen["path"] == "/v1/messages"
    assert seen["json"] == {
        "model": "claude-sonnet-4-6",
        "messages": [{"role": "user", "content": [text("hello claude")]}],
        "max_tokens": 4096,
    }
    headers = {k.lower(): v for k, v in seen["headers"].items()}
    assert headers["x-api-key"] == PROVIDER_KEY
    assert headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in headers  # the key goes only where Anthropic reads it


def test_system_multi_turn_and_sampling(claude) -> None:
    client, mock = claude
    r = client.chat.completions.create(
        model="claude-sonnet-4-6",
        messages=[
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "My name is Ada."},
            {"role": "assistant", "content": "Noted."},
            {"role": "developer", "content": "Answer in English."},
            {"role": "user", "content": "What is my name?"},
        ],
        max_tokens=50,
        temperature=0.2,
        top_p=0.8,
        stop="\n\n",
        user="u-1",
        seed=3,
        presence_penalty=0.1,
        extra_body={"top_k": 5},
    )
    assert r.choices[0].message.content == "echo: What is my name?"
    assert mock.last == {
        "model": "claude-sonnet-4-6",
        "messages": [
            {"role": "user", "content": [text("My name is Ada.")]},
            {"role": "assistant", "content": [text("Noted.")]},
            {"role": "user", "content": [text("What is my name?")]},
        ],
        "max_tokens": 50,
        "system": [text("You are terse."), text("Answer in English.")],
        "stop_sequences": ["\n\n"],
        "temperature": 0.2,
        "top_p": 0.8,
        "top_k": 5,
        "metadata": {"user_id": "u-1"},
    }


def test_settings_provider_slug(make_gateway, mock_anthropic) -> None:
    mock, upstream = mock_anthropic
    gateway = make_gateway(
        {
            **CHAIN,
            "providers": {
                "claude": {
                    "provider": "anthropic",
                    "api_key": SECRETS[2],
                    "custom_host": upstream.url + "/v1",
                }
            },
        }
    )
    client = openai.OpenAI(api_key="unused", base_url=gateway.url + "/v1", max_retries=0)
    r = client.chat.completions.create(
        model="@claude/claude-haiku-4-5", messages=[{"role": "user", "content": "via slug"}]
    )
    assert r.choices[0].message.content == "echo: via slug"
    assert mock.last["model"] == "claude-haiku-4-5"
    assert {k.lower(): v for k, v in mock.requests[-1]["headers"].items()}["x-api-key"] == (
        SECRETS[2]
    )


# ---------------------------------------------------------------- tools


def test_parallel_tool_calls_then_results(claude) -> None:
    client, mock = claude
    messages = [{"role": "user", "content": "Weather in Paris and Tokyo?"}]
    r = client.chat.completions.create(
        model="claude-parallel", messages=messages, tools=[WEATHER], tool_choice="required"
    )
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "Let me check."
    calls = choice.message.tool_calls
    assert [c.id for c in calls] == ["toolu_mock_01", "toolu_mock_02"]
    assert [json.loads(c.function.arguments) for c in calls] == [
        {"city": "Paris"},
        {"city": "Tokyo"},
    ]
    assert mock.last["tools"] == [WEATHER_NATIVE]
    assert mock.last["tool_choice"] == {"type": "any"}

    messages.append(
        {
            "role": "assistant",
            "content": choice.message.content,
            "tool_calls": [
                {"id": c.id, "type": "function", "function": c.function.to_dict()} for c in calls
            ],
        }
    )
    messages.append({"role": "tool", "tool_call_id": calls[0].id, "content": "18C sunny"})
    messages.append({"role": "tool", "tool_call_id": calls[1].id, "content": "22C rain"})
    r2 = client.chat.completions.create(model="claude-parallel", messages=messages, tools=[WEATHER])
    assert r2.choices[0].message.content == "results: 18C sunny; 22C rain"
    assert r2.choices[0].finish_reason == "stop"
    assert mock.last["messages"] == [
        {"role": "user", "content": [text("Weather in Paris and Tokyo?")]},
        {
            "role": "assistant",
            "content": [
                text("Let me check."),
                {
                    "type": "tool_use",
                    "id": "toolu_mock_01",
                    "name": "get_weather",
                    "input": {"city": "Paris"},
                },
                {
                    "type": "tool_use",
                    "id": "toolu_mock_02",
                    "name": "get_weather",
                    "input": {"city": "Tokyo"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_mock_01", "content": "18C sunny"},
                {"type": "tool_result", "tool_use_id": "toolu_mock_02", "content": "22C rain"},
            ],
        },
    ]


def test_named_tool_choice_and_no_parallel(claude) -> None:
    client, mock = claude
    r = client.chat.completions.create(
        model="claude-sonnet-4-6",
        messages=[{"role": "user", "content": "weather?"}],
        tools=[WEATHER],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        parallel_tool_calls=False,
    )
    assert r.choices[0].message.tool_calls[0].function.name == "get_weather"
    assert r.choices[0].message.content is None
    assert mock.last["tool_choice"] == {
        "type": "tool",
        "name": "get_weather",
        "disable_parallel_tool_use": True,
    }


def test_bad_tool_arguments_never_reach_anthropic(claude) -> None:
    client, mock = claude
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(
            model="claude-sonnet-4-6",
            messages=[
                {"role": "user", "content": "x"},
                {
                    "role": "assistant",
                    "tool_calls": [
                        {
                            "id": "c1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": "{oops"},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "c1", "content": "r"},
            ],
        )
    assert info.value.body["param"] == "messages[1].tool_calls[0].function.arguments"
    assert mock.requests == []


def test_n_greater_than_one_is_400(claude) -> None:
    client, mock = claude
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(
            model="claude-sonnet-4-6", messages=[{"role": "user", "content": "x"}], n=2
        )
    assert info.value.body["param"] == "n"
    assert mock.requests == []


# ---------------------------------------------------------------- vision, json


def test_vision_url_and_base64(claude) -> None:
    client, mock = claude
    r = client.chat.completions.create(
        model="claude-sonnet-4-6",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What differs?"},
                    {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                ],
            }
        ],
    )
    assert r.choices[0].message.content == "echo: What differs? [2 image(s)]"
    assert mock.last["messages"][0]["content"] == [
        text("What differs?"),
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
    ]


def test_json_schema_native(claude) -> None:
    client, mock = claude
    r = client.chat.completions.create(
        model="claude-sonnet-4-6",
        messages=[{"role": "user", "content": "Weather in Paris as JSON"}],
        response_format=JSON_SCHEMA,
    )
    assert json.loads(r.choices[0].message.content) == {"city": "Paris", "temp_c": 21}
    assert r.choices[0].finish_reason == "stop"
    assert mock.last["output_config"] == {
        "format": {"type": "json_schema", "schema": ANSWER_SCHEMA}
    }


def test_json_schema_legacy_model_via_forced_tool(claude) -> None:
    client, mock = claude
    r = client.chat.completions.create(
        model="claude-3-5-haiku-20241022",
        messages=[{"role": "user", "content": "Weather in Paris as JSON"}],
        response_format=JSON_SCHEMA,
    )
    assert json.loads(r.choices[0].message.content) == {"city": "Paris", "temp_c": 21}
    assert r.choices[0].finish_reason == "stop"
    assert not r.choices[0].message.tool_calls
    assert mock.last["tool_choice"] == {"type": "tool", "name": ANSWER_TOOL}
    assert "output_config" not in mock.last


def test_refusal_and_cached_usage(claude) -> None:
    client, _ = claude
    r = client.chat.completions.create(model="refusal", messages=[{"role": "user", "content": "x"}])
    assert r.choices[0].finish_reason == "content_filter"
    r = client.chat.completions.create(model="cached", messages=[{"role": "user", "content": "x"}])
    assert r.usage.prompt_tokens_details.cached_tokens == 100
    assert r.usage.prompt_tokens >= 120


# ---------------------------------------------------------------- streams


def test_stream_text_with_usage(claude) -> None:
    client, mock = claude
    stream = client.chat.completions.create(
        model="claude-sonnet-4-6",
        messages=[
            {"role": "system", "content": "sys"},
            {"role": "user", "content": "stream me please"},
        ],
        stream=True,
        stream_options={"include_usage": True},
    )
    content, calls, finish, usage = stream_parts(stream)
    assert content == "echo: stream me please"
    assert calls == {}
    assert finish == "stop"
    assert usage.completion_tokens > 1
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert mock.last["stream"] is True
    assert mock.last["system"] == [text("sys")]


def test_stream_without_include_usage(claude) -> None:
    client, _ = claude
    chunks = list(
        client.chat.completions.create(
            model="claude-sonnet-4-6", messages=[{"role": "user", "content": "a b"}], stream=True
        )
    )
    assert all(c.usage is None for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_stream_parallel_tool_calls(claude) -> None:
    client, _ = claude
    stream = client.chat.completions.create(
        model="claude-parallel",
        messages=[{"role": "user", "content": "Weather in Paris and Tokyo?"}],
        tools=[WEATHER],
        stream=True,
        stream_options={"include_usage": True},
    )
    content, calls, finish, usage = stream_parts(stream)
    assert content == "Let me check."
    assert finish == "tool_calls"
    assert [(i, c["id"], c["name"]) for i, c in sorted(calls.items())] == [
        (0, "toolu_mock_01", "get_weather"),
        (1, "toolu_mock_02", "get_weather"),
    ]
    assert [json.loads(c["arguments"]) for _, c in sorted(calls.items())] == [
        {"city": "Paris"},
        {"city": "Tokyo"},
    ]
    assert usage is not None


def test_stream_tool_results_vision_and_json(claude) -> None:
    client, mock = claude
    stream = client.chat.completions.create(
        model="claude-sonnet-4-6",
        messages=[
            {"role": "user", "content": "weather?"},
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
        ],
        tools=[WEATHER],
        stream=True,
    )
    assert stream_parts(stream)[:3] == ("results: sunny", {}, "stop")

    stream = client.chat.completions.create(
        model="claude-sonnet-4-6",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "look"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                ],
            }
        ],
        stream=True,
    )
    assert stream_parts(stream)[0] == "echo: look [1 image(s)]"
    assert mock.last["messages"][0]["content"][1]["source"]["type"] == "base64"

    for model in ("claude-sonnet-4-6", "claude-3-5-haiku-20241022"):
        stream = client.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": "JSON please"}],
            response_format=JSON_SCHEMA,
            stream=True,
        )
        content, calls, finish, _ = stream_parts(stream)
        assert json.loads(content) == {"city": "Paris", "temp_c": 21}, model
        assert (calls, finish) == ({}, "stop"), model


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("status", "exc", "etype"),
    [
        (400, openai.BadRequestError, "invalid_request_error"),
        (401, openai.AuthenticationError, "authentication_error"),
        (429, openai.RateLimitError, "rate_limit_error"),
        (529, openai.InternalServerError, "api_error"),
        (500, openai.InternalServerError, "api_error"),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_errors(claude, status, exc, etype, stream) -> None:
    client, _ = claude
    with pytest.raises(exc) as info:
        r = client.chat.completions.create(
            model=f"error-{status}", messages=[{"role": "user", "content": "x"}], stream=stream
        )
        list(r) if stream else None
    err = info.value
    assert err.status_code == status
    assert err.body["type"] == etype
    assert err.body["code"] == {529: "overloaded_error", 500: "api_error"}.get(status, etype)
    assert err.body["message"] == f"anthropic error: mock failure {status}"
    if status == 429:
        assert err.response.headers["retry-after"] == "7"
        assert err.response.headers["anthropic-ratelimit-requests-remaining"] == "0"


def test_non_json_error(claude) -> None:
    client, _ = claude
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(model="garbage", messages=[{"role": "user", "content": "x"}])
    assert "bad gateway" in info.value.body["message"]


def test_midstream_error_event_ends_the_stream(claude) -> None:
    client, _ = claude
    stream = client.chat.completions.create(
        model="midstream-error",
        messages=[{"role": "user", "content": "one two three four"}],
        stream=True,
    )
    got = []
    with pytest.raises(openai.APIError) as info:
        for chunk in stream:
            got.extend(ch.delta.content or "" for ch in chunk.choices)
    assert "".join(got).startswith("echo:")
    assert "Overloaded" in info.value.message


def test_truncated_stream_is_an_error(claude) -> None:
    client, _ = claude
    stream = client.chat.completions.create(
        model="truncated", messages=[{"role": "user", "content": "x y"}], stream=True
    )
    with pytest.raises(openai.APIError, match="before message_stop"):
        list(stream)


def test_overloaded_529_is_retryable_by_config(claude) -> None:
    """529 keeps its status, so a retry rule can name it like any 5xx."""
    client, mock = claude
    config = json.dumps({"retry": {"attempts": 1, "on_status_codes": [529]}})
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(
            model="error-529",
            messages=[{"role": "user", "content": "x"}],
            extra_headers={"x-portkey-config": config},
        )
    assert info.value.status_code == 529
    assert len(mock.requests) == 2


def test_client_beta_header_is_forwarded_when_named(claude) -> None:
    client, mock = claude
    client.chat.completions.create(
        model="claude-sonnet-4-6",
        messages=[{"role": "user", "content": "x"}],
        extra_headers={
            "anthropic-beta": "some-beta-2026-01-01",
            "x-portkey-forward-headers": "anthropic-beta",
        },
    )
    headers = {k.lower(): v for k, v in mock.requests[-1]["headers"].items()}
    assert headers["anthropic-beta"] == "some-beta-2026-01-01"


def test_portkey_anthropic_beta_and_version_headers(claude) -> None:
    """Portkey's x-portkey-anthropic-beta / -version (the portkey-ai SDK's anthropic_beta)."""
    client, mock = claude
    client.chat.completions.create(
        model="claude-sonnet-4-6",
        messages=[{"role": "user", "content": "x"}],
        extra_headers={
            "x-portkey-anthropic-beta": "files-api-2025-04-14",
            "x-portkey-anthropic-version": "2023-06-01",
        },
    )
    headers = {k.lower(): v for k, v in mock.requests[-1]["headers"].items()}
    assert headers["anthropic-beta"] == "files-api-2025-04-14"
    assert headers["anthropic-version"] == "2023-06-01"
    client.chat.completions.create(
        model="claude-sonnet-4-6", messages=[{"role": "user", "content": "x"}]
    )
    headers = {k.lower(): v for k, v in mock.requests[-1]["headers"].items()}
    assert "anthropic-beta" not in headers and headers["anthropic-version"] == "2023-06-01"


@pytest.mark.parametrize("model", ["claude-sonnet-4-6", "claude-3-5-haiku-20241022"])
def test_issue_script_streamed_equals_not_streamed(claude, model) -> None:
    """Issue 3's script: system + tools + tool result + image + json_schema, both ways."""
    client, mock = claude
    # the shared script, plus a last user turn (Anthropic merges it after the tool result)
    messages = [*script_messages(PNG), {"role": "user", "content": "Now give me the JSON."}]
    args = {
        "model": model,
        "messages": messages,
        "tools": [WEATHER],
        "tool_choice": "none",
        "response_format": JSON_SCHEMA,
    }
    whole = client.chat.completions.create(**args)
    content, calls, finish, usage = stream_parts(
        client.chat.completions.create(**args, stream=True, stream_options={"include_usage": True})
    )
    assert json.loads(whole.choices[0].message.content) == {"city": "Paris", "temp_c": 21}
    assert json.loads(content) == json.loads(whole.choices[0].message.content)
    assert (calls, finish) == ({}, whole.choices[0].finish_reason) == ({}, "stop")
    assert usage.prompt_tokens == whole.usage.prompt_tokens
    sent = mock.last["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    assert [b["type"] for b in sent[0]["content"]] == ["text", "image"]
    assert [b["type"] for b in sent[2]["content"]] == ["tool_result", "text"]
