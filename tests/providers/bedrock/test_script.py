"""Issue 3's "same script": system + tools + tool result + image + json_schema, streamed and
not, gives the same answer through ``bedrock`` as through the other providers' mocks."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from tests.providers.bedrock.conftest import BedrockClient
from tests.providers.bedrock.mock import MockBedrock
from tests.providers.bedrock.test_e2e import PNG, SCHEMA, WEATHER
from tests.servers import ServerThread


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
        "model": "anthropic.claude-sonnet-4-5-20250929-v1:0",
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
def test_same_script(
    bedrock_client: BedrockClient, mock_bedrock: tuple[MockBedrock, ServerThread], stream: bool
) -> None:
    mock, _ = mock_bedrock
    answer = json.loads(run(bedrock_client(), stream))
    assert answer == {"answer": 'results: {"temp_c": 21}'}
    sent = mock.last
    assert sent["system"] == [{"text": "Answer as JSON."}]
    assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "user"]
    assert sent["messages"][0]["content"][1] == {
        "image": {"format": "png", "source": {"bytes": PNG}}
    }
    assert sent["messages"][1]["content"] == [
        {"toolUse": {"toolUseId": "call_1", "name": "get_weather", "input": {"city": "Paris"}}}
    ]
    assert sent["messages"][2]["content"] == [
        {"toolResult": {"toolUseId": "call_1", "content": [{"json": {"temp_c": 21}}]}}
    ]
    assert sent["toolConfig"]["tools"][0]["toolSpec"]["name"] == "get_weather"
    assert json.loads(sent["outputConfig"]["textFormat"]["structure"]["jsonSchema"]["schema"]) == (
        SCHEMA
    )
