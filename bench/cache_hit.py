"""How long the gateway spends answering a repeated request from its cache.

    python -m bench.cache_hit [-n 2000] [--backend memory|redis] [--redis-url URL]

Runs the real gateway app (default chain with the cache on) and a counting mock upstream in
one process on loopback, warms one entry, then sends ``-n`` identical requests one at a time
(non-streamed, then streamed). Gateway time is measured server-side by an outermost aiohttp
middleware, from the request's arrival in the handler to the finished response object
(body read, decode, auth, logging, key, lookup, reply), so the client's own cost does not
count; the access log's ``latency_ms`` (the chain alone) is reported beside it. The
upstream call counter proves every measured request was a hit.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web

from proxy.app import create_app
from proxy.logsetup import configure_logging
from proxy.settings import LoggingSettings, parse_settings

COMPLETION = {
    "id": "chatcmpl-bench",
    "object": "chat.completion",
    "created": 1732000000,
    "model": "gpt-4o-mini",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "A gateway sits between apps and LLMs."},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 20, "completion_tokens": 9, "total_tokens": 29},
}
BODY = {
    "model": "gpt-4o-mini",
    "messages": [
        {"role": "system", "content": "You are a concise assistant."},
        {"role": "user", "content": "Summarise what an AI gateway does."},
    ],
    "temperature": 0,
}


class Sink(io.RawIOBase):
    def __init__(self) -> None:
        self.lines: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.lines.extend(bytes(data).splitlines())
        return len(data)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(n: int, backend: str, redis_url: str) -> dict[str, Any]:
    sink = Sink()
    configure_logging(LoggingSettings(level="info", format="json"), stream=sink)  # type: ignore[arg-type]
    calls = 0

    async def upstream(request: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        await request.read()
        return web.json_response(COMPLETION)

    mock = web.Application()
    mock.router.add_post("/v1/chat/completions", upstream)
    options: dict[str, Any] = {"default_mode": "simple", "default_max_age": 600}
    if backend == "redis":
        options |= {
            "backend": "redis",
            "redis_url": redis_url,
            "redis_prefix": f"bench:{uuid.uuid4().hex[:8]}:",
        }
    settings = parse_settings(
        {
            "logging": {"level": "info", "format": "json"},
            "middleware": [
                {"class": "middleware.auth:AuthMiddleware", "options": {"keys_env": ""}},
                {"class": "middleware.logging:LoggingMiddleware"},
                {"class": "middleware.cache:CacheMiddleware", "options": options},
                {"class": "middleware.router:RouterMiddleware"},
            ],
        },
        {},
    )
    app = create_app(settings)
    spent: list[float] = []

    @web.middleware
    async def timing(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        t0 = time.perf_counter()
        resp = await handler(request)
        spent.append((time.perf_counter() - t0) * 1000.0)
        return resp

    app.middlewares.insert(0, timing)  # outermost: the whole handler
    runners = []
    ports = []
    for a in (mock, app):
        runner = web.AppRunner(a, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        ports.append(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
    headers = {
        "content-type": "application/json",
        "authorization": "Bearer sk-bench",
        "x-portkey-provider": "openai",
        "x-portkey-custom-host": f"http://127.0.0.1:{ports[0]}/v1",
    }
    url = f"http://127.0.0.1:{ports[1]}/v1/chat/completions"
    out: dict[str, Any] = {"backend": backend, "n": n}
    try:
        async with aiohttp.ClientSession() as session:
            for stream in (False, True):
                payload = json.dumps({**BODY, "stream": stream}).encode()
                async with session.post(url, data=payload, headers=headers) as r:
                    await r.read()  # warm-up (the first non-stream call is the MISS)
                spent.clear()
                mark = len(sink.lines)
                statuses: set[str] = set()
                client: list[float] = []
                for _ in range(n):
                    t0 = time.perf_counter()
                    async with session.post(url, data=payload, headers=headers) as r:
                        await r.read()
                        statuses.add(r.headers.get("x-portkey-cache-status", ""))
                    client.append((time.perf_counter() - t0) * 1000.0)
                logged = [
                    json.loads(x)["latency_ms"]
                    for x in sink.lines[mark:]
                    if x.startswith(b"{") and b'"latency_ms"' in x
                ]
                kind = "stream" if stream else "json"
                out[kind] = {
                    "statuses": sorted(statuses),
                    "gateway_p50_ms": round(statistics.median(spent), 4),
                    "gateway_p99_ms": round(pct(spent, 0.99), 4),
                    "chain_p50_ms": round(statistics.median(logged), 4),
                    "client_p50_ms": round(statistics.median(client), 4),
                }
        out["upstream_calls"] = calls
    finally:
        for runner in reversed(runners):
            await runner.cleanup()
        if backend == "redis":  # leave nothing behind in the shared Redis
            import redis.asyncio as aioredis

            client = aioredis.Redis.from_url(redis_url)
            keys = [k async for k in client.scan_iter(match=options["redis_prefix"] + "*")]
            if keys:
                await client.delete(*keys)
            await client.aclose()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=2000, help="hits measured per kind")
    ap.add_argument("--backend", choices=("memory", "redis"), default="memory")
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/15")
    args = ap.parse_args()
    result = asyncio.run(run(args.n, args.backend, args.redis_url))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
