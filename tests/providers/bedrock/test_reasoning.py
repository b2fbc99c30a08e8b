"""Thinking and prompt caching on Bedrock: the openai SDK -> gateway -> the Bedrock mock.

Claude asked to think or to cache goes through InvokeModel with Anthropic's body (the
Anthropic translation, the mock's Anthropic checks); other models, and Claude behind an
identifier the gateway cannot read (an application inference profile), through Converse
(``additionalModelRequestFields.thinking``, ``reasoningContent``, ``cachePoint``).
"""

from __future__ import annotations

import openai
import pytest

from tests.providers.anthropic.mock import redacted, signature
from tests.providers.reasoning_script import CLIENTS, WEATHER, streamed, two_turns

CLAUDE = "anthropic.claude-sonnet-4-5-20250929-redacted-v1:0"
PROFILE = "arn:aws:bedrock:eu-west-3:123456789012:application-inference-profile/redacted1"
THOUGHT = "Considering: weather in Paris?"


@pytest.mark.parametrize("client", CLIENTS)
def test_claude_thinks_through_invoke_model(bedrock_client, mock_bedrock, client) -> None:
    mock, _ = mock_bedrock
    sdk = bedrock_client()
    _, thought, answer = two_turns(
        sdk, client, model=CLAUDE, question="weather in Paris?", reasoning_effort="medium"
    )
    assert thought == THOUGHT and answer == "results: 20C"
    first, second = mock.requests[-2], mock.requests[-1]
    op = "invoke-with-response-stream" if streamed(client) else "invoke"
    assert first["raw_path"].endswith("/" + op) and first["invoke"]
    body = first["json"]
    assert body["anthropic_version"] == "bedrock-2023-05-31"
    assert "model" not in body and "stream" not in body
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 8192}
    assert second["json"]["messages"][1]["content"][:2] == [
        {"type": "thinking", "thinking": THOUGHT, "signature": signature(THOUGHT)},
        {"type": "redacted_thinking", "data": redacted(THOUGHT)},
    ]


@pytest.mark.parametrize("client", CLIENTS)
def test_converse_reasoning_round_trip(bedrock_client, mock_bedrock, client) -> None:
    """Claude behind a profile ARN, thinking asked with Claude's own object: Converse."""
    mock, _ = mock_bedrock
    sdk = bedrock_client()
    thinking = {"type": "enabled", "budget_tokens": 2048}
    _, thought, answer = two_turns(
        sdk,
        client,
        model=PROFILE,
        question="weather in Paris?",
        tool_choice="auto",
        extra_body={"thinking": thinking},
    )
    assert thought == THOUGHT and answer == "results: 20C"
    first, second = mock.requests[-2], mock.requests[-1]
    assert "/converse" in first["raw_path"] and first["json"]["additionalModelRequestFields"] == {
        "thinking": thinking
    }
    assert second["json"]["messages"][1]["content"][:2] == [
        {"reasoningContent": {"reasoningText": {"text": THOUGHT, "signature": signature(THOUGHT)}}},
        {"reasoningContent": {"redactedContent": redacted(THOUGHT)}},
    ]


def test_converse_cache_points_and_usage(bedrock_client, mock_bedrock) -> None:
    mock, _ = mock_bedrock
    sdk = bedrock_client()
    cc = {"type": "ephemeral"}
    tool = {**WEATHER, "cache_control": {"type": "ephemeral", "ttl": "1h"}}
    messages = [
        {
            "role": "system",
            "content": [{"type": "text", "text": "policy " * 50, "cache_control": cc}],
        },
        {"role": "user", "content": [{"type": "text", "text": "doc " * 40, "cache_control": cc}]},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "first question"},
    ]
    first = sdk.chat.completions.create(
        model="amazon.nova-pro-v1:0", messages=messages, tools=[tool]
    )
    sent = mock.last
    point = {"cachePoint": {"type": "default"}}
    assert sent["system"][1] == point
    assert sent["toolConfig"]["tools"][1] == {"cachePoint": {"type": "default", "ttl": "1h"}}
    assert sent["messages"][0]["content"] == [{"text": "doc " * 40}, point]
    written = first.usage.prompt_tokens_details.cache_write_tokens
    assert written > 0 and first.usage.prompt_tokens_details.cached_tokens == 0
    messages[-1] = {"role": "user", "content": "second question"}
    second = sdk.chat.completions.create(
        model="amazon.nova-pro-v1:0", messages=messages, tools=[tool]
    )
    assert second.usage.prompt_tokens_details.cached_tokens == written
    assert second.usage.prompt_tokens >= written


@pytest.mark.parametrize("stream", [False, True])
def test_claude_cache_control_goes_through_invoke_model(
    bedrock_client, mock_bedrock, stream
) -> None:
    mock, _ = mock_bedrock
    sdk = bedrock_client()
    cc = {"type": "ephemeral"}
    messages = [
        {
            "role": "system",
            "content": [{"type": "text", "text": "rules " * 50, "cache_control": cc}],
        },
        {"role": "user", "content": "hi"},
    ]
    kw = {"model": CLAUDE, "messages": messages}
    if stream:
        chunks = list(
            sdk.chat.completions.create(stream=True, stream_options={"include_usage": True}, **kw)
        )
        usage = chunks[-1].usage
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    else:
        r = sdk.chat.completions.create(**kw)
        usage, text = r.usage, r.choices[0].message.content
    assert text == "echo: hi"
    assert mock.requests[-1]["invoke"]
    assert mock.last["system"] == [{"type": "text", "text": "rules " * 50, "cache_control": cc}]
    assert usage.prompt_tokens_details.cache_write_tokens > 0
    # no thinking, no cache_control: Converse, as before
    sdk.chat.completions.create(model=CLAUDE, messages=[{"role": "user", "content": "plain"}])
    assert "/converse" in mock.requests[-1]["raw_path"]


def test_claude_on_invoke_model_refuses_n(bedrock_client, mock_bedrock) -> None:
    mock, _ = mock_bedrock
    sent = len(mock.requests)
    with pytest.raises(openai.BadRequestError) as info:
        bedrock_client().chat.completions.create(
            model=CLAUDE, messages=[{"role": "user", "content": "x"}], n=3, reasoning_effort="low"
        )
    assert info.value.body["param"] == "n" and "bedrock" in info.value.body["message"]
    assert len(mock.requests) == sent
