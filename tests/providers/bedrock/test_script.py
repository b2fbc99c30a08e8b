"""Issue 3's "same script": system + tools + tool result + image + json_schema, streamed and
not, gives the same answer through ``bedrock`` as through the other providers' mocks."""

from __future__ import annotations

import json

import openai
import pytest

from tests.providers.bedrock.conftest import BedrockClient
from tests.providers.bedrock.mock import MockBedrock
from tests.providers.bedrock.test_e2e import PNG, SCHEMA, WEATHER
from tests.providers.script import run_script
from tests.servers import ServerThread


def run(client: openai.OpenAI, stream: bool) -> str:
    return run_script(
        client,
        stream,
        model="anthropic.claude-sonnet-4-5-20250929-v1:0",
        png_b64=PNG,
        tool=WEATHER,
        schema=SCHEMA,
    )


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
