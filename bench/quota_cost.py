"""What enforcing a key's limits costs per request: ``python -m bench.quota_cost``.

One connection, one request at a time (the latency a single client sees), wall time:

- the limiter alone: one reserve and one settle (rpm, tpm, max_parallel and a budget all
  on), in process and against the Redis at ``--redis`` (two round trips);
- the auth middleware in the chain, a key with those limits against the same key with
  none: estimate, reserve, headers, settle (the settle task awaited), with a canned
  upstream answer (no sockets but Redis's).

The best of several rounds is kept: on a shared machine the minimum is the repeatable number.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import time
import uuid
from typing import Any

from multidict import CIMultiDict, CIMultiDictProxy

from bench.chain_cost import ANSWER, RAW
from proxy.context import RequestContext
from proxy.frontdoors.chat import decode_chat
from proxy.gateway import Gateway
from proxy.logsetup import configure_logging
from proxy.pipeline import shutdown_all, startup_all
from proxy.quota.limiter import Ask, Limiter
from proxy.quota.memory import MemoryLimiter
from proxy.reply import Completion, CompletionReply, Reply
from proxy.settings import parse_settings
from proxy.upstream import make_session

KEY = "sk-bench-gateway-key"
LIMITS = {"rpm": 10**9, "tpm": 10**12, "max_parallel": 10**6, "budget_usd": 10**8}


class _Null(io.RawIOBase):
    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        return len(b)


async def limiter_cost(lim: Limiter, rounds: int, n: int) -> float:
    key = "bench-" + uuid.uuid4().hex[:8]

    async def one() -> None:
        ask = Ask(
            key,
            uuid.uuid4().hex,
            rpm=10**9,
            tpm=10**12,
            parallel=10**6,
            budget=10**14,
            tokens=100,
            micros=50,
            bucket="total",
        )
        d = await lim.reserve(ask)
        assert d.ok
        await lim.settle(ask, 40, 20)

    for _ in range(500):
        await one()
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(n):
            await one()
        best = min(best, (time.perf_counter() - t0) / n * 1e6)
    return best


async def _terminal(ctx: RequestContext) -> Reply:
    return CompletionReply(Completion(raw=ANSWER))


async def chain_cost(redis: str | None, limited: bool, rounds: int, n: int) -> tuple[float, float]:
    """Wall us per request: (until the reply is returned, including its settle). The
    settle runs off the request path (a task, while the answer travels back), so the
    first is the latency a client on one connection sees and the second all the work."""
    entry: dict[str, Any] = {"key": KEY, "name": "bench", **(LIMITS if limited else {})}
    raw: dict[str, Any] = {
        "middleware": [
            {"class": "middleware.auth:AuthMiddleware", "options": {"keys": [entry]}},
            {"class": "middleware.router:RouterMiddleware"},
        ],
    }
    if redis:
        raw["redis"] = {"url": redis, "prefix": f"bench-{uuid.uuid4().hex[:8]}:"}
    settings = parse_settings(raw, {})
    gw = Gateway(settings)
    gw.session = make_session(settings.upstream)
    await gw.start_state()
    await startup_all(gw.middlewares, gw)
    gw.freeze(_terminal)
    run = gw.chains["chat"]
    headers = CIMultiDictProxy(
        CIMultiDict(
            {
                "content-type": "application/json",
                "authorization": f"Bearer {KEY}",
                "x-portkey-provider": "openai",
                "x-portkey-custom-host": "http://127.0.0.1:1/v1",
            }
        )
    )
    quota = gw.quota

    async def one() -> tuple[float, float]:
        t0 = time.perf_counter()
        ctx = RequestContext(uuid.uuid4().hex, "t", headers, decode_chat(RAW), gw)
        reply = await run(ctx)
        assert isinstance(reply, CompletionReply)
        t1 = time.perf_counter()
        if quota.tasks:
            await asyncio.gather(*quota.tasks)
        return t1 - t0, time.perf_counter() - t0

    for _ in range(500):
        await one()
    best = (float("inf"), float("inf"))
    for _ in range(rounds):
        path = whole = 0.0
        for _ in range(n):
            a, b = await one()
            path += a
            whole += b
        best = (min(best[0], path / n * 1e6), min(best[1], whole / n * 1e6))
    await shutdown_all(gw.middlewares)
    await gw.stop_state()
    await gw.session.close()
    return best


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/13")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("-n", type=int, default=2000)
    args = ap.parse_args()
    configure_logging(parse_settings({"logging": {"format": "json"}}, {}).logging, _Null())  # type: ignore[arg-type]
    from proxy.quota.redis_lua import RedisLimiter

    mem = await limiter_cost(MemoryLimiter(), args.rounds, args.n)
    print(f"limiter, reserve + settle, in process: {mem:7.1f} us")
    lim = RedisLimiter(args.redis, f"bench-{uuid.uuid4().hex[:8]}:", 1.0)
    try:
        red = await limiter_cost(lim, args.rounds, args.n)
    finally:
        await lim.close()
    print(f"limiter, reserve + settle, Redis:      {red:7.1f} us")
    for name, redis in (("in process", None), ("Redis", args.redis)):
        base, _ = await chain_cost(redis, False, args.rounds, args.n)
        path, whole = await chain_cost(redis, True, args.rounds, args.n)
        print(
            f"enforcement, {name}: on the request path {path - base:+6.1f} us, "
            f"with its settle {whole - base:+6.1f} us (auth + router without limits "
            f"{base:.1f} us)"
        )


if __name__ == "__main__":
    asyncio.run(main())
