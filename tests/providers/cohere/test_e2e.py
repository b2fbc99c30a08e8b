"""End to end: the openai SDK -> the real gateway -> the Cohere mock, and back.

Each test checks both sides: what the client got, and the native request the mock received.
"""

from __future__ import annotations

import base64
import json

import httpx
import openai
import pytest

from tests.conftest import PROVIDER_KEY

Client = tuple[openai.OpenAI, object]
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
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\nnot really a png").decode()
SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "temp_c": {"type": "integer"}},
    "required": ["city", "temp_c"],
}


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
                slot["name"] += (tc.function.name or "") if tc.function else ""
                slot["arguments"] += (tc.function.arguments or "") if tc.function else ""
            finish = ch.finish_reason or finish
    assert roles == ["assistant"]
    return "".join(content), calls, finish, usage


# ---------------------------------------------------------------- text


def test_text_and_the_native_request(cohere_client) -> None:
    client, mock = cohere_client
    r = client.chat.completions.create(
        model="command-a-03-2025",
        messages=[
            {"role": "system", "content": "Be terse."},
            {"role": "user", "content": "hello cohere"},
        ],
        temperature=0.3,
        max_tokens=50,
        stop=["\n\n"],
        seed=11,
    )
    assert r.choices[0].message.content == "echo: hello cohere"
    assert r.choices[0].finish_reason == "stop"
    assert r.id == "chat-mock-0001" and r.model == "command-a-03-2025"
    assert r.usage.prompt_tokens > 60  # tokens, not billed_units
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    seen = mock.requests[-1]
    assert seen["path"] == "/v2/chat"
    assert seen["headers"]["Authorization"] == f"Bearer {PROVIDER_KEY}"
    assert seen["json"] == {
        "model": "command-a-03-2025",
        "messages": [
            {"role": "system", "content": [{"type": "text", "text": "Be terse."}]},
            {"role": "user", "content": "hello cohere"},
        ],
        "max_tokens": 50,
        "stop_sequences": ["\n\n"],
        "temperature": 0.3,
        "seed": 11,
    }


def test_stream_text_with_usage(cohere_client) -> None:
    client, mock = cohere_client
    stream = client.chat.completions.create(
        model="command-a-03-2025",
        messages=[{"role": "user", "content": "stream me please"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    content, calls, finish, usage = stream_parts(stream)
    assert (content, calls, finish) == ("echo: stream me please", {}, "stop")
    assert usage.completion_tokens > 0 and usage.prompt_tokens > 60
    assert mock.last["stream"] is True


def test_reasoning_and_cached_tokens(cohere_client) -> None:
    client, _ = cohere_client
    r = client.chat.completions.create(
        model="thinking", messages=[{"role": "user", "content": "ponder"}]
    )
    assert r.choices[0].message.content == "echo: ponder"
    assert r.choices[0].message.model_extra["reasoning_content"] == "Considering: ponder"
    r = client.chat.completions.create(model="cached", messages=[{"role": "user", "content": "x"}])
    assert r.usage.prompt_tokens_details.cached_tokens == 40
    r = client.chat.completions.create(
        model="max-tokens", messages=[{"role": "user", "content": "x"}]
    )
    assert r.choices[0].finish_reason == "length"


# ---------------------------------------------------------------- tools


def test_tools_two_turns(cohere_client) -> None:
    client, mock = cohere_client
    messages: list = [{"role": "user", "content": "Weather in Paris and Tokyo?"}]
    r = client.chat.completions.create(
        model="command-parallel", messages=messages, tools=[WEATHER], tool_choice="required"
    )
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "I will look this up."  # Cohere's tool plan
    calls = choice.message.tool_calls
    assert [c.function.name for c in calls] == ["get_weather", "get_weather"]
    assert [json.loads(c.function.arguments) for c in calls] == [
        {"city": "Paris"},
        {"city": "Tokyo"},
    ]
    assert mock.last["tools"] == [WEATHER]
    assert mock.last["tool_choice"] == "REQUIRED"

    # the OpenAI loop: the assistant turn as returned, then one tool message per call
    messages.append(choice.message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": calls[0].id, "content": "18C sunny"})
    messages.append({"role": "tool", "tool_call_id": calls[1].id, "content": "22C rain"})
    r2 = client.chat.completions.create(
        model="command-parallel", messages=messages, tools=[WEATHER]
    )
    assert r2.choices[0].message.content == "results: 18C sunny; 22C rain"
    assert r2.choices[0].finish_reason == "stop"
    sent = mock.last["messages"]
    assert sent[1] == {  # content became the tool plan: Cohere refuses text beside calls
        "role": "assistant",
        "tool_calls": [
            {"id": c.id, "type": "function", "function": c.function.model_dump()} for c in calls
        ],
        "tool_plan": "I will look this up.",
    }
    assert sent[2:] == [
        {"role": "tool", "tool_call_id": calls[0].id, "content": "18C sunny"},
        {"role": "tool", "tool_call_id": calls[1].id, "content": "22C rain"},
    ]


def test_stream_parallel_tool_calls(cohere_client) -> None:
    client, _ = cohere_client
    stream = client.chat.completions.create(
        model="command-parallel",
        messages=[{"role": "user", "content": "Weather in Paris and Tokyo?"}],
        tools=[WEATHER],
        stream=True,
        stream_options={"include_usage": True},
    )
    content, calls, finish, usage = stream_parts(stream)
    assert content == "I will look this up."
    assert finish == "tool_calls"
    assert [(i, c["id"], c["name"]) for i, c in sorted(calls.items())] == [
        (0, "get_weather_mock1", "get_weather"),
        (1, "get_weather_mock2", "get_weather"),
    ]
    assert [json.loads(c["arguments"]) for _, c in sorted(calls.items())] == [
        {"city": "Paris"},
        {"city": "Tokyo"},
    ]
    assert usage is not None


def test_named_tool_choice_offers_only_that_tool(cohere_client) -> None:
    client, mock = cohere_client
    clock = {"type": "function", "function": {"name": "get_time", "parameters": SCHEMA}}
    r = client.chat.completions.create(
        model="command-a",
        messages=[{"role": "user", "content": "time?"}],
        tools=[WEATHER, clock],
        tool_choice={"type": "function", "function": {"name": "get_time"}},
    )
    assert r.choices[0].message.tool_calls[0].function.name == "get_time"
    assert [t["function"]["name"] for t in mock.last["tools"]] == ["get_time"]
    assert mock.last["tool_choice"] == "REQUIRED"


# ---------------------------------------------------------------- json, vision


def test_json_schema_and_json_object(cohere_client) -> None:
    client, mock = cohere_client
    r = client.chat.completions.create(
        model="command-a",
        messages=[{"role": "user", "content": "Weather in Paris as JSON"}],
        response_format={"type": "json_schema", "json_schema": {"name": "w", "schema": SCHEMA}},
    )
    assert json.loads(r.choices[0].message.content) == {"city": "Paris", "temp_c": 21}
    assert mock.last["response_format"] == {"type": "json_object", "json_schema": SCHEMA}
    stream = client.chat.completions.create(
        model="command-a",
        messages=[{"role": "user", "content": "Generate a JSON"}],
        response_format={"type": "json_object"},
        stream=True,
    )
    content, _, finish, _ = stream_parts(stream)
    assert json.loads(content) == {"echo": "Generate a JSON"} and finish == "stop"
    assert mock.last["response_format"] == {"type": "json_object"}


def test_vision_url_and_base64(cohere_client) -> None:
    client, mock = cohere_client
    parts = [
        {"type": "text", "text": "What differs?"},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
        {
            "type": "image_url",
            "image_url": {"url": f"data:image/png;base64,{PNG}", "detail": "high"},
        },
    ]
    r = client.chat.completions.create(
        model="command-a-vision-07-2025", messages=[{"role": "user", "content": parts}]
    )
    assert r.choices[0].message.content == "echo: What differs? [2 image(s)]"
    assert mock.last["messages"][0]["content"] == parts


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("status", "exc", "etype"),
    [
        (400, openai.BadRequestError, "invalid_request_error"),
        (401, openai.AuthenticationError, "authentication_error"),
        (429, openai.RateLimitError, "rate_limit_error"),
        (503, openai.InternalServerError, "api_error"),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_errors_keep_status_and_retry_after(cohere_client, status, exc, etype, stream) -> None:
    client, _ = cohere_client
    with pytest.raises(exc) as info:
        r = client.chat.completions.create(
            model=f"error-{status}", messages=[{"role": "user", "content": "x"}], stream=stream
        )
        list(r) if stream else None
    err = info.value
    assert err.status_code == status
    assert err.body["type"] == etype
    assert err.body["message"] == f"cohere error: mock failure {status}"
    if status == 429:
        assert err.response.headers["retry-after"] == "7"
        assert err.response.headers["x-ratelimit-remaining"] == "0"


def test_what_cohere_cannot_carry_never_reaches_it(cohere_client) -> None:
    client, mock = cohere_client
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(
            model="command-a", messages=[{"role": "user", "content": "x"}], n=2
        )
    assert info.value.body["param"] == "n"
    assert info.value.body["code"] == "unsupported_by_provider"
    assert info.value.body["message"].endswith("(not supported by cohere)")
    assert mock.requests == []


def test_a_200_that_is_not_a_cohere_answer_is_a_502(cohere_client) -> None:
    client, _ = cohere_client
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(
            model="not-cohere", messages=[{"role": "user", "content": "x"}]
        )
    assert info.value.status_code == 502
    assert info.value.body["code"] == "upstream_invalid_response"


def test_html_error_page(cohere_client) -> None:
    client, _ = cohere_client
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(model="garbage", messages=[{"role": "user", "content": "x"}])
    assert "bad gateway" in info.value.body["message"]


def test_truncated_stream_is_an_error(cohere_client) -> None:
    client, _ = cohere_client
    stream = client.chat.completions.create(
        model="truncated", messages=[{"role": "user", "content": "x y"}], stream=True
    )
    got = []
    with pytest.raises(openai.APIError, match="before message-end"):
        for chunk in stream:
            got.extend(ch.delta.content or "" for ch in chunk.choices)
    assert "".join(got) == "echo: x y"  # what came before the cut still arrived


def test_generation_error(cohere_client) -> None:
    client, _ = cohere_client
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(
            model="generation-error", messages=[{"role": "user", "content": "x"}]
        )
    assert info.value.status_code == 502
    assert info.value.body["code"] == "upstream_generation_failed"
    stream = client.chat.completions.create(
        model="generation-error", messages=[{"role": "user", "content": "a b"}], stream=True
    )
    with pytest.raises(openai.APIError, match="internal error during generation"):
        list(stream)


def test_raw_http_answer_headers(cohere_client) -> None:
    """The gateway names the provider it used (Portkey's response header)."""
    client, _ = cohere_client
    headers = {k: str(v) for k, v in client.default_headers.items() if k.startswith("x-portkey")}
    r = httpx.post(
        str(client.base_url) + "chat/completions",
        json={"model": "command-a", "messages": [{"role": "user", "content": "x"}]},
        headers={**headers, "authorization": f"Bearer {PROVIDER_KEY}"},
        timeout=10,
    )
    assert r.status_code == 200
    assert r.headers["x-portkey-provider"] == "cohere"
