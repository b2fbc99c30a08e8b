"""The mock speaks Converse/ConverseStream: the official boto3 client reads it unchanged.

boto3 signs with SigV4 and decodes the eventstream itself, so these tests also prove the
mock's signature check and its binary frames (CRCs included).
"""

from __future__ import annotations

import json

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

from tests.conftest import PROVIDER_KEY
from tests.providers.bedrock.conftest import KEY_ID, REGION, SESSION_TOKEN, TEMP_KEY_ID

WEATHER = {
    "toolSpec": {
        "name": "get_weather",
        "description": "Weather for a city",
        "inputSchema": {
            "json": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            }
        },
    }
}
MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"


def client(url: str, key_id: str = KEY_ID, secret: str = PROVIDER_KEY, token: str | None = None):
    return boto3.client(
        "bedrock-runtime",
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        aws_session_token=token,
        config=Config(retries={"max_attempts": 1}),
    )


@pytest.fixture
def sdk(mock_bedrock):
    return client(mock_bedrock[1].url)


def test_converse_text(sdk, mock_bedrock) -> None:
    mock, _ = mock_bedrock
    r = sdk.converse(
        modelId=MODEL,
        system=[{"text": "be brief"}],
        messages=[{"role": "user", "content": [{"text": "hello"}]}],
        inferenceConfig={"maxTokens": 32, "temperature": 0.2},
    )
    assert r["output"]["message"]["content"] == [{"text": "echo: hello"}]
    assert r["stopReason"] == "end_turn"
    assert r["usage"]["totalTokens"] == r["usage"]["inputTokens"] + 7
    seen = mock.requests[-1]
    assert seen["model"] == MODEL
    assert seen["raw_path"] == "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"
    assert seen["headers"]["Authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={KEY_ID}/")


def test_converse_tool_use(sdk) -> None:
    r = sdk.converse(
        modelId=MODEL,
        messages=[{"role": "user", "content": [{"text": "weather?"}]}],
        toolConfig={"tools": [WEATHER], "toolChoice": {"any": {}}},
    )
    (block,) = r["output"]["message"]["content"]
    assert block["toolUse"]["name"] == "get_weather"
    assert block["toolUse"]["input"] == {"city": "Paris"}
    assert r["stopReason"] == "tool_use"


def test_converse_stream_text_and_tools(sdk) -> None:
    r = sdk.converse_stream(
        modelId="amazon.nova-pro-v1:0",
        messages=[{"role": "user", "content": [{"text": "stream this please"}]}],
    )
    events = list(r["stream"])
    kinds = [next(iter(e)) for e in events]
    assert kinds[0] == "messageStart" and kinds[-2:] == ["messageStop", "metadata"]
    text = "".join(
        e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e
    )
    assert text == "echo: stream this please"

    r = sdk.converse_stream(
        modelId="parallel-model",
        messages=[{"role": "user", "content": [{"text": "weather?"}]}],
        toolConfig={"tools": [WEATHER], "toolChoice": {"auto": {}}},
    )
    events = list(r["stream"])
    starts = [
        e["contentBlockStart"]["start"]["toolUse"] for e in events if "contentBlockStart" in e
    ]
    assert [s["toolUseId"] for s in starts] == ["tooluse_mock0", "tooluse_mock1"]
    assert events[-2]["messageStop"]["stopReason"] == "tool_use"


def test_stream_exception_frame(sdk) -> None:
    r = sdk.converse_stream(
        modelId="midstream-error", messages=[{"role": "user", "content": [{"text": "a b c d"}]}]
    )
    with pytest.raises(botocore.exceptions.EventStreamError, match="throttlingException"):
        list(r["stream"])


def test_session_token_and_errors(mock_bedrock) -> None:
    url = mock_bedrock[1].url
    temp = client(url, TEMP_KEY_ID, token=SESSION_TOKEN)
    r = temp.converse(modelId=MODEL, messages=[{"role": "user", "content": [{"text": "x"}]}])
    assert r["output"]["message"]["content"][0]["text"] == "echo: x"
    msgs = [{"role": "user", "content": [{"text": "x"}]}]
    with pytest.raises(botocore.exceptions.ClientError) as err:
        client(url, TEMP_KEY_ID).converse(modelId=MODEL, messages=msgs)  # token missing
    assert err.value.response["Error"]["Code"] == "UnrecognizedClientException"
    with pytest.raises(botocore.exceptions.ClientError) as err:
        client(url, secret="wrong-secret").converse(modelId=MODEL, messages=msgs)
    assert err.value.response["Error"]["Code"] == "InvalidSignatureException"
    with pytest.raises(botocore.exceptions.ClientError) as err:
        client(url).converse(modelId="error-429", messages=msgs)
    assert err.value.response["Error"]["Code"] == "ThrottlingException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    with pytest.raises(botocore.exceptions.ClientError) as err:
        client(url).converse(
            modelId=MODEL, messages=[{"role": "assistant", "content": msgs[0]["content"]}]
        )
    assert err.value.response["Error"]["Code"] == "ValidationException"


CLAUDE_BODY = {
    "anthropic_version": "bedrock-2023-05-31",
    "max_tokens": 64,
    "messages": [{"role": "user", "content": "hello claude"}],
}


def test_invoke_claude_with_boto3(mock_bedrock) -> None:
    """InvokeModel with Anthropic's Messages body: the answer is a Message."""
    mock, upstream = mock_bedrock
    rt = client(upstream.url)
    r = rt.invoke_model(modelId="us." + MODEL, body=json.dumps(CLAUDE_BODY))
    msg = json.loads(r["body"].read())
    assert msg["type"] == "message"
    assert msg["content"] == [{"type": "text", "text": "echo: hello claude"}]
    assert mock.requests[-1]["raw_path"].endswith("/invoke")
    with pytest.raises(botocore.exceptions.ClientError) as info:
        rt.invoke_model(modelId=MODEL, body=json.dumps({**CLAUDE_BODY, "model": "x"}))
    assert info.value.response["Error"]["Code"] == "ValidationException"


def test_invoke_claude_stream_with_boto3(mock_bedrock) -> None:
    """InvokeModelWithResponseStream: chunk frames, each a base64 Messages event."""
    _, upstream = mock_bedrock
    rt = client(upstream.url)
    body = {**CLAUDE_BODY, "tools": [{"name": "get_weather", "input_schema": {"type": "object"}}]}
    body["messages"] = [{"role": "user", "content": 'call get_weather {"city": "Oslo"}'}]
    r = rt.invoke_model_with_response_stream(modelId=MODEL, body=json.dumps(body))
    events = [json.loads(e["chunk"]["bytes"]) for e in r["body"]]
    kinds = [e["type"] for e in events]
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert "amazon-bedrock-invocationMetrics" in events[-1]
    args = "".join(
        e["delta"]["partial_json"]
        for e in events
        if e["type"] == "content_block_delta" and e["delta"]["type"] == "input_json_delta"
    )
    assert json.loads(args) == {"city": "Oslo"}


THINKING = {"thinking": {"type": "enabled", "budget_tokens": 1024}}


def test_converse_thinking_tool_loop_with_boto3(sdk) -> None:
    """boto3's own loop (the output message appended as it came) passes; without the
    reasoning block, or with a changed signature, it is Bedrock's ValidationException."""
    ask = [{"role": "user", "content": [{"text": "weather?"}]}]
    kw = {
        "modelId": "claude-redacted-profile",
        "additionalModelRequestFields": THINKING,
        "toolConfig": {"tools": [WEATHER], "toolChoice": {"auto": {}}},
    }
    r = sdk.converse(messages=ask, **kw)
    out = r["output"]["message"]
    kinds = [next(iter(b)) for b in out["content"]]
    assert kinds == ["reasoningContent", "reasoningContent", "toolUse"]
    assert isinstance(out["content"][1]["reasoningContent"]["redactedContent"], bytes)
    use = out["content"][2]["toolUse"]
    result = {"toolResult": {"toolUseId": use["toolUseId"], "content": [{"text": "22C"}]}}
    turn2 = [*ask, out, {"role": "user", "content": [result]}]
    r2 = sdk.converse(messages=turn2, **kw)
    assert r2["output"]["message"]["content"][-1] == {"text": "results: 22C"}
    without = [*ask, {"role": "assistant", "content": out["content"][2:]}, turn2[2]]
    with pytest.raises(botocore.exceptions.ClientError, match="Expected `thinking`"):
        sdk.converse(messages=without, **kw)
    forged = {"reasoningContent": {"reasoningText": {"text": "x", "signature": "Zm9v"}}}
    tampered = [*ask, {"role": "assistant", "content": [forged, *out["content"][1:]]}, turn2[2]]
    with pytest.raises(botocore.exceptions.ClientError, match="Invalid `signature`"):
        sdk.converse(messages=tampered, **kw)
    events = list(sdk.converse_stream(messages=ask, **kw)["stream"])
    pieces = [
        e["contentBlockDelta"]["delta"]["reasoningContent"]
        for e in events
        if "reasoningContent" in e.get("contentBlockDelta", {}).get("delta", {})
    ]
    thought = out["content"][0]["reasoningContent"]["reasoningText"]
    assert "".join(p.get("text", "") for p in pieces) == thought["text"]
    assert [p["signature"] for p in pieces if "signature" in p] == [thought["signature"]]


def test_converse_cache_points_with_boto3(sdk) -> None:
    system = [{"text": "policy " * 80}, {"cachePoint": {"type": "default"}}]
    r = sdk.converse(
        modelId=MODEL, system=system, messages=[{"role": "user", "content": [{"text": "a"}]}]
    )
    written = r["usage"]["cacheWriteInputTokens"]
    assert written > 0 and r["usage"]["cacheReadInputTokens"] == 0
    r = sdk.converse(
        modelId=MODEL, system=system, messages=[{"role": "user", "content": [{"text": "b"}]}]
    )
    assert r["usage"]["cacheReadInputTokens"] == written
    bad = [{"text": "x"}, {"cachePoint": {"type": "default", "ttl": "2h"}}]
    with pytest.raises(botocore.exceptions.ClientError, match="ttl"):
        sdk.converse(
            modelId=MODEL, system=bad, messages=[{"role": "user", "content": [{"text": "c"}]}]
        )
