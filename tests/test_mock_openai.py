"""The mock OpenAI upstream speaks Chat Completions: the official openai SDK reads it.

Covers the behaviours the agent-loop tests rely on: a ``call <tool> <json>`` directive
answered with that tool call (streamed with its first argument fragment beside its name),
tool results answered with text, and a ``reasoner`` model's ``reasoning_content``.
"""

from __future__ import annotations

import json

import openai

from tests.mock_openai import MockOpenAI
from tests.servers import ServerThread

TOOL = {
    "type": "function",
    "function": {"name": "lookup", "parameters": {"type": "object"}},
}


def sdk(server: ServerThread) -> openai.OpenAI:
    return openai.OpenAI(api_key="sk-mock", base_url=server.url + "/v1", max_retries=0)


def test_directive_call_then_results(mock_openai: tuple[MockOpenAI, ServerThread]) -> None:
    _, server = mock_openai
    client = sdk(server)
    ask = [{"role": "user", "content": 'note\ncall lookup {"q": "x"}'}]
    r = client.chat.completions.create(model="m", messages=ask, tools=[TOOL])
    call = r.choices[0].message.tool_calls[0]
    assert r.choices[0].finish_reason == "tool_calls"
    assert (call.function.name, json.loads(call.function.arguments)) == ("lookup", {"q": "x"})
    stream = client.chat.completions.create(
        model="m", messages=ask, tools=[TOOL], stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    named = [c for c in chunks if c.choices and c.choices[0].delta.tool_calls]
    first = named[0].choices[0].delta.tool_calls[0]
    assert first.function.name == "lookup" and first.function.arguments  # rides with the name
    args = "".join(c.choices[0].delta.tool_calls[0].function.arguments for c in named)
    assert json.loads(args) == {"q": "x"}
    assert chunks[-1].usage is not None
    done = [
        *ask,
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": "found it"},
    ]
    r = client.chat.completions.create(model="m", messages=done, tools=[TOOL])
    assert r.choices[0].message.content == "results: found it"


def test_reasoner_reports_reasoning(mock_openai: tuple[MockOpenAI, ServerThread]) -> None:
    _, server = mock_openai
    client = sdk(server)
    ask = [{"role": "user", "content": "why"}]
    r = client.chat.completions.create(model="deep-reasoner", messages=ask)
    assert r.choices[0].message.model_extra["reasoning_content"] == "Considering: why"
    parts = [
        (c.choices[0].delta.model_extra or {}).get("reasoning_content")
        for c in client.chat.completions.create(model="deep-reasoner", messages=ask, stream=True)
        if c.choices
    ]
    assert "".join(p for p in parts if p) == "Considering: why"


def test_trailing_system_notes_do_not_hide_the_turn(mock_openai) -> None:
    """Harnesses (Claude Code) append system notes after the user's turn."""
    _, server = mock_openai
    ask = [
        {"role": "user", "content": 'call lookup {"q": "y"}'},
        {"role": "system", "content": "note"},
    ]
    r = sdk(server).chat.completions.create(model="m", messages=ask, tools=[TOOL])
    assert r.choices[0].message.tool_calls[0].function.name == "lookup"
