"""End to end through the real gateway with the official openai SDK (sync and async)."""

from __future__ import annotations

import json

import aiohttp
import openai
import pytest

from tests.conftest import PROVIDER_KEY, async_openai_client, openai_client

MESSAGES = [
    {"role": "system", "content": "be brief"},
    {"role": "user", "content": "hello gateway"},
]


def test_sync_completion_reaches_upstream_unchanged(gateway, mock_openai) -> None:
    mock, upstream = mock_openai
    client = openai_client(gateway, upstream)
    r = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=MESSAGES, temperature=0.2, seed=7
    )
    completion = r.parse()
    assert completion.choices[0].message.content == "echo: hello gateway"
    assert completion.usage is not None and completion.usage.total_tokens > 0
    assert r.headers["x-portkey-provider"] == "openai"
    assert r.headers["x-portkey-trace-id"]
    sent = mock.requests[0]
    assert sent["path"] == "/v1/chat/completions"
    assert sent["headers"]["Authorization"] == f"Bearer {PROVIDER_KEY}"
    assert sent["json"]["messages"] == MESSAGES
    assert sent["json"]["temperature"] == 0.2 and sent["json"]["seed"] == 7
    # no gateway headers leak upstream
    assert not any(h.lower().startswith("x-portkey") for h in sent["headers"])


def test_sync_stream(gateway, mock_openai) -> None:
    mock, upstream = mock_openai
    client = openai_client(gateway, upstream)
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: hello gateway"
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 3
    assert mock.completed_streams == 1


async def test_async_completion_and_stream(gateway, mock_openai) -> None:
    _mock, upstream = mock_openai
    client = async_openai_client(gateway, upstream)
    r = await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert r.choices[0].message.content == "echo: hello gateway"
    stream = await client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True
    )
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == "echo: hello gateway"
    await client.close()


def test_tool_calls_pass_through_both_ways(gateway, mock_openai) -> None:
    mock, upstream = mock_openai
    client = openai_client(gateway, upstream)
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ]
    r = client.chat.completions.create(model="tools", messages=MESSAGES, tools=tools)
    calls = r.choices[0].message.tool_calls
    assert r.choices[0].finish_reason == "tool_calls"
    assert [json.loads(c.function.arguments)["city"] for c in calls] == ["Paris", "Tokyo"]
    stream = client.chat.completions.create(
        model="tools", messages=MESSAGES, tools=tools, stream=True
    )
    args: dict[int, str] = {}
    for c in stream:
        for tc in (c.choices[0].delta.tool_calls or []) if c.choices else []:
            args[tc.index] = args.get(tc.index, "") + (tc.function.arguments or "")
    assert {i: json.loads(a)["city"] for i, a in args.items()} == {0: "Paris", 1: "Tokyo"}
    assert mock.requests[0]["json"]["tools"] == tools


def test_unknown_fields_pass_through(gateway, mock_openai) -> None:
    mock, upstream = mock_openai
    client = openai_client(gateway, upstream)
    client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "x", "cache_control": {"type": "ephemeral"}}],
        extra_body={"vendor_knob": {"a": 1}, "top_k": 5},
    )
    body = mock.requests[0]["json"]
    assert body["vendor_knob"] == {"a": 1} and body["top_k"] == 5
    assert body["messages"][0]["cache_control"] == {"type": "ephemeral"}


async def test_curl_style_request_with_portkey_api_key(gateway, mock_openai) -> None:
    mock, upstream = mock_openai
    async with aiohttp.ClientSession() as s:
        resp = await s.post(
            gateway.url + "/v1/chat/completions",
            headers={
                "x-portkey-provider": "openai",
                "x-portkey-api-key": PROVIDER_KEY,
                "x-portkey-custom-host": upstream.url + "/v1",
                "x-portkey-trace-id": "trace-abc",
                "x-portkey-metadata": '{"team": "search"}',
            },
            json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
        )
        body = await resp.json()
    assert resp.status == 200, body
    assert resp.headers["x-portkey-trace-id"] == "trace-abc"
    assert body["choices"][0]["message"]["content"] == "echo: hi"
    assert mock.requests[0]["headers"]["Authorization"] == f"Bearer {PROVIDER_KEY}"


def test_settings_provider_slug_needs_no_client_key(make_gateway, mock_openai) -> None:
    mock, upstream = mock_openai
    gw = make_gateway(
        {
            "providers": {
                "team-openai": {
                    "provider": "openai",
                    "api_key": "${TEAM_KEY}",
                    "custom_host": upstream.url + "/v1",
                    "models": ["gpt-4o-mini"],
                }
            }
        },
        env={"TEAM_KEY": "sk-settings-key-0003"},
    )
    client = openai.OpenAI(api_key="unused", base_url=gw.url + "/v1", max_retries=0)
    r = client.chat.completions.create(model="@team-openai/gpt-4o-mini", messages=MESSAGES)
    assert r.choices[0].message.content == "echo: hello gateway"
    sent = mock.requests[0]
    assert sent["json"]["model"] == "gpt-4o-mini"
    assert sent["headers"]["Authorization"] == "Bearer sk-settings-key-0003"
    models = client.models.list()
    assert [m.id for m in models.data] == ["@team-openai/gpt-4o-mini"]


def test_provider_name_as_model_slug(gateway, mock_openai) -> None:
    mock, upstream = mock_openai
    client = openai.OpenAI(
        api_key=PROVIDER_KEY,
        base_url=gateway.url + "/v1",
        default_headers={"x-portkey-custom-host": upstream.url + "/v1"},
        max_retries=0,
    )
    client.chat.completions.create(model="@openai/gpt-4o", messages=MESSAGES)
    assert mock.requests[0]["json"]["model"] == "gpt-4o"


def test_azure_openai_url_and_api_key_header(gateway, mock_openai) -> None:
    mock, upstream = mock_openai
    client = openai.OpenAI(
        api_key=PROVIDER_KEY,
        base_url=gateway.url + "/v1",
        max_retries=0,
        default_headers={
            "x-portkey-provider": "azure-openai",
            "x-portkey-custom-host": upstream.url + "/openai",
            "x-portkey-azure-deployment-id": "my-gpt4o",
            "x-portkey-azure-api-version": "2024-10-21",
        },
    )
    r = client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert r.choices[0].message.content == "echo: hello gateway"
    sent = mock.requests[0]
    assert sent["path"] == "/openai/deployments/my-gpt4o/chat/completions"
    assert sent["query"] == {"api-version": "2024-10-21"}
    assert sent["headers"]["api-key"] == PROVIDER_KEY
    assert "Authorization" not in sent["headers"]


def test_forward_headers_only_listed_and_never_credentials(gateway, mock_openai) -> None:
    mock, upstream = mock_openai
    client = openai_client(
        gateway,
        upstream,
        **{
            "x-portkey-forward-headers": "x-tenant, cookie",
            "x-tenant": "acme",
            "x-other": "no",
            "cookie": "session=1",
        },
    )
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    sent = {k.lower(): v for k, v in mock.requests[0]["headers"].items()}
    assert sent["x-tenant"] == "acme"
    assert "x-other" not in sent and "cookie" not in sent


@pytest.mark.parametrize("path", ["/health", "/ready"])
async def test_probes(gateway, path: str) -> None:
    async with aiohttp.ClientSession() as s, s.get(gateway.url + path) as resp:
        assert resp.status == 200
        assert (await resp.json())["status"] in ("ok", "ready")


def test_one_log_line_per_request_without_credentials(gateway, mock_openai, logs) -> None:
    _mock, upstream = mock_openai
    client = openai_client(gateway, upstream, **{"x-portkey-metadata": '{"team": "a"}'})
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    list(client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True))
    lines = [line for line in logs() if line.get("event") == "request"]
    assert len(lines) == 2
    plain, streamed = lines
    for line in lines:
        assert line["provider"] == "openai" and line["model"] == "gpt-4o-mini"
        assert line["status"] == 200 and line["latency_ms"] > 0
        assert line["request_id"] and line["trace_id"]
        assert line["metadata"] == {"team": "a"}
    assert plain["stream"] is False and plain["total_tokens"] > 0
    assert streamed["stream"] is True and streamed["ttfb_ms"] <= streamed["latency_ms"]
    assert PROVIDER_KEY not in json.dumps(lines)
