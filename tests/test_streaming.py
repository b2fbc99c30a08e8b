"""Stream relay: chunks as they arrive, [DONE] at the end, errors as a final event,
and a client that hangs up cancels the upstream request."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import openai
import pytest
from aiohttp_sse_client import client as sse_client

from proxy.app import GATEWAY
from tests.conftest import PROVIDER_KEY, openai_client

MSG = [{"role": "user", "content": "one two three"}]


def headers_for(upstream_url: str) -> dict[str, str]:
    return {
        "x-portkey-provider": "openai",
        "authorization": f"Bearer {PROVIDER_KEY}",
        "x-portkey-custom-host": upstream_url + "/v1",
    }


async def test_client_disconnect_cancels_upstream(gateway, mock_openai) -> None:
    mock, upstream = mock_openai
    async with aiohttp.ClientSession() as s:
        resp = await s.post(
            gateway.url + "/v1/chat/completions",
            json={"model": "slow-stream", "messages": MSG, "stream": True},
            headers=headers_for(upstream.url),
        )
        assert resp.status == 200
        got = b""
        while got.count(b"data: ") < 3:
            got += await resp.content.readany()
        resp.close()  # hang up mid-stream
    deadline = time.monotonic() + 5
    while (mock.disconnects == 0 or mock.active_streams) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert mock.disconnects == 1 and mock.active_streams == 0
    assert mock.completed_streams == 0
    # the gateway holds no upstream connection for the abandoned stream
    connector = gateway.call(lambda: gateway.app[GATEWAY].session.connector)
    assert gateway.call(lambda: len(connector._acquired)) == 0


def test_midstream_error_becomes_final_error_event(gateway, mock_openai) -> None:
    _, upstream = mock_openai
    client = openai_client(gateway, upstream)
    received = []
    with pytest.raises(openai.APIError) as info:
        for chunk in client.chat.completions.create(
            model="midstream-error", messages=MSG, stream=True
        ):
            received.append(chunk)
    assert received, "chunks before the failure are delivered"
    assert "mock broke" in str(info.value)


def test_truncated_stream_is_an_error_not_a_silent_end(gateway, mock_openai) -> None:
    _, upstream = mock_openai
    client = openai_client(gateway, upstream)
    with pytest.raises(openai.APIError):
        list(client.chat.completions.create(model="truncated", messages=MSG, stream=True))


def test_json_answer_to_a_stream_request_is_streamed(gateway, mock_openai) -> None:
    _, upstream = mock_openai
    client = openai_client(gateway, upstream)
    chunks = list(
        client.chat.completions.create(model="json-for-stream", messages=MSG, stream=True)
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: one two three"
    assert chunks[-1].choices[0].finish_reason == "stop"  # no usage chunk: none was asked for
    assert all(c.usage is None for c in chunks)
    with_usage = list(
        client.chat.completions.create(
            model="json-for-stream",
            messages=MSG,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert with_usage[-2].choices[0].finish_reason == "stop"
    assert with_usage[-1].choices == [] and with_usage[-1].usage.total_tokens > 0


def test_upstream_error_before_first_byte_is_an_http_error(gateway, mock_openai) -> None:
    _, upstream = mock_openai
    client = openai_client(gateway, upstream)
    with pytest.raises(openai.RateLimitError) as info:
        list(client.chat.completions.create(model="error-429", messages=MSG, stream=True))
    assert info.value.status_code == 429


async def test_sse_framing_parsed_by_an_independent_eventsource_client(
    gateway, mock_openai
) -> None:
    """aiohttp-sse-client (a W3C EventSource implementation) reads our stream as-is.

    Reconnection is disabled: an LLM POST must never be re-sent by a client library.
    """
    _, upstream = mock_openai
    payload = {"model": "gpt-4o-mini", "messages": MSG, "stream": True}
    events = []
    async with sse_client.EventSource(
        gateway.url + "/v1/chat/completions",
        option={"method": "POST"},
        json=payload,
        headers=headers_for(upstream.url),
        max_connect_retry=0,
        reconnection_time=__import__("datetime").timedelta(seconds=0),
    ) as source:
        try:
            async for event in source:
                events.append(event)
                if event.data == "[DONE]":
                    break
        except ConnectionError:
            pass
    assert events[-1].data == "[DONE]"
    assert all(e.type in (None, "message") for e in events)  # no named events
    import json

    text = "".join(
        (json.loads(e.data)["choices"] or [{}])[0].get("delta", {}).get("content") or ""
        for e in events[:-1]
    )
    assert text == "echo: one two three"


async def test_stream_response_headers(gateway, mock_openai) -> None:
    _, upstream = mock_openai
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            gateway.url + "/v1/chat/completions",
            json={"model": "gpt-4o-mini", "messages": MSG, "stream": True},
            headers={**headers_for(upstream.url), "x-portkey-trace-id": "t-1"},
        ) as resp,
    ):
        body = await resp.read()
    assert resp.headers["content-type"].startswith("text/event-stream")
    assert resp.headers["x-portkey-trace-id"] == "t-1"
    assert resp.headers["x-portkey-provider"] == "openai"
    assert body.endswith(b"data: [DONE]\n\n")
    assert body.count(b"data: ") == 7  # role + 4 words + finish + [DONE]


async def test_each_way_a_stream_ends_is_its_access_line(gateway, mock_openai, logs) -> None:
    """The line is written by a watcher the relay's pump ends: after the last event, after
    an upstream failure mid-stream, and when the client hangs up — one line each, with the
    status the client saw and the time to the first byte."""
    _, upstream = mock_openai
    async with aiohttp.ClientSession() as s:
        for model in ("gpt-4o-mini", "midstream-error", "truncated"):
            body = {"model": model, "messages": MSG, "stream": True}
            async with s.post(
                gateway.url + "/v1/chat/completions", json=body, headers=headers_for(upstream.url)
            ) as resp:
                assert resp.status == 200
                await resp.read()
        resp = await s.post(
            gateway.url + "/v1/chat/completions",
            json={"model": "slow-stream", "messages": MSG, "stream": True},
            headers=headers_for(upstream.url),
        )
        got = b""
        while got.count(b"data: ") < 3:
            got += await resp.content.readany()
        resp.close()  # hang up mid-stream
    deadline = time.monotonic() + 5
    while len([x for x in logs() if x.get("event") == "request"]) < 4:
        assert time.monotonic() < deadline, logs()
        await asyncio.sleep(0.02)
    lines = [x for x in logs() if x.get("event") == "request"]
    ends = [(x["model"], x["status"], x.get("error_type")) for x in lines]
    assert ends[:3] == [
        ("gpt-4o-mini", 200, None),
        ("midstream-error", 500, "server_error"),  # the provider's error event, its type
        ("truncated", 502, "api_error"),  # cut off before [DONE]
    ]
    assert ends[3] == ("slow-stream", 499, "client_closed")
    assert all(x["stream"] and x["ttfb_ms"] > 0 for x in lines)
    assert lines[0]["completion_tokens"] > 0
