"""Issue 3's "same script": system + tools + tool result + image + json_schema, streamed and
not, gives equivalent answers through ``google`` and ``vertex-ai``."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from tests.providers.google.mock import MockGemini
from tests.providers.google.test_request import PNG, WEATHER

Client = tuple[openai.OpenAI, MockGemini]
SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string"}},
    "required": ["answer"],
    "additionalProperties": False,
}


def script_messages() -> list[dict[str, Any]]:
    return [
        {"role": "system", "content": "Answer as JSON."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Weather where this photo was taken?"},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
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


def run(client: openai.OpenAI, stream: bool) -> str:
    kwargs: dict[str, Any] = {
        "model": "json",
        "messages": script_messages(),
        "tools": [WEATHER],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "a", "schema": SCHEMA, "strict": True},
        },
    }
    if not stream:
        r = client.chat.completions.create(**kwargs)
        assert r.choices[0].finish_reason == "stop"
        return r.choices[0].message.content or ""
    chunks = list(client.chat.completions.create(stream=True, **kwargs))
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


@pytest.mark.parametrize("stream", [False, True])
def test_same_script(any_gemini: Client, stream: bool) -> None:
    client, mock = any_gemini
    answer = json.loads(run(client, stream))
    assert answer == {"answer": 'echo: get_weather={"temp_c": 21}'}
    sent = mock.last["json"]
    assert sent["systemInstruction"] == {"parts": [{"text": "Answer as JSON."}]}
    assert [c["role"] for c in sent["contents"]] == ["user", "model", "user"]
    assert sent["contents"][0]["parts"][1] == {"inlineData": {"mimeType": "image/png", "data": PNG}}
    assert sent["contents"][2]["parts"] == [
        {"functionResponse": {"name": "get_weather", "response": {"temp_c": 21}}}
    ]
    assert sent["generationConfig"]["responseMimeType"] == "application/json"
    assert sent["generationConfig"]["responseSchema"]["required"] == ["answer"]
    assert sent["tools"][0]["functionDeclarations"][0]["name"] == "get_weather"
