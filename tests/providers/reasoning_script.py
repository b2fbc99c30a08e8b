"""A two-turn tool conversation with reasoning, as real clients of the openai SDK write it.

Turn 1 asks with tools and ``reasoning_effort`` and gets tool calls; the client appends
the assistant message, runs the tools, and asks again. How the assistant message is kept
is the client's habit, and the reasoning state must survive each (``CLIENTS``):

- ``object``: the SDK's message object appended as is (non-streamed answer);
- ``dump``: ``message.model_dump(exclude_none=True)`` appended (non-streamed answer);
- ``helper``: the SDK's stream helper (``client.chat.completions.stream``), its final
  message appended as is;
- ``hand``: a streamed answer assembled by hand from the chunks, keeping
  ``reasoning_opaque`` as docs/reasoning.md asks of such clients.

Each provider's test runs it against its own mock, whose second-turn request must hold
the first turn's signatures (the mocks refuse it otherwise, as the providers do).
"""

from __future__ import annotations

from typing import Any

import openai

CLIENTS = ("object", "dump", "helper", "hand")
WEATHER = {  # strict: the SDK's stream helper takes no other function tools
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "strict": True,
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
            "additionalProperties": False,
        },
    },
}


def streamed(client: str) -> bool:
    return client in ("helper", "hand")


def ask(sdk: openai.OpenAI, client: str, **kw: Any) -> tuple[Any, str | None]:
    """One turn: (the assistant message as this client keeps it, its reasoning text)."""
    if client in ("object", "dump"):
        message = sdk.chat.completions.create(**kw).choices[0].message
        thought = message.reasoning_content  # type: ignore[attr-defined]
        return (message if client == "object" else message.model_dump(exclude_none=True)), thought
    if client == "helper":
        with sdk.chat.completions.stream(**kw) as stream:
            message = stream.get_final_completion().choices[0].message
        return message, message.reasoning_content  # type: ignore[attr-defined]
    return by_hand(sdk.chat.completions.create(stream=True, **kw))


def by_hand(chunks: Any) -> tuple[dict[str, Any], str | None]:
    content: list[str] = []
    thought: list[str] = []
    opaque: str | None = None
    calls: dict[int, dict[str, Any]] = {}
    for chunk in chunks:
        for choice in chunk.choices:
            d = choice.delta
            content.append(d.content or "")
            extra = d.model_extra or {}
            thought.append(extra.get("reasoning_content") or "")
            opaque = extra.get("reasoning_opaque") or opaque
            for tc in d.tool_calls or []:
                slot = calls.setdefault(
                    tc.index,
                    {"id": "", "type": "function", "function": {"name": "", "arguments": ""}},
                )
                slot["id"] = tc.id or slot["id"]
                if tc.function is not None:
                    slot["function"]["name"] += tc.function.name or ""
                    slot["function"]["arguments"] += tc.function.arguments or ""
    message: dict[str, Any] = {"role": "assistant", "content": "".join(content) or None}
    if calls:
        message["tool_calls"] = [calls[i] for i in sorted(calls)]
    if opaque:
        message["reasoning_opaque"] = opaque
    return message, "".join(thought) or None


def call_ids(message: Any) -> list[str]:
    calls = message["tool_calls"] if isinstance(message, dict) else message.tool_calls
    return [c["id"] if isinstance(c, dict) else c.id for c in calls or []]


def two_turns(
    sdk: openai.OpenAI, client: str, *, model: str, question: str, **kw: Any
) -> tuple[Any, str | None, str]:
    """(turn 1's message as kept, its reasoning text, turn 2's answer text)."""
    messages: list[Any] = [{"role": "user", "content": question}]
    kw = {"model": model, "tools": [WEATHER], **kw}
    first, thought = ask(sdk, client, messages=messages, **kw)
    ids = call_ids(first)
    assert ids, "turn 1 must call a tool"
    messages.append(first)
    for i, call_id in enumerate(ids):
        messages.append({"role": "tool", "tool_call_id": call_id, "content": f"{20 + i}C"})
    second, _ = ask(sdk, client, messages=messages, **kw)
    text = second["content"] if isinstance(second, dict) else second.content
    return first, thought, text or ""
