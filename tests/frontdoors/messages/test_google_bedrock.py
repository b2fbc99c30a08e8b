"""The anthropic SDK -> /v1/messages -> Gemini, Vertex AI and Bedrock (their mocks).

Gemini, and Bedrock models other than Claude, are translated (through the chat form and
the provider's adapter). Claude on Vertex AI (rawPredict) and on Bedrock (InvokeModel) is
native: the Messages body goes in the host's dialect, the answer comes back as sent.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import anthropic
import pytest

from tests.conftest import PROVIDER_KEY
from tests.providers.google.mock import signature

LOOKUP = {
    "name": "lookup",
    "input_schema": {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {"q": {"type": "string", "format": "uri"}},
        "required": ["q"],
        "additionalProperties": False,
    },
}
PIXEL = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 16).decode()


def run(sdk: anthropic.Anthropic, stream: bool, **kw: Any) -> Any:
    kw.setdefault("max_tokens", 256)
    if stream:
        with sdk.messages.stream(**kw) as s:
            return s.get_final_message()
    return sdk.messages.create(**kw)


@pytest.mark.parametrize("stream", [False, True])
def test_gemini_text_image_and_tool_loop(client, mock_gemini, stream) -> None:
    mock, upstream = mock_gemini
    sdk = client("google", upstream)
    image = {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": PIXEL},
    }
    msg = run(
        sdk,
        stream,
        model="gemini-2.5-flash",
        system="be brief",
        messages=[{"role": "user", "content": [image, {"type": "text", "text": "look"}]}],
    )
    assert msg.content[0].text == "echo: <image/png> look"
    assert msg.stop_reason == "end_turn" and msg.usage.output_tokens > 0
    sent = mock.last["json"]
    assert sent["systemInstruction"] == {"parts": [{"text": "be brief"}]}
    ask = [{"role": "user", "content": 'call lookup {"q": "https://x.example"}'}]
    msg = run(sdk, stream, model="gemini-2.5-flash", tools=[LOOKUP], messages=ask)
    assert msg.stop_reason == "tool_use"
    (use,) = msg.content
    assert (use.name, use.input) == ("lookup", {"q": "https://x.example"})
    turn2 = [
        *ask,
        {"role": "assistant", "content": [use.model_dump(exclude_none=True)]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "42"}],
        },
    ]
    msg = run(sdk, stream, model="gemini-2.5-flash", tools=[LOOKUP], messages=turn2)
    assert msg.content[0].text.startswith("echo: lookup=")
    assert "42" in msg.content[0].text


def test_gemini_thinking_budget_becomes_a_thinking_config(client, mock_gemini) -> None:
    mock, upstream = mock_gemini
    sdk = client("google", upstream)
    run(
        sdk,
        False,
        model="gemini-2.5-flash",
        max_tokens=4096,
        thinking={"type": "enabled", "budget_tokens": 2048},
        messages=[{"role": "user", "content": "x"}],
    )
    config = mock.last["json"]["generationConfig"]
    assert config["thinkingConfig"] == {"includeThoughts": True, "thinkingBudget": 1024}
    assert config["maxOutputTokens"] == 4096


@pytest.mark.parametrize("stream", [False, True])
def test_claude_on_vertex_is_native(client, mock_anthropic, stream) -> None:
    mock, upstream = mock_anthropic
    sdk = client("vertex-ai", upstream, anthropic_beta="effort-2025-11-24")
    msg = run(
        sdk,
        stream,
        model="claude-sonnet-4-5@20250929",
        max_tokens=2048,  # above the budget, as the API requires
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[{"role": "user", "content": "hi vertex"}],
        extra_body={"a_new_field": True},
    )
    assert [b.type for b in msg.content] == ["thinking", "text"]
    assert msg.content[1].text == "echo: hi vertex"
    got = mock.requests[-1]
    method = ":streamRawPredict" if stream else ":rawPredict"
    base = "/v1/projects/proj-mock/locations/us-east5/publishers/anthropic/models/"
    assert got["path"] == base + "claude-sonnet-4-5@20250929" + method
    assert got["headers"]["Authorization"] == f"Bearer {PROVIDER_KEY}"
    assert got["headers"]["anthropic-beta"] == "effort-2025-11-24"
    assert got["json"]["anthropic_version"] == "vertex-2023-10-16"
    assert got["json"]["a_new_field"] is True and "model" not in got["json"]
    count = sdk.messages.count_tokens(
        model="claude-sonnet-4-5@20250929", messages=[{"role": "user", "content": "a b"}]
    )
    assert count.input_tokens > 0
    assert mock.requests[-1]["path"] == base + "count-tokens:rawPredict"


@pytest.mark.parametrize("stream", [False, True])
def test_claude_on_bedrock_is_native_and_signed(client, mock_bedrock, stream) -> None:
    mock, upstream = mock_bedrock
    sdk = client("bedrock", upstream, anthropic_beta="interleaved-thinking-2025-05-14")
    model = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    ask = [{"role": "user", "content": 'call lookup {"q": "abc"}'}]
    msg = run(sdk, stream, model=model, tools=[LOOKUP], messages=ask)
    assert msg.stop_reason == "tool_use"
    assert msg.content[0].input == {"q": "abc"}
    got = mock.requests[-1]  # the mock checked the SigV4 signature over this body
    op = "invoke-with-response-stream" if stream else "invoke"
    assert got["raw_path"] == f"/model/{model}/{op}"  # as yarl sends it, as it was signed
    assert got["json"]["anthropic_version"] == "bedrock-2023-05-31"
    assert got["json"]["anthropic_beta"] == ["interleaved-thinking-2025-05-14"]
    assert "model" not in got["json"] and "stream" not in got["json"]
    assert got["json"]["tools"] == [LOOKUP]


@pytest.mark.parametrize("stream", [False, True])
def test_other_bedrock_models_are_translated_to_converse(client, mock_bedrock, stream) -> None:
    mock, upstream = mock_bedrock
    sdk = client("bedrock", upstream)
    msg = run(
        sdk,
        stream,
        model="amazon.nova-pro-v1:0",
        system=[{"type": "text", "text": "terse", "cache_control": {"type": "ephemeral"}}],
        messages=[{"role": "user", "content": "hello nova"}],
    )
    assert msg.content[0].text == "echo: hello nova"
    assert msg.usage.input_tokens > 0
    got = mock.requests[-1]
    assert got["raw_path"].endswith("/converse-stream" if stream else "/converse")
    assert got["json"]["system"] == [{"text": "terse"}]


def test_bedrock_count_tokens_is_estimated(client, mock_bedrock) -> None:
    mock, upstream = mock_bedrock
    sdk = client("bedrock", upstream)
    r = sdk.messages.with_raw_response.count_tokens(
        model="anthropic.claude-3-haiku-20240307-v1:0",
        messages=[{"role": "user", "content": json.dumps({"a": "b" * 400})}],
    )
    assert r.parse().input_tokens > 50
    assert r.headers["x-gateway-token-count"] == "estimated"
    assert mock.requests == []


@pytest.mark.parametrize("stream", [False, True])
def test_gemini_signatures_survive_a_messages_client(client, mock_gemini, stream) -> None:
    """Claude Code -> /v1/messages -> Gemini 3 (LiteLLM #25322): the signature rides in a
    thinking block's signature, which the client sends back as is, and reaches Gemini."""
    mock, upstream = mock_gemini
    sdk = client("google", upstream)
    kw: dict[str, Any] = {
        "model": "gemini-3-flash",
        "tools": [LOOKUP],
        "max_tokens": 2048,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
    }
    ask = [{"role": "user", "content": 'call lookup {"q": "https://x.example"}'}]
    msg = run(sdk, stream, messages=ask, **kw)
    assert msg.content[0].type == "thinking"
    assert msg.content[0].thinking == f"Thinking about: {ask[0]['content']}"
    use = next(b for b in msg.content if b.type == "tool_use")
    result = {"type": "tool_result", "tool_use_id": use.id, "content": "ok"}
    turn2 = [
        *ask,
        {"role": "assistant", "content": msg.content},
        {"role": "user", "content": [result]},
    ]
    run(sdk, stream, messages=turn2, **kw)
    parts = mock.last["json"]["contents"][1]["parts"]
    call = next(p for p in parts if "functionCall" in p)
    assert call["thoughtSignature"] == signature("lookup", {"q": "https://x.example"})
