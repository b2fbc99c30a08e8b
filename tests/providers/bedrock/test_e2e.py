"""End to end: the openai SDK -> the real gateway -> the Bedrock mock, and back.

Every call that reaches the mock has passed its full SigV4 check (or API-key check), so a
success here also proves the signature the gateway computed over the path it really sent.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import openai
import pytest

from tests.conftest import PROVIDER_KEY, GatewayFactory
from tests.providers.bedrock.conftest import (
    KEY_ID,
    REGION,
    SESSION_TOKEN,
    TEMP_KEY_ID,
    BedrockClient,
)
from tests.providers.bedrock.mock import MockBedrock
from tests.servers import ServerThread

MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\nnot really a png").decode()
SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string"}},
    "required": ["answer"],
    "additionalProperties": False,
}
Mock = tuple[MockBedrock, ServerThread]


def collect(stream: Any) -> tuple[str, dict[int, dict[str, str]], list[Any]]:
    """Text, tool calls by index and all chunks of an openai SDK stream."""
    chunks = list(stream)
    text = ""
    calls: dict[int, dict[str, str]] = {}
    for c in chunks:
        for ch in c.choices:
            text += ch.delta.content or ""
            for tc in ch.delta.tool_calls or []:
                slot = calls.setdefault(tc.index, {"id": "", "name": "", "arguments": ""})
                slot["id"] = tc.id or slot["id"]
                if tc.function:
                    slot["name"] += tc.function.name or ""
                    slot["arguments"] += tc.function.arguments or ""
    return text, calls, chunks


def finish_of(chunks: list[Any]) -> str | None:
    return [ch.finish_reason for c in chunks for ch in c.choices if ch.finish_reason][-1]


# ---------------------------------------------------------------- text and turns


def test_text_system_multi_turn(bedrock_client: BedrockClient, mock_bedrock: Mock) -> None:
    mock, _ = mock_bedrock
    r = bedrock_client().chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello"},
            {"role": "developer", "content": "Use French."},
            {"role": "user", "content": "how are you?"},
        ],
        max_tokens=50,
        temperature=0.1,
        stop="END",
    )
    assert r.choices[0].message.content == "echo: how are you?"
    assert r.choices[0].finish_reason == "stop"
    assert r.id == "chatcmpl-7c5f5a8e-0000-4000-8000-000000000002"
    assert r.model == MODEL
    assert r.usage is not None and r.usage.total_tokens == r.usage.prompt_tokens + 7
    seen = mock.requests[-1]
    assert seen["model"] == MODEL and not seen["stream"]
    assert seen["json"]["system"] == [{"text": "Be brief."}, {"text": "Use French."}]
    assert [m["role"] for m in seen["json"]["messages"]] == ["user", "assistant", "user"]
    assert seen["json"]["inferenceConfig"] == {
        "maxTokens": 50,
        "temperature": 0.1,
        "stopSequences": ["END"],
    }
    auth = seen["headers"]["Authorization"]
    assert auth.startswith(f"AWS4-HMAC-SHA256 Credential={KEY_ID}/")
    assert f"/{REGION}/bedrock/aws4_request" in auth


def test_stream_text_include_usage(bedrock_client: BedrockClient, mock_bedrock: Mock) -> None:
    mock, _ = mock_bedrock
    text, calls, chunks = collect(
        bedrock_client().chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "stream me please"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert text == "echo: stream me please" and not calls
    assert chunks[0].choices[0].delta.role == "assistant"
    assert finish_of(chunks) == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 7
    assert mock.requests[-1]["raw_path"].endswith("/converse-stream")


def test_stream_bytes_split_anywhere(bedrock_client: BedrockClient) -> None:
    """The mock writes the eventstream 7 bytes at a time: frames cross every read."""
    text, _, chunks = collect(
        bedrock_client().chat.completions.create(
            model="split", messages=[{"role": "user", "content": "a b c d e f"}], stream=True
        )
    )
    assert text == "echo: a b c d e f"
    assert all(c.usage is None for c in chunks)  # include_usage not asked
    assert finish_of(chunks) == "stop"


@pytest.mark.parametrize(
    ("model", "finish"), [("max-tokens", "length"), ("guardrail", "content_filter")]
)
def test_finish_reasons(bedrock_client: BedrockClient, model: str, finish: str) -> None:
    client = bedrock_client()
    msgs = [{"role": "user", "content": "x"}]
    r = client.chat.completions.create(model=model, messages=msgs)
    assert r.choices[0].finish_reason == finish
    _, _, chunks = collect(client.chat.completions.create(model=model, messages=msgs, stream=True))
    assert finish_of(chunks) == finish


def test_cached_tokens(bedrock_client: BedrockClient) -> None:
    r = bedrock_client().chat.completions.create(
        model="cached", messages=[{"role": "user", "content": "x"}]
    )
    assert r.usage is not None and r.usage.prompt_tokens_details is not None
    assert r.usage.prompt_tokens_details.cached_tokens == 1024
    assert r.usage.prompt_tokens >= 1024


# ---------------------------------------------------------------- tools


@pytest.mark.parametrize("stream", [False, True])
def test_parallel_tool_calls(bedrock_client: BedrockClient, mock_bedrock: Mock, stream: bool):
    mock, _ = mock_bedrock
    kwargs: dict[str, Any] = {
        "model": "parallel-model",
        "messages": [{"role": "user", "content": "weather in two cities?"}],
        "tools": [WEATHER],
        "tool_choice": "required",
    }
    client = bedrock_client()
    if stream:
        text, by_index, chunks = collect(client.chat.completions.create(stream=True, **kwargs))
        calls = [by_index[i] for i in sorted(by_index)]
        assert sorted(by_index) == [0, 1]
        finish = finish_of(chunks)
    else:
        r = client.chat.completions.create(**kwargs)
        text = r.choices[0].message.content or ""
        calls = [
            {"id": c.id, "name": c.function.name, "arguments": c.function.arguments}
            for c in r.choices[0].message.tool_calls or []
        ]
        finish = r.choices[0].finish_reason
    assert text == "Let me check."
    assert finish == "tool_calls"
    assert [c["id"] for c in calls] == ["tooluse_mock0", "tooluse_mock1"]
    assert [json.loads(c["arguments"]) for c in calls] == [{"city": "Paris"}, {"city": "Tokyo"}]
    assert {c["name"] for c in calls} == {"get_weather"}
    assert mock.last["toolConfig"]["toolChoice"] == {"any": {}}


@pytest.mark.parametrize("stream", [False, True])
def test_tool_results_round_trip(
    bedrock_client: BedrockClient, mock_bedrock: Mock, stream: bool
) -> None:
    mock, _ = mock_bedrock
    messages = [
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "tooluse_a",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                },
                {
                    "id": "tooluse_b",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Tokyo"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "tooluse_a", "content": '{"temp_c": 21}'},
        {"role": "tool", "tool_call_id": "tooluse_b", "content": "rainy"},
    ]
    client = bedrock_client()
    kwargs: dict[str, Any] = {"model": MODEL, "messages": messages, "tools": [WEATHER]}
    if stream:
        text, _, chunks = collect(client.chat.completions.create(stream=True, **kwargs))
        assert finish_of(chunks) == "stop"
    else:
        text = client.chat.completions.create(**kwargs).choices[0].message.content or ""
    assert text == 'results: {"temp_c": 21}; rainy'
    results = mock.last["messages"][2]
    assert results["role"] == "user"
    assert [b["toolResult"]["toolUseId"] for b in results["content"]] == ["tooluse_a", "tooluse_b"]


# ---------------------------------------------------------------- vision and JSON


@pytest.mark.parametrize("stream", [False, True])
def test_base64_image(bedrock_client: BedrockClient, mock_bedrock: Mock, stream: bool) -> None:
    mock, _ = mock_bedrock
    kwargs: dict[str, Any] = {
        "model": MODEL,
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what is it?"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                ],
            }
        ],
    }
    client = bedrock_client()
    if stream:
        text = collect(client.chat.completions.create(stream=True, **kwargs))[0]
    else:
        text = client.chat.completions.create(**kwargs).choices[0].message.content
    assert text == "echo: what is it? [1 image(s)]"
    block = mock.last["messages"][0]["content"][1]
    assert block == {"image": {"format": "png", "source": {"bytes": PNG}}}


def test_https_image_is_400_when_image_fetch_is_off(
    make_gateway: GatewayFactory, mock_bedrock: Mock
) -> None:
    """Fetching is tests/providers/test_image_fetch.py; switched off, Converse's rule stays."""
    mock, upstream = mock_bedrock
    gateway = make_gateway({"image_fetch": {"enabled": False}})
    client = openai.OpenAI(
        api_key=PROVIDER_KEY,
        base_url=gateway.url + "/v1",
        default_headers={"x-portkey-provider": "bedrock", "x-portkey-custom-host": upstream.url},
        max_retries=0,
    )
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(
            model=MODEL,
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}
                    ],
                }
            ],
        )
    assert err.value.body["param"] == "messages[0].content[0].image_url.url"  # type: ignore[index]
    assert err.value.body["code"] == "unsupported_image_url"  # type: ignore[index]
    assert not mock.requests


@pytest.mark.parametrize("stream", [False, True])
def test_json_schema(bedrock_client: BedrockClient, mock_bedrock: Mock, stream: bool) -> None:
    mock, _ = mock_bedrock
    kwargs: dict[str, Any] = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "give JSON"}],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "reply", "schema": SCHEMA, "strict": True},
        },
    }
    client = bedrock_client()
    if stream:
        text = collect(client.chat.completions.create(stream=True, **kwargs))[0]
    else:
        text = client.chat.completions.create(**kwargs).choices[0].message.content or ""
    assert json.loads(text) == {"answer": "echo: give JSON"}
    fmt = mock.last["outputConfig"]["textFormat"]
    assert fmt["type"] == "json_schema"
    assert json.loads(fmt["structure"]["jsonSchema"]["schema"]) == SCHEMA


@pytest.mark.parametrize("stream", [False, True])
def test_json_object_via_forced_tool(bedrock_client: BedrockClient, stream: bool) -> None:
    kwargs: dict[str, Any] = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "give JSON"}],
        "response_format": {"type": "json_object"},
    }
    client = bedrock_client()
    if stream:
        text, calls, chunks = collect(client.chat.completions.create(stream=True, **kwargs))
        assert not calls and finish_of(chunks) == "stop"
    else:
        r = client.chat.completions.create(**kwargs)
        text = r.choices[0].message.content or ""
        assert r.choices[0].message.tool_calls is None
        assert r.choices[0].finish_reason == "stop"
    assert json.loads(text) == {"echo": "echo: give JSON"}


# ---------------------------------------------------------------- credentials


def test_bedrock_api_key_bearer(bedrock_client: BedrockClient, mock_bedrock: Mock) -> None:
    mock, _ = mock_bedrock
    client = bedrock_client(sigv4=False)
    r = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "k"}])
    assert r.choices[0].message.content == "echo: k"
    assert mock.requests[-1]["headers"]["Authorization"] == f"Bearer {PROVIDER_KEY}"
    assert "X-Amz-Date" not in mock.requests[-1]["headers"]
    text = collect(
        client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "k2"}], stream=True
        )
    )[0]
    assert text == "echo: k2"


def test_session_token_and_inference_profile_arn(
    bedrock_client: BedrockClient, mock_bedrock: Mock, logs: Any
) -> None:
    mock, _ = mock_bedrock
    client = bedrock_client(
        x_portkey_aws_access_key_id=TEMP_KEY_ID, x_portkey_aws_session_token=SESSION_TOKEN
    )
    arn = "arn:aws:bedrock:eu-west-3:123456789012:inference-profile/eu.anthropic.claude-3-haiku"
    r = client.chat.completions.create(model=arn, messages=[{"role": "user", "content": "t"}])
    assert r.choices[0].message.content == "echo: t"
    seen = mock.requests[-1]
    assert seen["model"] == arn
    assert "inference-profile%2Feu.anthropic" in seen["raw_path"]
    assert seen["headers"]["X-Amz-Security-Token"] == SESSION_TOKEN
    assert SESSION_TOKEN not in json.dumps(logs())


def test_settings_slug_holds_the_credentials(
    make_gateway: GatewayFactory, mock_bedrock: Mock
) -> None:
    mock, upstream = mock_bedrock
    gateway = make_gateway(
        {
            "providers": {
                "aws-prod": {
                    "provider": "bedrock",
                    "aws_access_key_id": KEY_ID,
                    "aws_secret_access_key": PROVIDER_KEY,
                    "aws_region": "ap-south-1",
                    "custom_host": upstream.url,
                }
            }
        }
    )
    client = openai.OpenAI(api_key="unused", base_url=gateway.url + "/v1", max_retries=0)
    r = client.chat.completions.create(
        model=f"@aws-prod/{MODEL}", messages=[{"role": "user", "content": "slug"}]
    )
    assert r.choices[0].message.content == "echo: slug"
    assert "/ap-south-1/bedrock/aws4_request" in mock.requests[-1]["headers"]["Authorization"]


def test_missing_credentials_is_401(bedrock_client: BedrockClient, mock_bedrock: Mock) -> None:
    mock, _ = mock_bedrock
    client = bedrock_client(sigv4=False)
    with pytest.raises(openai.AuthenticationError) as err:
        client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "x"}],
            extra_headers={"Authorization": openai.omit},  # no key of any kind
        )
    assert "x-portkey-aws-access-key-id" in str(err.value)
    assert not mock.requests


def test_wrong_secret_is_the_upstream_403(bedrock_client: BedrockClient) -> None:
    client = bedrock_client(x_portkey_aws_secret_access_key="not-the-secret")
    with pytest.raises(openai.PermissionDeniedError) as err:
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "x"}])
    assert err.value.body["code"] == "InvalidSignatureException"  # type: ignore[index]


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("status", "exc", "code"),
    [
        (400, openai.BadRequestError, "ValidationException"),
        (403, openai.PermissionDeniedError, "AccessDeniedException"),
        (404, openai.NotFoundError, "ResourceNotFoundException"),
        (429, openai.RateLimitError, "ThrottlingException"),
        (500, openai.InternalServerError, "InternalServerException"),
        (503, openai.InternalServerError, "ServiceUnavailableException"),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_native_errors_keep_their_status(
    bedrock_client: BedrockClient, status: int, exc: type[Exception], code: str, stream: bool
) -> None:
    with pytest.raises(exc) as err:  # type: ignore[call-overload]
        bedrock_client().chat.completions.create(
            model=f"error-{status}", messages=[{"role": "user", "content": "x"}], stream=stream
        )
    e = err.value
    assert isinstance(e, openai.APIStatusError) and e.status_code == status
    assert e.body["code"] == code  # type: ignore[index]
    assert f"mock failure {status}" in e.body["message"]  # type: ignore[index]


def test_request_rejected_by_converse_validation(bedrock_client: BedrockClient) -> None:
    """A conversation that starts with the assistant: Bedrock's own 400 comes through."""
    with pytest.raises(openai.BadRequestError) as err:
        bedrock_client().chat.completions.create(
            model=MODEL, messages=[{"role": "assistant", "content": "I start"}]
        )
    assert "must start with a user message" in str(err.value)


def test_n_greater_than_one_is_400(bedrock_client: BedrockClient, mock_bedrock: Mock) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        bedrock_client().chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "x"}], n=2
        )
    assert err.value.body["param"] == "n"  # type: ignore[index]
    assert not mock_bedrock[0].requests


@pytest.mark.parametrize("model", ["midstream-error", "truncated", "bad-crc"])
def test_broken_streams_end_in_an_error(bedrock_client: BedrockClient, model: str) -> None:
    stream = bedrock_client().chat.completions.create(
        model=model, messages=[{"role": "user", "content": "one two three four"}], stream=True
    )
    got: list[str] = []
    with pytest.raises(openai.APIError) as err:
        for c in stream:
            got += [ch.delta.content or "" for ch in c.choices]
    assert "".join(got).startswith("echo:")  # content before the failure was delivered
    expected = {
        "midstream-error": "throttlingException",
        "truncated": "messageStop",
        "bad-crc": "malformed eventstream",
    }[model]
    assert expected in str(err.value)


def test_exception_as_first_frame_keeps_its_status(bedrock_client: BedrockClient) -> None:
    """Nothing was sent yet, so the client sees the exception's own status, not a 200."""
    with pytest.raises(openai.RateLimitError) as err:
        bedrock_client().chat.completions.create(
            model="stream-throttled", messages=[{"role": "user", "content": "x"}], stream=True
        )
    assert err.value.body["code"] == "throttlingException"  # type: ignore[index]
