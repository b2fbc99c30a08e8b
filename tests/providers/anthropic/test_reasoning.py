"""Thinking and tool loops through the gateway: the openai SDK -> gateway -> Anthropic mock
(and Claude on Vertex AI through the same mock's rawPredict paths).

The mock checks the second turn as the API does (thinking first, signature valid), so a
passing loop proves the signatures travelled through the client and back.
"""

from __future__ import annotations

import base64
import json

import openai
import pytest

from proxy.providers import reasoning
from tests.conftest import PROVIDER_KEY
from tests.providers.anthropic.conftest import CHAIN
from tests.providers.anthropic.mock import redacted, signature
from tests.providers.reasoning_script import CLIENTS, WEATHER, two_turns

MODEL = "claude-sonnet-4-5-redacted"  # the mock adds a redacted_thinking block for it
THOUGHT = "Considering: weather in Paris?"


def turn2_assistant(mock) -> dict:
    return mock.requests[-1]["json"]["messages"][1]


@pytest.mark.parametrize("client", CLIENTS)
def test_two_turn_tool_loop_keeps_signed_thinking(claude, client) -> None:
    sdk, mock = claude
    _, thought, answer = two_turns(
        sdk, client, model=MODEL, question="weather in Paris?", reasoning_effort="low"
    )
    assert thought == THOUGHT  # reasoning_content, never mixed into content
    assert answer == "results: 20C"
    turn1 = mock.requests[-2]["json"]
    assert turn1["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert turn1["max_tokens"] == 2048 + 4096
    assert turn2_assistant(mock)["content"][:2] == [
        {"type": "thinking", "thinking": THOUGHT, "signature": signature(THOUGHT)},
        {"type": "redacted_thinking", "data": redacted(THOUGHT)},
    ]
    assert turn2_assistant(mock)["content"][2]["type"] == "tool_use"
    assert mock.requests[-1]["json"]["thinking"] == turn1["thinking"]


@pytest.mark.parametrize("stream", [False, True])
def test_reasoning_is_apart_from_content(claude, stream) -> None:
    sdk, mock = claude
    kw = {
        "model": "claude-opus-4-5",
        "messages": [{"role": "user", "content": "ponder"}],
        "reasoning_effort": "high",
        "max_completion_tokens": 3000,
        "temperature": 0.2,  # OpenAI clients send it; Anthropic refuses it while thinking
        "top_p": 0.5,
    }
    if stream:
        chunks = list(sdk.chat.completions.create(stream=True, **kw))
        deltas = [c.choices[0].delta for c in chunks if c.choices]
        text = "".join(d.content or "" for d in deltas)
        thought = "".join((d.model_extra or {}).get("reasoning_content") or "" for d in deltas)
        opaque = [(d.model_extra or {}).get("reasoning_opaque") for d in deltas]
        assert len([o for o in opaque if o]) == 1  # once, whole, before the finish
        assert opaque.index(next(o for o in opaque if o)) == len(deltas) - 2
    else:
        msg = sdk.chat.completions.create(**kw).choices[0].message
        text, thought = msg.content, msg.reasoning_content
    assert text == "echo: ponder"
    assert thought == "Considering: ponder"
    sent = mock.last
    # the bound stays the client's (it counts reasoning), the budget at most half of it
    assert sent["max_tokens"] == 3000
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 1500}
    assert "temperature" not in sent and "top_p" not in sent


def test_a_client_that_drops_the_state_still_gets_an_answer(claude) -> None:
    """No reasoning_opaque back (or another provider's): that turn runs without thinking
    rather than failing on Anthropic's 400."""
    sdk, mock = claude
    messages = [{"role": "user", "content": "weather?"}]
    r = sdk.chat.completions.create(
        model=MODEL, messages=messages, tools=[WEATHER], reasoning_effort="low"
    )
    call = r.choices[0].message.tool_calls[0]
    gemini_state = reasoning.encode("google", [reasoning.Block(kind="signature", sig="x")])
    for opaque in (None, gemini_state):
        assistant = {"role": "assistant", "tool_calls": [call.model_dump()]}
        if opaque:
            assistant["reasoning_opaque"] = opaque
        turn2 = [*messages, assistant, {"role": "tool", "tool_call_id": call.id, "content": "9C"}]
        r2 = sdk.chat.completions.create(
            model=MODEL, messages=turn2, tools=[WEATHER], reasoning_effort="low"
        )
        assert r2.choices[0].message.content == "results: 9C"
        assert "thinking" not in mock.last
        assert mock.last["messages"][1]["content"][0]["type"] == "tool_use"


def test_reasoning_state_is_checked(claude) -> None:
    sdk, mock = claude
    sent = len(mock.requests)
    forged = "gw1." + base64.urlsafe_b64encode(b'{"host":"anthropic","blocks":[{"x":1}]}').decode()
    for bad in ("not-ours", forged, "gw1." + "A" * (reasoning.MAX_CHARS + 1)):
        with pytest.raises(openai.BadRequestError) as info:
            sdk.chat.completions.create(
                model=MODEL,
                messages=[
                    {"role": "user", "content": "x"},
                    {"role": "assistant", "content": "y", "reasoning_opaque": bad},
                    {"role": "user", "content": "z"},
                ],
            )
        assert info.value.body["param"] == "messages[1].reasoning_opaque"
    assert len(mock.requests) == sent  # nothing reached Anthropic


def test_thinking_rules(claude) -> None:
    sdk, mock = claude
    with pytest.raises(openai.BadRequestError) as info:
        sdk.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "x"}],
            tools=[WEATHER],
            tool_choice="required",
            reasoning_effort="low",
        )
    assert info.value.body["param"] == "tool_choice"
    with pytest.raises(openai.BadRequestError) as info:
        sdk.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "x"}],
            reasoning_effort="low",
            max_tokens=1000,
        )
    assert info.value.body["param"] == "max_tokens"
    # a model without extended thinking: the effort is dropped, as a sampling hint is
    sdk.chat.completions.create(
        model="claude-3-5-haiku-20241022",
        messages=[{"role": "user", "content": "x"}],
        reasoning_effort="high",
    )
    assert "thinking" not in mock.last and mock.last["max_tokens"] == 4096
    # Anthropic's own object (Portkey's convention) goes as sent
    native = {"type": "enabled", "budget_tokens": 3000}
    r = sdk.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "x"}], extra_body={"thinking": native}
    )
    assert mock.last["thinking"] == native and mock.last["max_tokens"] == 3000 + 4096
    assert r.choices[0].message.reasoning_content == "Considering: x"


def test_cache_control_reaches_the_marked_blocks(claude) -> None:
    sdk, mock = claude
    cc = {"type": "ephemeral"}
    policy = "policy " * 60
    tool = {**WEATHER, "cache_control": {"type": "ephemeral", "ttl": "1h"}}
    messages = [
        {"role": "system", "content": [{"type": "text", "text": policy, "cache_control": cc}]},
        {"role": "user", "content": [{"type": "text", "text": "doc " * 40, "cache_control": cc}]},
        {"role": "assistant", "content": "ok", "cache_control": cc},
        {"role": "user", "content": "question one"},
    ]
    first = sdk.chat.completions.create(model="claude-sonnet-4-5", messages=messages, tools=[tool])
    sent = mock.last
    assert sent["tools"][0]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}
    assert sent["system"] == [{"type": "text", "text": policy, "cache_control": cc}]
    assert sent["messages"][0]["content"][0]["cache_control"] == cc
    assert sent["messages"][1]["content"] == [{"type": "text", "text": "ok", "cache_control": cc}]
    assert "cache_control" not in sent["messages"][2]["content"][0]
    written = first.usage.prompt_tokens_details.cache_write_tokens
    assert written > 0 and first.usage.prompt_tokens_details.cached_tokens == 0
    messages[-1] = {"role": "user", "content": "question two"}
    second = sdk.chat.completions.create(model="claude-sonnet-4-5", messages=messages, tools=[tool])
    details = second.usage.prompt_tokens_details
    assert details.cached_tokens == written
    assert second.usage.prompt_tokens > details.cached_tokens  # prompt_tokens includes them


@pytest.fixture
def vertex_claude(make_gateway, mock_anthropic) -> tuple[openai.OpenAI, object]:
    mock, upstream = mock_anthropic
    gateway = make_gateway(CHAIN)
    sdk = openai.OpenAI(
        api_key=PROVIDER_KEY,
        base_url=gateway.url + "/v1",
        default_headers={
            "x-portkey-provider": "vertex-ai",
            "x-portkey-custom-host": upstream.url,
            "x-portkey-vertex-project-id": "proj-mock",
        },
        max_retries=0,
    )
    return sdk, mock


@pytest.mark.parametrize("client", CLIENTS)
def test_claude_on_vertex_through_chat(vertex_claude, client) -> None:
    sdk, mock = vertex_claude
    model = "claude-sonnet-4-5@20250929"
    first, thought, answer = two_turns(
        sdk, client, model=model, question="weather in Paris?", reasoning_effort="low"
    )
    assert thought == THOUGHT and answer == "results: 20C"
    got = mock.requests[-1]
    method = ":streamRawPredict" if client in ("helper", "hand") else ":rawPredict"
    base = "/v1/projects/proj-mock/locations/global/publishers/anthropic/models/"
    assert got["path"] == base + model + method
    assert got["json"]["anthropic_version"] == "vertex-2023-10-16" and "model" not in got["json"]
    assert got["json"]["messages"][1]["content"][0]["signature"] == signature(THOUGHT)
    opaque = first["reasoning_opaque"] if isinstance(first, dict) else first.reasoning_opaque
    assert reasoning.decode(opaque, "anthropic", "x") == []  # issued for vertex-ai only
    assert json.loads(got["raw"])["thinking"]["budget_tokens"] == 2048


def test_claude_on_vertex_refuses_n_and_honours_tool_choice(vertex_claude) -> None:
    sdk, mock = vertex_claude
    sent = len(mock.requests)
    with pytest.raises(openai.BadRequestError) as info:
        sdk.chat.completions.create(
            model="claude-sonnet-4-5", messages=[{"role": "user", "content": "x"}], n=2
        )
    assert info.value.body["param"] == "n" and "vertex-ai" in info.value.body["message"]
    assert len(mock.requests) == sent  # refused before any call, never a single choice
    r = sdk.chat.completions.create(
        model="claude-sonnet-4-5",
        messages=[{"role": "user", "content": "weather?"}],
        tools=[WEATHER],
        tool_choice="none",
        parallel_tool_calls=False,
    )
    assert r.choices[0].message.tool_calls is None
    assert mock.last["tool_choice"] == {"type": "none"}
