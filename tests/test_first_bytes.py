"""A streamed answer's headers and first bytes reach the client while the upstream is
still answering: the gateway sends its headers with the first body bytes (one write), so
this holds it to never keeping them back for more.

The upstream sends its first piece, then holds the rest until the client has read that
piece (``go``; 10 s at most). A gateway that waited for more before writing would leave the
client without its first piece, and its read times out after 5 s.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator

import httpx
import pytest
from aiohttp import web

from tests.conftest import PROVIDER_KEY
from tests.servers import ServerThread

FIRST_EVENT = (
    b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m",'
    b'"choices":[{"index":0,"delta":{"content":"first"},"finish_reason":null}]}\n\n'
)
LAST_EVENT = FIRST_EVENT.replace(b'"first"', b'"last"')


class HeldUpstream:
    def __init__(self) -> None:
        self.go = threading.Event()
        self.held = False
        self.first = FIRST_EVENT  # the chat stream's first write

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.chat)
        app.router.add_get("/v1/files/{id}/content", self.content)
        return app

    async def _answer(
        self, request: web.Request, ctype: str, first: bytes, rest: bytes
    ) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": ctype})
        await resp.prepare(request)
        await resp.write(first)
        loop = asyncio.get_running_loop()
        self.held = not await loop.run_in_executor(None, self.go.wait, 10)
        await resp.write(rest)
        return resp

    async def chat(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        return await self._answer(
            request, "text/event-stream", self.first, LAST_EVENT + b"data: [DONE]\n\n"
        )

    async def content(self, request: web.Request) -> web.StreamResponse:
        return await self._answer(request, "application/octet-stream", b"A" * 100, b"B" * 100)


@pytest.fixture
def held() -> Iterator[tuple[HeldUpstream, ServerThread]]:
    up = HeldUpstream()
    with ServerThread(up.app) as server:
        yield up, server
        up.go.set()


def headers(server: ServerThread) -> dict[str, str]:
    return {
        "authorization": f"Bearer {PROVIDER_KEY}",
        "x-portkey-provider": "openai",
        "x-portkey-custom-host": server.url + "/v1",
    }


def test_a_chat_stream_sends_its_headers_and_first_event_before_the_rest(gateway, held) -> None:
    up, server = held
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    url = gateway.url + "/v1/chat/completions"
    with httpx.stream("POST", url, json=body, headers=headers(server), timeout=5) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        got = b""
        pieces = r.iter_raw()
        while b"first" not in got:
            got += next(pieces)  # a gateway holding it back: ReadTimeout after 5 s
        up.go.set()
        got += b"".join(pieces)
    assert not up.held
    assert got == FIRST_EVENT + LAST_EVENT + b"data: [DONE]\n\n"


def test_a_passed_through_body_sends_its_first_bytes_before_the_rest(gateway, held) -> None:
    up, server = held
    url = gateway.url + "/v1/files/file-1/content"
    with httpx.stream("GET", url, headers=headers(server), timeout=5) as r:
        assert r.status_code == 200
        got = b""
        pieces = r.iter_raw()
        while not got.startswith(b"A" * 100):
            got += next(pieces)
        up.go.set()
        got += b"".join(pieces)
    assert not up.held
    assert got == b"A" * 100 + b"B" * 100


GUARDED_CHAIN = [
    {"class": "middleware.logging:LoggingMiddleware"},
    {"class": "middleware.guardrails:GuardrailsMiddleware"},
    {"class": "middleware.router:RouterMiddleware"},
]
STREAM_BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True}


def holding_guardrail(make_gateway, server: ServerThread) -> tuple[ServerThread, dict[str, str]]:
    """A gateway and headers whose output guardrail does not deny and, in non-strict mode,
    holds each event back until the next (its results ride on the last one)."""
    check = {"id": "default.wordCount", "parameters": {"maxWords": 10}}
    config = {"output_guardrails": [{"checks": [check], "deny": False}]}
    return make_gateway({"middleware": GUARDED_CHAIN}), headers(server) | {
        "x-portkey-config": json.dumps(config),
        "x-portkey-strict-open-ai-compliance": "false",
    }


def test_headers_go_at_once_when_a_wrapper_holds_the_first_event_back(make_gateway, held) -> None:
    """An output guardrail that does not deny holds each event until the next (non-strict
    mode). Its first event, once the second is in, must reach the client (headers first)
    while the upstream holds the third: it was marked "more in hand" and waited."""
    up, server = held
    up.first = FIRST_EVENT + FIRST_EVENT.replace(b'"first"', b'"second"')
    gw, h = holding_guardrail(make_gateway, server)
    url = gw.url + "/v1/chat/completions"
    with httpx.stream("POST", url, json=STREAM_BODY, headers=h, timeout=5) as r:  # else ReadTimeout
        assert r.status_code == 200
        got = b""
        pieces = r.iter_raw()
        while b'"first"' not in got:  # the wrapper has the second one: the first goes
            got += next(pieces)
        up.go.set()
        got += b"".join(pieces)
    assert not up.held
    assert b'"first"' in got and b'"second"' in got and got.endswith(b"data: [DONE]\n\n")


def test_a_held_event_still_goes_out_when_the_upstream_fails_after_it(make_gateway, held) -> None:
    """The same guardrail holds the event that came last before an upstream error event
    (found by a review): it was dropped, the client got the first event and the error.
    Every event before the failure reaches the client, then the error."""
    up, server = held
    error = b'data: {"error": {"message": "overloaded", "type": "server_error"}}\n\n'
    up.first = FIRST_EVENT + FIRST_EVENT.replace(b'"first"', b'"second"') + error
    up.go.set()  # nothing to hold: the stream ends with the error
    gw, h = holding_guardrail(make_gateway, server)
    r = httpx.post(gw.url + "/v1/chat/completions", json=STREAM_BODY, headers=h, timeout=5)
    data = [line[6:] for line in r.text.splitlines() if line.startswith("data: ")]
    contents = [json.loads(d)["choices"][0]["delta"]["content"] for d in data[:-1]]
    assert contents == ["first", "second"]
    assert "overloaded" in json.loads(data[-1])["error"]["message"]
