"""Thinking and thought signatures through the gateway: the openai SDK -> gateway -> the
Gemini mock, as ``google`` and as ``vertex-ai``.

The mock checks the second turn as Gemini 3 does (the current turn's first call signed),
and the tests check the signature is the one Gemini issued, not the placeholder.
"""

from __future__ import annotations

import pytest

from proxy.providers import reasoning
from tests.providers.google.mock import SKIP, signature, text_signature
from tests.providers.reasoning_script import CLIENTS, WEATHER, two_turns

ASK = 'call get_weather {"city": "Paris"}'


def sent_call(mock) -> dict:
    """The function-call part of the model turn in the last request."""
    model_turn = mock.last["json"]["contents"][1]
    assert model_turn["role"] == "model"
    return next(p for p in model_turn["parts"] if "functionCall" in p)


@pytest.mark.parametrize("client", CLIENTS)
def test_two_turn_tool_loop_keeps_the_signature(any_gemini, client) -> None:
    sdk, mock = any_gemini
    _, thought, answer = two_turns(
        sdk, client, model="gemini-3-flash", question=ASK, reasoning_effort="low"
    )
    assert thought == f"Thinking about: {ASK}"
    assert answer == 'echo: get_weather={"output": "20C"}'
    first = mock.requests[-2]["json"]["generationConfig"]["thinkingConfig"]
    assert first == {"includeThoughts": True, "thinkingLevel": "low"}
    assert sent_call(mock)["thoughtSignature"] == signature("get_weather", {"city": "Paris"})
    # thought summaries are not sent back: Gemini validates the signature, not the text
    assert all("thought" not in p for p in mock.last["json"]["contents"][1]["parts"])


@pytest.mark.parametrize("stream", [False, True])
def test_a_signature_on_the_thought_part_goes_to_the_call(gemini, stream) -> None:
    """Gemini may sign the thought rather than the call (LiteLLM #25322): the call it
    precedes takes it."""
    client = "hand" if stream else "object"
    sdk, mock = gemini
    two_turns(
        sdk, client, model="gemini-3-flash-sig-on-thought", question=ASK, reasoning_effort="high"
    )
    assert sent_call(mock)["thoughtSignature"] == signature("get_weather", {"city": "Paris"})


@pytest.mark.parametrize("stream", [False, True])
def test_usage_and_text_signatures(gemini, stream) -> None:
    sdk, mock = gemini
    kw = {
        "model": "gemini-3-flash",
        "messages": [{"role": "user", "content": "hello"}],
        "reasoning_effort": "low",
        "extra_body": {"extra_body": {"google": {"cached_content": "cachedContents/abc"}}},
    }
    if stream:
        chunks = list(
            sdk.chat.completions.create(stream=True, stream_options={"include_usage": True}, **kw)
        )
        usage = chunks[-1].usage
        deltas = [c.choices[0].delta for c in chunks if c.choices]
        text = "".join(d.content or "" for d in deltas)
        opaque = next(
            d.model_extra["reasoning_opaque"]
            for d in deltas
            if d.model_extra.get("reasoning_opaque")
        )
    else:
        r = sdk.chat.completions.create(**kw)
        usage, text = r.usage, r.choices[0].message.content
        opaque = r.choices[0].message.reasoning_opaque
    assert text == "echo: hello"
    assert mock.last["json"]["cachedContent"] == "cachedContents/abc"
    assert usage.completion_tokens_details.reasoning_tokens == 7
    assert usage.prompt_tokens_details.cached_tokens > 0
    # the text answer's last-part signature comes back on that part next turn
    sdk.chat.completions.create(
        model="gemini-3-flash",
        messages=[
            *kw["messages"],
            {"role": "assistant", "content": text, "reasoning_opaque": opaque},
            {"role": "user", "content": "again"},
        ],
    )
    model_turn = mock.last["json"]["contents"][1]
    assert model_turn["parts"] == [
        {"text": "echo: hello", "thoughtSignature": text_signature("echo: hello")}
    ]


def test_without_a_signature_the_current_turn_gets_the_placeholder(gemini) -> None:
    """A client that dropped reasoning_opaque (or a history from another provider) still
    works on Gemini 3; earlier turns are left as they are."""
    sdk, mock = gemini
    call = {
        "id": "call_x",
        "type": "function",
        "function": {"name": "get_weather", "arguments": "{}"},
    }
    foreign = reasoning.encode("anthropic", [reasoning.Block(kind="thinking", text="t", sig="s")])
    r = sdk.chat.completions.create(
        model="gemini-3-flash",
        tools=[WEATHER],
        messages=[
            {"role": "user", "content": "first"},
            {"role": "assistant", "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "call_x", "content": "1C"},
            {"role": "assistant", "content": "It is 1C."},
            {"role": "user", "content": "and now?"},
            {"role": "assistant", "tool_calls": [call], "reasoning_opaque": foreign},
            {"role": "tool", "tool_call_id": "call_x", "content": "2C"},
        ],
    )
    assert r.choices[0].message.content == 'echo: get_weather={"output": "2C"}'
    contents = mock.last["json"]["contents"]
    assert "thoughtSignature" not in contents[1]["parts"][0]  # an earlier turn: not checked
    assert contents[5]["parts"][0]["thoughtSignature"] == SKIP


def test_native_thinking_objects(gemini) -> None:
    sdk, mock = gemini
    google = {"thinking_config": {"thinking_budget": 900, "include_thoughts": True}}
    r = sdk.chat.completions.create(
        model="gemini-2.5-flash",
        messages=[{"role": "user", "content": "x"}],
        extra_body={"extra_body": {"google": google}},
    )
    assert mock.last["json"]["generationConfig"]["thinkingConfig"] == google["thinking_config"]
    assert r.choices[0].message.reasoning_content == "Thinking about: x"
    assert r.choices[0].message.content == "echo: x"
    # Portkey's convention: Anthropic's thinking object on Gemini
    sdk.chat.completions.create(
        model="gemini-2.5-flash",
        messages=[{"role": "user", "content": "x"}],
        extra_body={"thinking": {"type": "enabled", "budget_tokens": 2000}},
    )
    assert mock.last["json"]["generationConfig"]["thinkingConfig"] == {
        "includeThoughts": True,
        "thinkingBudget": 2000,
    }
