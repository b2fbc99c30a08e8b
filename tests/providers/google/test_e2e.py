"""End to end: the official openai SDK -> the real gateway -> the Gemini mock (as ``google``
and as ``vertex-ai``), asserting both what the client gets and the exact native request."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from tests.conftest import PROVIDER_KEY, SECRETS, GatewayFactory
from tests.providers.google.conftest import PROJECT, REGION, client_for
from tests.providers.google.mock import MockGemini
from tests.providers.google.test_request import PNG, WEATHER
from tests.servers import ServerThread

Client = tuple[openai.OpenAI, MockGemini]
VERTEX_PATH = f"/v1/projects/{PROJECT}/locations/{REGION}/publishers/google/models/"


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def expected_path(mock: MockGemini, model: str, method: str) -> str:
    if mock.last["path"].startswith("/v1beta/"):
        return f"/v1beta/models/{model}:{method}"
    return f"{VERTEX_PATH}{model}:{method}"


def test_text_and_exact_native_request(any_gemini: Client) -> None:
    client, mock = any_gemini
    r = client.chat.completions.create(
        model="gemini-2.5-flash",
        messages=[user("hello gemini")],
        max_tokens=64,
        temperature=0.3,
        stop="STOP!",
        seed=11,
    )
    assert r.choices[0].message.content == "echo: hello gemini"
    assert r.choices[0].finish_reason == "stop"
    assert r.model == "gemini-2.5-flash"
    assert r.usage is not None
    assert r.usage.completion_tokens == 3
    assert r.usage.total_tokens == r.usage.prompt_tokens + 3
    req = mock.last
    assert req["path"] == expected_path(mock, "gemini-2.5-flash", "generateContent")
    assert req["query"] == {}  # no ?key=: URLs end up in logs
    if req["path"].startswith("/v1beta/"):
        assert req["headers"]["x-goog-api-key"] == PROVIDER_KEY
        assert "Authorization" not in req["headers"]
    else:
        assert req["headers"]["Authorization"] == f"Bearer {PROVIDER_KEY}"
        assert "x-goog-api-key" not in req["headers"]
    assert req["json"] == {
        "contents": [{"role": "user", "parts": [{"text": "hello gemini"}]}],
        "generationConfig": {
            "stopSequences": ["STOP!"],
            "maxOutputTokens": 64,
            "temperature": 0.3,
            "seed": 11,
        },
    }


def test_system_and_multi_turn(any_gemini: Client) -> None:
    client, mock = any_gemini
    r = client.chat.completions.create(
        model="gemini-2.5-flash",
        messages=[
            {"role": "system", "content": "You are terse."},
            user("first"),
            {"role": "assistant", "content": "ok"},
            {"role": "developer", "content": "Answer in English."},
            user("second"),
        ],
    )
    assert r.choices[0].message.content == "echo: second"
    assert mock.last["json"] == {
        "contents": [
            {"role": "user", "parts": [{"text": "first"}]},
            {"role": "model", "parts": [{"text": "ok"}]},
            {"role": "user", "parts": [{"text": "second"}]},
        ],
        "systemInstruction": {
            "parts": [{"text": "You are terse."}, {"text": "Answer in English."}]
        },
    }


def test_parallel_tool_calls_then_results_with_real_names(any_gemini: Client) -> None:
    client, mock = any_gemini
    messages: list[Any] = [user("weather in Paris and Tokyo?")]
    r = client.chat.completions.create(model="tools", messages=messages, tools=[WEATHER])
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls or []
    assert [(c.function.name, json.loads(c.function.arguments)) for c in calls] == [
        ("get_weather", {"city": "Paris"}),
        ("get_weather", {"city": "Tokyo"}),
    ]
    assert len({c.id for c in calls}) == 2
    assert mock.last["json"]["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "get_weather",
                    "description": "Weather for a city",
                    "parameters": {
                        "type": "OBJECT",
                        "properties": {"city": {"type": "STRING"}},
                        "required": ["city"],
                    },
                }
            ]
        }
    ]
    messages.append(choice.message.model_dump(exclude_none=True))
    messages += [
        {"role": "tool", "tool_call_id": calls[0].id, "content": '{"temp_c": 18}'},
        {"role": "tool", "tool_call_id": calls[1].id, "content": "rainy"},
    ]
    r = client.chat.completions.create(model="gemini-2.5-flash", messages=messages, tools=[WEATHER])
    assert r.choices[0].message.content == (
        'echo: get_weather={"temp_c": 18} get_weather={"output": "rainy"}'
    )
    contents = mock.last["json"]["contents"]
    assert contents[1:] == [
        {
            "role": "model",
            "parts": [
                {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
                {"functionCall": {"name": "get_weather", "args": {"city": "Tokyo"}}},
            ],
        },
        {
            "role": "user",
            "parts": [
                {"functionResponse": {"name": "get_weather", "response": {"temp_c": 18}}},
                {"functionResponse": {"name": "get_weather", "response": {"output": "rainy"}}},
            ],
        },
    ]


def test_named_tool_choice(any_gemini: Client) -> None:
    client, mock = any_gemini
    other = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}}
    r = client.chat.completions.create(
        model="tools",
        messages=[user("time?")],
        tools=[WEATHER, other],
        tool_choice={"type": "function", "function": {"name": "get_time"}},
    )
    assert {c.function.name for c in r.choices[0].message.tool_calls or []} == {"get_time"}
    assert mock.last["json"]["toolConfig"] == {
        "functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_time"]}
    }


def test_vision_data_url_and_https(any_gemini: Client) -> None:
    client, mock = any_gemini
    r = client.chat.completions.create(
        model="gemini-2.5-flash",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what is this?"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
                ],
            }
        ],
    )
    assert (
        r.choices[0].message.content
        == "echo: what is this? <image/png> <https://example.com/a.png>"
    )
    assert mock.last["json"]["contents"][0]["parts"][1:] == [
        {"inlineData": {"mimeType": "image/png", "data": PNG}},
        {"fileData": {"fileUri": "https://example.com/a.png", "mimeType": "image/png"}},
    ]


def test_json_object_and_json_schema(any_gemini: Client) -> None:
    client, mock = any_gemini
    r = client.chat.completions.create(
        model="json", messages=[user("as json")], response_format={"type": "json_object"}
    )
    assert json.loads(r.choices[0].message.content or "") == {"answer": "echo: as json"}
    assert mock.last["json"]["generationConfig"] == {"responseMimeType": "application/json"}
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "string"}},
        "required": ["answer"],
        "additionalProperties": False,
    }
    client.chat.completions.create(
        model="json",
        messages=[user("as json")],
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "a", "schema": schema, "strict": True},
        },
    )
    assert mock.last["json"]["generationConfig"] == {
        "responseMimeType": "application/json",
        "responseSchema": {
            "type": "OBJECT",
            "properties": {"answer": {"type": "STRING"}},
            "propertyOrdering": ["answer"],
            "required": ["answer"],
        },
    }


def test_n_candidates(any_gemini: Client) -> None:
    client, mock = any_gemini
    r = client.chat.completions.create(model="gemini-2.5-flash", messages=[user("hi")], n=2)
    assert [(c.index, c.message.content) for c in r.choices] == [
        (0, "echo: hi"),
        (1, "echo: hi #1"),
    ]
    assert mock.last["json"]["generationConfig"] == {"candidateCount": 2}


def test_blocked_prompt_is_content_filter(any_gemini: Client) -> None:
    client, _ = any_gemini
    r = client.chat.completions.create(model="blocked", messages=[user("bad")])
    assert r.choices[0].finish_reason == "content_filter"
    chunks = list(
        client.chat.completions.create(model="blocked", messages=[user("bad")], stream=True)
    )
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "content_filter"


# ---------------------------------------------------------------- streams


def test_text_stream_with_usage(any_gemini: Client) -> None:
    client, mock = any_gemini
    chunks = list(
        client.chat.completions.create(
            model="gemini-2.5-flash",
            messages=[user("stream me please")],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: stream me please"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 4
    assert mock.last["path"] == expected_path(mock, "gemini-2.5-flash", "streamGenerateContent")
    assert mock.last["query"] == {"alt": "sse"}
    plain = list(
        client.chat.completions.create(model="gemini-2.5-flash", messages=[user("x")], stream=True)
    )
    assert all(c.usage is None for c in plain)


def test_tool_call_stream(any_gemini: Client) -> None:
    client, _ = any_gemini
    calls: dict[int, dict[str, str]] = {}
    finish = None
    for c in client.chat.completions.create(
        model="tools", messages=[user("weather?")], tools=[WEATHER], stream=True
    ):
        for tc in c.choices[0].delta.tool_calls or []:
            slot = calls.setdefault(tc.index, {"id": "", "name": "", "args": ""})
            slot["id"] += tc.id or ""
            if tc.function is not None:
                slot["name"] += tc.function.name or ""
                slot["args"] += tc.function.arguments or ""
        finish = c.choices[0].finish_reason or finish
    assert finish == "tool_calls"
    assert sorted(calls) == [0, 1]
    assert [(s["name"], json.loads(s["args"])) for s in calls.values()] == [
        ("get_weather", {"city": "Paris"}),
        ("get_weather", {"city": "Tokyo"}),
    ]
    assert all(s["id"].startswith("call_") for s in calls.values())


def test_n_candidates_stream(any_gemini: Client) -> None:
    client, _ = any_gemini
    texts: dict[int, str] = {}
    finishes: dict[int, str] = {}
    for c in client.chat.completions.create(
        model="gemini-2.5-flash", messages=[user("hi")], n=2, stream=True
    ):
        for ch in c.choices:
            texts[ch.index] = texts.get(ch.index, "") + (ch.delta.content or "")
            if ch.finish_reason:
                finishes[ch.index] = ch.finish_reason
    assert texts == {0: "echo: hi", 1: "echo: hi #1"}
    assert finishes == {0: "stop", 1: "stop"}


def test_json_schema_stream(any_gemini: Client) -> None:
    client, mock = any_gemini
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}}
    text = "".join(
        c.choices[0].delta.content or ""
        for c in client.chat.completions.create(
            model="json",
            messages=[user("j")],
            stream=True,
            response_format={"type": "json_schema", "json_schema": {"name": "a", "schema": schema}},
        )
        if c.choices
    )
    assert json.loads(text) == {"answer": "echo: j"}
    assert mock.last["json"]["generationConfig"]["responseSchema"]["type"] == "OBJECT"


def test_stream_errors(any_gemini: Client) -> None:
    client, _ = any_gemini
    with pytest.raises(openai.APIError) as exc:
        list(
            client.chat.completions.create(
                model="midstream-error", messages=[user("a b c")], stream=True
            )
        )
    assert "mock broke" in str(exc.value)
    with pytest.raises(openai.APIError) as exc:
        list(
            client.chat.completions.create(model="truncated", messages=[user("a b c")], stream=True)
        )
    assert "finishReason" in str(exc.value)


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("status", "exc_type", "code"),
    [
        (400, openai.BadRequestError, "INVALID_ARGUMENT"),
        (401, openai.AuthenticationError, "UNAUTHENTICATED"),
        (403, openai.PermissionDeniedError, "PERMISSION_DENIED"),
        (404, openai.NotFoundError, "NOT_FOUND"),
        (429, openai.RateLimitError, "RESOURCE_EXHAUSTED"),
        (500, openai.InternalServerError, "INTERNAL"),
        (503, openai.InternalServerError, "UNAVAILABLE"),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_errors_keep_status(
    any_gemini: Client, status: int, exc_type: type[openai.APIStatusError], code: str, stream: bool
) -> None:
    client, _ = any_gemini
    with pytest.raises(exc_type) as exc:
        if stream:
            list(
                client.chat.completions.create(
                    model=f"error-{status}", messages=[user("x")], stream=True
                )
            )
        else:
            client.chat.completions.create(model=f"error-{status}", messages=[user("x")])
    err = exc.value
    assert err.status_code == status
    body = err.response.json()["error"]
    assert body["code"] == code
    assert f"mock failure {status}" in body["message"]
    if status == 429:
        assert body["type"] == "rate_limit_error"
        assert err.response.headers["retry-after"] == "7"  # RetryInfo 6.2s, rounded up


def test_gateway_side_400s(any_gemini: Client) -> None:
    client, mock = any_gemini
    before = len(mock.requests)
    with pytest.raises(openai.BadRequestError) as exc:
        client.chat.completions.create(model="m", messages=[user("x")], logprobs=True)
    assert exc.value.response.json()["error"]["param"] == "logprobs"
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(
            model="m", messages=[user("x"), {"role": "tool", "tool_call_id": "zz", "content": "1"}]
        )
    assert len(mock.requests) == before  # nothing reached Google


def test_missing_credentials(
    make_gateway: GatewayFactory, mock_gemini: tuple[MockGemini, ServerThread]
) -> None:
    _, upstream = mock_gemini
    gateway = make_gateway()
    for provider in ("google", "vertex-ai"):
        headers = {
            "x-portkey-provider": provider,
            "x-portkey-custom-host": upstream.url,
            "x-portkey-vertex-project-id": PROJECT,
            "Authorization": "",  # the SDK insists on a key: blank it to send none
        }
        client = client_for(gateway, headers)
        with pytest.raises(openai.AuthenticationError) as auth:
            client.chat.completions.create(model="m", messages=[user("x")])
        assert auth.value.response.json()["error"]["code"] == "missing_api_key"
    client = client_for(
        gateway, {"x-portkey-provider": "vertex-ai", "x-portkey-custom-host": upstream.url}
    )
    with pytest.raises(openai.BadRequestError) as exc:
        client.chat.completions.create(model="m", messages=[user("x")])
    assert exc.value.response.json()["error"]["code"] == "missing_vertex_project"


def test_vertex_from_settings_slug(
    make_gateway: GatewayFactory, mock_gemini: tuple[MockGemini, ServerThread]
) -> None:
    mock, upstream = mock_gemini
    settings = {
        "providers": {
            "vtx": {
                "provider": "vertex-ai",
                "vertex_token": SECRETS[2],
                "vertex_project_id": "settings-proj",
                "vertex_region": "global",
                "custom_host": upstream.url,
            }
        }
    }
    gateway = make_gateway(settings)
    client = openai.OpenAI(api_key="unused", base_url=gateway.url + "/v1", max_retries=0)
    r = client.chat.completions.create(
        model="@vtx/gemini-2.5-pro", messages=[user("from settings")]
    )
    assert r.choices[0].message.content == "echo: from settings"
    assert mock.last["path"] == (
        "/v1/projects/settings-proj/locations/global/publishers/google/models/"
        "gemini-2.5-pro:generateContent"
    )
    assert mock.last["headers"]["Authorization"] == f"Bearer {SECRETS[2]}"


def test_completion_carries_object_and_role(gemini: Client) -> None:
    client, _ = gemini
    r = client.chat.completions.create(model="gemini-2.5-flash", messages=[user("x")])
    assert r.object == "chat.completion"
    assert r.choices[0].message.role == "assistant"
