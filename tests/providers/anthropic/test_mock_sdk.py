"""The mock speaks the Messages API: the official anthropic SDK reads it unchanged."""

from __future__ import annotations

import anthropic
import httpx
import pytest

from tests.conftest import PROVIDER_KEY
from tests.providers.anthropic.mock import signature

WEATHER = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


@pytest.fixture
def sdk(mock_anthropic) -> anthropic.Anthropic:
    _, server = mock_anthropic
    return anthropic.Anthropic(base_url=server.url, api_key=PROVIDER_KEY, max_retries=0)


def test_create_text(sdk, mock_anthropic) -> None:
    mock, _ = mock_anthropic
    msg = sdk.messages.create(
        model="claude-sonnet-4-6",
        max_tokens=64,
        messages=[{"role": "user", "content": "hello"}],
    )
    assert msg.content[0].type == "text"
    assert msg.content[0].text == "echo: hello"
    assert msg.stop_reason == "end_turn"
    assert msg.usage.input_tokens > 0
    headers = {k.lower(): v for k, v in mock.requests[-1]["headers"].items()}
    assert headers["authorization"] == f"Bearer {PROVIDER_KEY}"  # what SDK 2.x sends
    assert headers["anthropic-version"] == "2026-10-21"


def test_new_version_refuses_sampling_parameters(sdk) -> None:
    """Why the gateway pins 2023-06-01: 2026-10-21 rejects temperature (as documented)."""
    with pytest.raises(anthropic.BadRequestError, match="temperature"):
        sdk.messages.create(
            model="claude-sonnet-4-6",
            max_tokens=8,
            messages=[{"role": "user", "content": "x"}],
            extra_body={"temperature": 0.2},
        )
    old = sdk.with_options(default_headers={"anthropic-version": "2023-06-01"})
    msg = old.messages.create(
        model="claude-sonnet-4-6",
        max_tokens=8,
        messages=[{"role": "user", "content": "x"}],
        extra_body={"temperature": 0.2},
    )
    assert msg.content[0].text == "echo: x"


def test_create_parallel_tools(sdk) -> None:
    msg = sdk.messages.create(
        model="claude-parallel",
        max_tokens=64,
        tools=[WEATHER],
        messages=[{"role": "user", "content": "weather in two cities"}],
    )
    assert msg.stop_reason == "tool_use"
    uses = [b for b in msg.content if b.type == "tool_use"]
    assert [u.input for u in uses] == [{"city": "Paris"}, {"city": "Tokyo"}]


def test_stream_text(sdk) -> None:
    with sdk.messages.stream(
        model="claude-sonnet-4-6",
        max_tokens=64,
        messages=[{"role": "user", "content": "stream this please"}],
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "echo: stream this please"
    assert final.content[0].text == text
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens > 1  # message_delta's cumulative count won


def test_stream_tool_use(sdk) -> None:
    with sdk.messages.stream(
        model="claude-parallel",
        max_tokens=64,
        tools=[WEATHER],
        messages=[{"role": "user", "content": "weather"}],
    ) as stream:
        kinds = [ev.type for ev in stream]
        final = stream.get_final_message()
    assert kinds[0] == "message_start"
    assert "input_json" in kinds
    assert kinds[-1] == "message_stop"
    uses = [b for b in final.content if b.type == "tool_use"]
    assert [u.input for u in uses] == [{"city": "Paris"}, {"city": "Tokyo"}]


def test_stream_error_event(sdk) -> None:
    stream = sdk.messages.stream(
        model="midstream-error", max_tokens=64, messages=[{"role": "user", "content": "a b c"}]
    )
    with pytest.raises(anthropic.APIStatusError) as info, stream as events:
        for _ in events:
            pass
    assert "Overloaded" in str(info.value)


@pytest.mark.parametrize(
    ("status", "exc"),
    [
        (400, anthropic.BadRequestError),
        (401, anthropic.AuthenticationError),
        (429, anthropic.RateLimitError),
        (529, anthropic.InternalServerError),
    ],
)
def test_errors(sdk, status, exc) -> None:
    with pytest.raises(exc) as info:
        sdk.messages.create(
            model=f"error-{status}", max_tokens=8, messages=[{"role": "user", "content": "x"}]
        )
    assert info.value.status_code == status
    assert info.value.body["error"]["message"] == f"mock failure {status}"
    if status == 429:
        assert info.value.response.headers["retry-after"] == "7"


def test_thinking_create_and_stream(sdk) -> None:
    """Thinking on: a signed thinking block first, streamed as thinking/signature deltas."""
    msg = sdk.messages.create(
        model="claude-sonnet-4-6",
        max_tokens=2048,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[{"role": "user", "content": "ponder"}],
    )
    assert [b.type for b in msg.content] == ["thinking", "text"]
    assert msg.content[0].thinking == "Considering: ponder"
    assert msg.content[0].signature == signature(msg.content[0].thinking)
    with sdk.messages.stream(
        model="claude-sonnet-4-6",
        max_tokens=2048,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[{"role": "user", "content": "ponder"}],
    ) as stream:
        kinds = [ev.type for ev in stream]
        final = stream.get_final_message()
    assert "thinking" in kinds and "signature" in kinds
    assert final.content[0].type == "thinking"
    assert final.content[0].thinking == "Considering: ponder"
    assert final.content[0].signature == msg.content[0].signature


def test_call_directive_and_count_tokens(sdk, mock_anthropic) -> None:
    mock, _ = mock_anthropic
    msg = sdk.messages.create(
        model="claude-sonnet-4-6",
        max_tokens=64,
        tools=[WEATHER],
        messages=[{"role": "user", "content": 'context\ncall get_weather {"city": "Lima"}'}],
    )
    assert msg.stop_reason == "tool_use"
    assert [(b.name, b.input) for b in msg.content] == [("get_weather", {"city": "Lima"})]
    count = sdk.messages.count_tokens(
        model="claude-sonnet-4-6", messages=[{"role": "user", "content": "one two"}]
    )
    assert count.input_tokens > 0
    assert mock.requests[-1]["path"] == "/v1/messages/count_tokens"


def test_vertex_paths_with_the_vertex_client(mock_anthropic) -> None:
    """Vertex AI's rawPredict paths, driven by the SDK's own AnthropicVertex client."""
    mock, server = mock_anthropic
    vertex = anthropic.AnthropicVertex(
        region="us-east5",
        project_id="proj-mock",
        access_token=PROVIDER_KEY,
        base_url=server.url + "/v1",
        max_retries=0,
    )
    msg = vertex.messages.create(
        model="claude-sonnet-4-5@20250929",
        max_tokens=64,
        messages=[{"role": "user", "content": "hi vertex"}],
    )
    assert msg.content[0].text == "echo: hi vertex"
    base = "/v1/projects/proj-mock/locations/us-east5/publishers/anthropic/models/"
    assert mock.requests[-1]["path"] == base + "claude-sonnet-4-5@20250929:rawPredict"
    assert "model" not in mock.requests[-1]["json"]
    with vertex.messages.stream(
        model="claude-sonnet-4-5@20250929",
        max_tokens=64,
        messages=[{"role": "user", "content": "stream vertex"}],
    ) as stream:
        assert "".join(stream.text_stream) == "echo: stream vertex"
    assert mock.requests[-1]["path"].endswith(":streamRawPredict")
    count = vertex.messages.count_tokens(
        model="claude-sonnet-4-5@20250929", messages=[{"role": "user", "content": "a b"}]
    )
    assert count.input_tokens > 0
    assert mock.requests[-1]["path"] == base + "count-tokens:rawPredict"
    no_token = httpx.post(server.url + base + "claude-x:rawPredict", json={})
    assert no_token.status_code == 401
    assert no_token.json()["error"]["status"] == "UNAUTHENTICATED"  # Google's shape


THINK = {"type": "enabled", "budget_tokens": 1024}


def test_thinking_tool_loop_is_checked_like_the_api(sdk) -> None:
    """The SDK's own loop (the Message's blocks appended as they came) passes; a turn
    without its thinking, or with a changed signature, is the API's 400."""
    ask = [{"role": "user", "content": "weather?"}]
    kw = {"model": "claude-redacted", "max_tokens": 2048, "thinking": THINK, "tools": [WEATHER]}
    msg = sdk.messages.create(messages=ask, **kw)
    assert [b.type for b in msg.content] == ["thinking", "redacted_thinking", "tool_use"]
    result = {"type": "tool_result", "tool_use_id": msg.content[2].id, "content": "22C"}
    turn2 = [
        *ask,
        {"role": "assistant", "content": msg.content},
        {"role": "user", "content": [result]},
    ]
    final = sdk.messages.create(messages=turn2, **kw)
    assert final.content[-1].text == "results: 22C"
    without = [*ask, {"role": "assistant", "content": msg.content[2:]}, turn2[2]]
    with pytest.raises(anthropic.BadRequestError, match="Expected `thinking`"):
        sdk.messages.create(messages=without, **kw)
    forged = msg.content[0].model_dump() | {"signature": "Zm9yZ2Vk"}
    tampered = [*ask, {"role": "assistant", "content": [forged, *msg.content[1:]]}, turn2[2]]
    with pytest.raises(anthropic.BadRequestError, match="Invalid `signature`"):
        sdk.messages.create(messages=tampered, **kw)
    old = sdk.with_options(default_headers={"anthropic-version": "2023-06-01"})
    with pytest.raises(anthropic.BadRequestError, match="temperature"):
        old.messages.create(messages=ask, extra_body={"temperature": 0.3}, **kw)
    with sdk.messages.stream(messages=ask, **kw) as stream:
        streamed = stream.get_final_message()
    assert [b.type for b in streamed.content] == ["thinking", "redacted_thinking", "tool_use"]
    assert streamed.content[1].data == msg.content[1].data


def test_cache_control_writes_then_reads(sdk) -> None:
    system = [
        {"type": "text", "text": "a long policy " * 50, "cache_control": {"type": "ephemeral"}}
    ]
    kw = {"model": "claude-sonnet-4-6", "max_tokens": 64, "system": system}
    first = sdk.messages.create(messages=[{"role": "user", "content": "one"}], **kw)
    assert first.usage.cache_creation_input_tokens > 0
    assert not first.usage.cache_read_input_tokens
    second = sdk.messages.create(messages=[{"role": "user", "content": "two"}], **kw)
    assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
    marks = [
        {"type": "text", "text": str(i), "cache_control": {"type": "ephemeral"}} for i in range(5)
    ]
    with pytest.raises(anthropic.BadRequestError, match="maximum of 4"):
        sdk.messages.create(messages=[{"role": "user", "content": marks}], **kw)
