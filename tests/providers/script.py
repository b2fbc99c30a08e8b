"""Issue 3's "same script", shared by every provider's test: system + image + an earlier
tool call and its result + tools + json_schema, sent through the gateway with the openai
SDK, streamed and not. Each provider's test_script.py runs it against its own mock."""

from __future__ import annotations

from typing import Any

import openai


def script_messages(png_b64: str) -> list[dict[str, Any]]:
    return [
        {"role": "system", "content": "Answer as JSON."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Weather where this photo was taken?"},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png_b64}"}},
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": '{"temp_c": 21}'},
    ]


def run_script(
    client: openai.OpenAI,
    stream: bool,
    *,
    model: str,
    png_b64: str,
    tool: dict[str, Any],
    schema: dict[str, Any],
) -> str:
    """The answer's text; asserts it finished with ``stop``, streamed or not."""
    kwargs: dict[str, Any] = {
        "model": model,
        "messages": script_messages(png_b64),
        "tools": [tool],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "a", "schema": schema, "strict": True},
        },
    }
    if not stream:
        r = client.chat.completions.create(**kwargs)
        assert r.choices[0].finish_reason == "stop"
        assert r.choices[0].message.role == "assistant"
        return r.choices[0].message.content or ""
    chunks = list(client.chat.completions.create(stream=True, **kwargs))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
