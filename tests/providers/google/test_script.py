"""Issue 3's "same script": system + tools + tool result + image + json_schema, streamed and
not, gives equivalent answers through ``google`` and ``vertex-ai``."""

from __future__ import annotations

import json

import openai
import pytest

from tests.providers.google.mock import MockGemini
from tests.providers.google.test_request import PNG, WEATHER
from tests.providers.script import run_script

Client = tuple[openai.OpenAI, MockGemini]
SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string"}},
    "required": ["answer"],
    "additionalProperties": False,
}


def run(client: openai.OpenAI, stream: bool) -> str:
    return run_script(client, stream, model="json", png_b64=PNG, tool=WEATHER, schema=SCHEMA)


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
