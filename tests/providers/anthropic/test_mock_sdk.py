"""The mock speaks the Messages API: the official anthropic SDK reads it unchanged."""

from __future__ import annotations

import anthropic
import httpx
import pytest

from tests.conftest import PROVIDER_KEY

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
    assert msg.content[0].signature.startswith("sig_mock_")
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
