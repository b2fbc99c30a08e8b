"""A stream's watchers (the access line, observability, a key's quota lease) see every
chunk and its end however the stream was routed: by headers, where nothing lies between
the relay's pump and the watchers, and through a routing config, whose attempt code puts
an iterator of its own in front of the pump's (``peek``). A watcher joining the pump's
list there would miss the first chunk, charge a metered key nothing for its stream, and
never end on an empty one (found by a review: the line lost its TTFB and tokens, a key
was charged 0 of 507 tokens, an empty stream left no line and its reservation open).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest
from aiohttp import web

from proxy.app import GATEWAY
from tests.conftest import PROVIDER_KEY
from tests.quota.helpers import SETTINGS_KEY, settings, settled
from tests.servers import ServerThread

EVENTS = (
    b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m",'
    b'"choices":[{"index":0,"delta":{"content":"hello world"},"finish_reason":"stop"}],'
    b'"usage":{"prompt_tokens":7,"completion_tokens":500,"total_tokens":507}}\n\n'
    b"data: [DONE]\n\n"
)
METERED = "gw-test-key-0002"


class Upstream:
    def __init__(self) -> None:
        self.answer = EVENTS

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.chat)
        return app

    async def chat(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(self.answer)
        return resp


@pytest.fixture
def upstream() -> Iterator[tuple[Upstream, ServerThread]]:
    up = Upstream()
    with ServerThread(up.app) as server:
        yield up, server


def routed(how: str, url: str, key: str = PROVIDER_KEY) -> dict[str, str]:
    h = {"authorization": f"Bearer {key}"}
    if how == "config":
        target = {"provider": "openai", "custom_host": url + "/v1"}
        h["x-portkey-config"] = json.dumps({"retry": {"attempts": 1}, **target})
    else:
        h.update({"x-portkey-provider": "openai", "x-portkey-custom-host": url + "/v1"})
    return h


def lines_of(logs, n: int) -> list[dict]:
    deadline = time.monotonic() + 5
    while len(found := [x for x in logs() if x.get("event") == "request"]) < n:
        assert time.monotonic() < deadline, logs()
        time.sleep(0.01)
    return found


BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True}


@pytest.mark.parametrize("how", ["headers", "config"])
def test_the_access_line_sees_the_first_chunk_and_the_usage(make_gateway, upstream, logs, how):
    _, server = upstream
    gw = make_gateway()
    r = httpx.post(gw.url + "/v1/chat/completions", json=BODY, headers=routed(how, server.url))
    assert r.status_code == 200 and r.content.endswith(b"data: [DONE]\n\n")
    (line,) = lines_of(logs, 1)
    assert line["status"] == 200 and line["ttfb_ms"] > 0
    assert (line["prompt_tokens"], line["completion_tokens"]) == (7, 500)


@pytest.mark.parametrize("how", ["headers", "config"])
def test_an_empty_stream_still_ends_its_watchers(make_gateway, upstream, logs, how):
    up, server = upstream
    up.answer = b"data: [DONE]\n\n"
    gw = make_gateway()
    r = httpx.post(gw.url + "/v1/chat/completions", json=BODY, headers=routed(how, server.url))
    assert r.status_code == 200
    (line,) = lines_of(logs, 1)
    assert line["status"] == 200
    obs = gw.call(lambda: gw.app[GATEWAY].observability)
    assert gw.call(lambda: obs.metrics.streams_now.value) == 0  # the gauge came down


@pytest.mark.parametrize("how", ["slug", "config"])
def test_a_metered_key_is_charged_for_its_stream(make_gateway, upstream, how):
    _, server = upstream
    gw = make_gateway(settings(server.url, [{"key": METERED, "name": "app", "tpm": 100_000}]))
    body = {**BODY, "max_tokens": 10, "stream_options": {"include_usage": True}}
    if how == "slug":
        headers, body["model"] = {"authorization": f"Bearer {METERED}"}, "@main/m"
    else:
        headers = routed("config", server.url, METERED)
        config = json.loads(headers["x-portkey-config"]) | {"api_key": SETTINGS_KEY}
        headers["x-portkey-config"] = json.dumps(config)
    remaining = []
    for _ in range(2):
        r = httpx.post(gw.url + "/v1/chat/completions", json=body, headers=headers)
        assert r.status_code == 200, r.text
        settled(gw)
        remaining.append(int(r.headers["x-ratelimit-remaining-tokens"]))
    # the second answer's header shows the first stream's 507 tokens charged
    assert remaining[0] - remaining[1] == 507


def test_a_failed_attempts_usage_is_not_the_answers(make_gateway, logs) -> None:
    """A fallback's first target streams a usage event and breaks off before [DONE] (the
    router moves on); the second answers with JSON. The usage the first one held back
    was left on the request and read as the answer's (found by a second review): the line
    said 100/900 tokens, a metered key would have paid 1,000 for 3."""
    broken = (
        b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m",'
        b'"choices":[],"usage":{"prompt_tokens":100,"completion_tokens":900,'
        b'"total_tokens":1000}}\n\n'
    )
    answer = {
        "id": "c2",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
    }

    async def bad(request: web.Request) -> web.StreamResponse:
        await request.read()
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(broken)
        return resp

    async def good(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response(answer)

    def app() -> web.Application:
        a = web.Application()
        a.router.add_post("/bad/v1/chat/completions", bad)
        a.router.add_post("/good/v1/chat/completions", good)
        return a

    with ServerThread(app) as server:
        targets = [
            {"provider": "openai", "custom_host": server.url + path}
            for path in ("/bad/v1", "/good/v1")
        ]
        config = {"strategy": {"mode": "fallback"}, "targets": targets}
        h = {"authorization": f"Bearer {PROVIDER_KEY}", "x-portkey-config": json.dumps(config)}
        r = httpx.post(gw_url := make_gateway().url + "/v1/chat/completions", json=BODY, headers=h)
        assert r.status_code == 200, (gw_url, r.text)
        (line,) = lines_of(logs, 1)
        assert (line["prompt_tokens"], line["completion_tokens"]) == (1, 2)
