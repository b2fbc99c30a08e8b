"""The mock speaks Cohere's API v2: the official cohere SDK (``ClientV2``) reads it unchanged,
so the gateway's tests against the mock test against Cohere's wire format."""

from __future__ import annotations

import json

import cohere
import pytest

from tests.conftest import PROVIDER_KEY
from tests.providers.cohere.conftest import Mock

# the SDK's own deprecation noise under pydantic 2 (cohere/core/unchecked_base_model.py)
pytestmark = pytest.mark.filterwarnings("ignore:The `__fields__` attribute is deprecated")

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


@pytest.fixture
def sdk(mock_cohere: Mock) -> cohere.ClientV2:
    _, server = mock_cohere
    return cohere.ClientV2(api_key=PROVIDER_KEY, base_url=server.url, max_retries=0)


def test_chat_text(sdk: cohere.ClientV2, mock_cohere: Mock) -> None:
    mock, _ = mock_cohere
    r = sdk.chat(model="command-a-03-2025", messages=[{"role": "user", "content": "hello"}])
    assert r.finish_reason == "COMPLETE"
    assert r.message.content is not None
    assert r.message.content[0].type == "text"
    assert r.message.content[0].text == "echo: hello"
    assert r.usage is not None and r.usage.tokens is not None
    assert r.usage.tokens.input_tokens and r.usage.billed_units is not None
    seen = mock.requests[-1]
    assert seen["path"] == "/v2/chat"
    assert seen["headers"]["Authorization"] == f"Bearer {PROVIDER_KEY}"


def test_chat_tools_two_turns(sdk: cohere.ClientV2) -> None:
    messages: list = [{"role": "user", "content": "Weather in Paris and Tokyo?"}]
    r = sdk.chat(model="command-parallel", messages=messages, tools=[WEATHER])
    assert r.finish_reason == "TOOL_CALL"
    assert r.message.tool_plan == "I will look this up."
    calls = r.message.tool_calls or []
    assert [json.loads(c.function.arguments) for c in calls if c.function] == [
        {"city": "Paris"},
        {"city": "Tokyo"},
    ]
    # the v2 guide's loop: the plan and the calls back, then one tool message per call
    messages.append({"role": "assistant", "tool_plan": r.message.tool_plan, "tool_calls": calls})
    for c, result in zip(calls, ["18C sunny", "22C rain"], strict=True):
        messages.append({"role": "tool", "tool_call_id": c.id, "content": result})
    r2 = sdk.chat(model="command-parallel", messages=messages, tools=[WEATHER])
    assert r2.finish_reason == "COMPLETE"
    assert r2.message.content is not None
    assert r2.message.content[0].text == "results: 18C sunny; 22C rain"


def test_chat_stream_text(sdk: cohere.ClientV2) -> None:
    events = list(
        sdk.chat_stream(model="command-a", messages=[{"role": "user", "content": "stream me now"}])
    )
    kinds = [e.type for e in events]
    assert kinds[0] == "message-start" and kinds[-1] == "message-end"
    assert {"content-start", "content-delta", "content-end"} <= set(kinds)
    text = "".join(
        e.delta.message.content.text
        for e in events
        if e.type == "content-delta" and e.delta and e.delta.message and e.delta.message.content
    )
    assert text == "echo: stream me now"
    end = events[-1]
    assert end.delta is not None and end.delta.finish_reason == "COMPLETE"
    assert end.delta.usage is not None and end.delta.usage.tokens is not None


def test_chat_stream_tools(sdk: cohere.ClientV2) -> None:
    events = list(
        sdk.chat_stream(
            model="command-parallel",
            messages=[{"role": "user", "content": "weather?"}],
            tools=[WEATHER],
        )
    )
    kinds = [e.type for e in events]
    assert kinds.count("tool-call-start") == 2 and kinds.count("tool-call-end") == 2
    plan = "".join(
        e.delta.message.tool_plan or ""
        for e in events
        if e.type == "tool-plan-delta" and e.delta and e.delta.message
    )
    assert plan == "I will look this up."
    starts = [e for e in events if e.type == "tool-call-start"]
    assert [e.delta.message.tool_calls.function.name for e in starts] == ["get_weather"] * 2
    args: dict[int, str] = {}
    for e in events:
        if e.type == "tool-call-delta":
            fn = e.delta.message.tool_calls.function
            args[e.index] = args.get(e.index, "") + (fn.arguments or "")
    assert [json.loads(a) for _, a in sorted(args.items())] == [
        {"city": "Paris"},
        {"city": "Tokyo"},
    ]
    assert events[-1].delta.finish_reason == "TOOL_CALL"


def test_json_schema_and_images(sdk: cohere.ClientV2, mock_cohere: Mock) -> None:
    mock, _ = mock_cohere
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    r = sdk.chat(
        model="command-a",
        messages=[{"role": "user", "content": "Generate a JSON with a city"}],
        response_format={"type": "json_object", "json_schema": schema},
    )
    assert json.loads(r.message.content[0].text) == {"city": "Paris"}
    assert mock.last["response_format"] == {"type": "json_object", "json_schema": schema}
    r = sdk.chat(
        model="command-a-vision-07-2025",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what is this?"},
                    {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
                ],
            }
        ],
    )
    assert r.message.content[0].text == "echo: what is this? [1 image(s)]"


def test_mock_refuses_text_beside_tool_calls(sdk: cohere.ClientV2) -> None:
    """What the real API answers to an assistant turn with content and tool_calls."""
    call = {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
    with pytest.raises(cohere.BadRequestError) as info:
        sdk.chat(
            model="command-a",
            messages=[
                {"role": "user", "content": "x"},
                {"role": "assistant", "content": "Let me check.", "tool_calls": [call]},
                {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
            ],
            tools=[WEATHER],
        )
    assert "text content is not allowed" in info.value.body["message"]


@pytest.mark.parametrize(
    ("status", "exc"),
    [
        (400, cohere.BadRequestError),
        (401, cohere.UnauthorizedError),
        (429, cohere.TooManyRequestsError),
        (500, cohere.InternalServerError),
    ],
)
def test_errors(sdk: cohere.ClientV2, status: int, exc: type[Exception]) -> None:
    with pytest.raises(exc) as info:
        sdk.chat(model=f"error-{status}", messages=[{"role": "user", "content": "x"}])
    err = info.value
    assert err.status_code == status  # type: ignore[attr-defined]
    assert err.body == {"id": "err-mock-0001", "message": f"mock failure {status}"}  # type: ignore[attr-defined]
    if status == 429:
        assert err.headers["retry-after"] == "7"  # type: ignore[attr-defined]


def test_embed(sdk: cohere.ClientV2, mock_cohere: Mock) -> None:
    mock, _ = mock_cohere
    r = sdk.embed(
        model="embed-v4.0",
        texts=["hello", "goodbye"],
        input_type="search_document",
        embedding_types=["float"],
        output_dimension=4,
    )
    assert r.embeddings.float_ is not None
    assert [len(v) for v in r.embeddings.float_] == [4, 4]
    assert r.meta is not None and r.meta.billed_units is not None
    assert r.meta.billed_units.input_tokens == 2
    assert mock.requests[-1]["path"] == "/v2/embed"
