"""``upstream.read_timeout``: the silence tolerated from a provider.

A provider that goes silent before its headers, in the middle of a JSON answer or in the
middle of a stream is cut off after the read timeout (504, or the stream's error event);
one that keeps sending, however slowly and however long in all, is not; a client that
leaves is not a timeout, and the gateway goes on answering.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from aiohttp import web

from tests.conftest import PROVIDER_KEY
from tests.servers import ServerThread

READ_TIMEOUT = 1.0  # a drip comes every quarter of it: margin for a loaded CI machine


def _chunk(text: str) -> bytes:
    body = {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}],
    }
    return b"data: " + json.dumps(body).encode() + b"\n\n"


ANSWER = json.dumps(
    {
        "id": "x",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
).encode()


async def _upstream(request: web.Request) -> web.StreamResponse:
    body = await request.json()
    how = body["model"]
    if how == "silent":  # never answers
        await asyncio.sleep(30)
    if how == "stall-body":  # headers and half the JSON, then nothing
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        resp.content_length = len(ANSWER)
        await resp.prepare(request)
        await resp.write(ANSWER[:40])
        await asyncio.sleep(30)
        return resp
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await resp.prepare(request)
    if how == "stall-stream":  # two events, then nothing
        await resp.write(_chunk("a") + _chunk("b"))
        await asyncio.sleep(30)
    elif how == "drip":  # an event every READ_TIMEOUT/4, for twice the read timeout in all
        for i in range(8):
            await resp.write(_chunk(str(i)))
            await asyncio.sleep(READ_TIMEOUT / 4)
        await resp.write(b"data: [DONE]\n\n")
    return resp


@pytest.fixture
def slow_upstream() -> Iterator[ServerThread]:
    def app() -> web.Application:
        a = web.Application()
        a.router.add_post("/v1/chat/completions", _upstream)
        return a

    with ServerThread(app) as server:
        yield server


def _send(gw: Any, upstream: ServerThread, model: str, stream: bool) -> httpx.Response:
    headers = {
        "x-portkey-provider": "openai",
        "x-portkey-custom-host": upstream.url + "/v1",
        "authorization": f"Bearer {PROVIDER_KEY}",
    }
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    return httpx.post(gw.url + "/v1/chat/completions", headers=headers, json=body, timeout=20)


@pytest.mark.parametrize(("model", "stream"), [("silent", False), ("silent", True)])
def test_no_headers_within_the_read_timeout_is_a_504(make_gateway, slow_upstream, model, stream):
    gw = make_gateway({"upstream": {"read_timeout": READ_TIMEOUT, "connect_timeout": 0.2}})
    t0 = time.monotonic()
    r = _send(gw, slow_upstream, model, stream)
    took = time.monotonic() - t0
    assert r.status_code == 504, r.text
    assert r.json()["error"]["code"] == "upstream_timeout"
    assert READ_TIMEOUT < took < READ_TIMEOUT + 5.0  # cut off at the timeout, not left hanging


def test_a_json_answer_that_stalls_is_a_504(make_gateway, slow_upstream) -> None:
    gw = make_gateway({"upstream": {"read_timeout": READ_TIMEOUT}})
    r = _send(gw, slow_upstream, "stall-body", False)
    assert r.status_code == 504, r.text
    assert r.json()["error"]["code"] == "upstream_timeout"


def test_a_stream_that_stalls_ends_with_its_error_event(make_gateway, slow_upstream) -> None:
    gw = make_gateway({"upstream": {"read_timeout": READ_TIMEOUT}})
    r = _send(gw, slow_upstream, "stall-stream", True)
    assert r.status_code == 200  # the first events went out before the silence
    events = [line[6:] for line in r.text.split("\n") if line.startswith("data: ")]
    assert json.loads(events[0])["choices"][0]["delta"]["content"] == "a"
    last = json.loads(events[-1])
    assert last["error"]["code"] == "upstream_timeout", last
    assert "[DONE]" not in r.text


def test_a_slow_stream_that_keeps_sending_is_never_cut(make_gateway, slow_upstream) -> None:
    """Eight events a quarter of a read timeout apart: two read timeouts in all, never
    silent for one."""
    gw = make_gateway({"upstream": {"read_timeout": READ_TIMEOUT}})
    r = _send(gw, slow_upstream, "drip", True)
    assert r.status_code == 200
    texts = [
        json.loads(line[6:])["choices"][0]["delta"]["content"]
        for line in r.text.split("\n")
        if line.startswith("data: {")
    ]
    assert texts == [str(i) for i in range(8)]
    assert r.text.rstrip().endswith("data: [DONE]")


def test_a_client_that_leaves_is_not_a_timeout(make_gateway, slow_upstream) -> None:
    """The client gives up before the read timeout: the gateway still answers the next
    request, on time."""
    gw = make_gateway({"upstream": {"read_timeout": 5.0}})
    with pytest.raises(httpx.ReadTimeout):
        headers = {
            "x-portkey-provider": "openai",
            "x-portkey-custom-host": slow_upstream.url + "/v1",
            "authorization": f"Bearer {PROVIDER_KEY}",
        }
        body = {"model": "silent", "messages": [{"role": "user", "content": "hi"}]}
        httpx.post(gw.url + "/v1/chat/completions", headers=headers, json=body, timeout=0.3)
    r = _send(gw, slow_upstream, "drip", True)
    assert r.status_code == 200 and r.text.rstrip().endswith("data: [DONE]")
