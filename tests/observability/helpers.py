"""Shared bits of the observability tests: scraping /metrics and slow mock upstreams."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from typing import Any

from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from tests.mock_openai import chunk, completion, sse, usage


def scrape(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """GET /metrics and index every sample by (name, labels)."""
    with urllib.request.urlopen(url + "/metrics", timeout=10) as resp:  # noqa: S310 - loopback
        assert resp.status == 200
        assert resp.headers["content-type"].startswith("text/plain")
        text = resp.read().decode()
    out: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels``."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= ls)


class SlowUpstream:
    """An OpenAI-shaped upstream that takes ``delay`` seconds before answering (before the
    first SSE event, for streams) and records the headers it got."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.headers: list[dict[str, str]] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.chat)
        return app

    async def chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.headers.append(dict(request.headers))
        model = body["model"]
        if not body.get("stream"):
            await asyncio.sleep(self.delay)
            return web.json_response(completion(body, "slow answer", model))
        # half before the headers, half between the headers and the first event: the
        # gateway must count both as upstream time
        await asyncio.sleep(self.delay / 2)
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await asyncio.sleep(self.delay / 2)
        await resp.write(sse(chunk(model, {"role": "assistant", "content": "slow"})))
        await resp.write(sse(chunk(model, {"content": " answer"})))
        await resp.write(sse(chunk(model, {}, finish="stop")))
        if (body.get("stream_options") or {}).get("include_usage"):
            last = chunk(model, None)
            last["usage"] = usage(body, "slow answer")
            await resp.write(sse(last))
        await resp.write(b"data: [DONE]\n\n")
        return resp


def access_lines(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [x for x in lines if x.get("event") == "request" and "latency_ms" in x]


def dumps(obj: Any) -> str:
    return json.dumps(obj)
