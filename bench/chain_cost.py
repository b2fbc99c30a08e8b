"""What each middleware costs: ``python -m bench.chain_cost``.

Runs the real chain in process (no sockets) on one pass-through request, with the upstream
replaced by a canned answer, and reports CPU microseconds per request for the router alone,
each middleware added to it, and the whole default chain. The best of several rounds is
kept: on a shared machine the minimum is the repeatable number.
"""

from __future__ import annotations

import asyncio
import io
import time

from multidict import CIMultiDict, CIMultiDictProxy

from proxy.context import RequestContext
from proxy.frontdoors.chat import decode_chat
from proxy.gateway import Gateway
from proxy.logsetup import configure_logging
from proxy.pipeline import shutdown_all, startup_all
from proxy.reply import Completion, CompletionReply, Reply
from proxy.settings import DEFAULT_MIDDLEWARE, parse_settings
from proxy.upstream import make_session

RAW = (
    b'{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a concise '
    b'assistant."},{"role":"user","content":"Summarise what an AI gateway does."}]}'
)
ANSWER = (
    b'{"id":"x","object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":'
    b'[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],'
    b'"usage":{"prompt_tokens":31,"completion_tokens":27,"total_tokens":58}}'
)
HEADERS = CIMultiDictProxy(
    CIMultiDict(
        {
            "content-type": "application/json",
            "authorization": "Bearer sk-bench-x",
            "x-portkey-provider": "openai",
            "x-portkey-custom-host": "http://127.0.0.1:1/v1",
        }
    )
)


class _Null(io.RawIOBase):
    def writable(self) -> bool:
        return True

    def write(self, b: object) -> int:
        return len(b)  # type: ignore[arg-type]


async def _terminal(ctx: RequestContext) -> Reply:
    return CompletionReply(Completion(raw=ANSWER))


async def cost(
    chain: list[str], rounds: int = 8, n: int = 5000, console: dict[str, object] | None = None
) -> float:
    raw: dict[str, object] = {"middleware": [{"class": c} for c in chain]}
    if console is not None:
        raw["console"] = console
    settings = parse_settings(raw, {})
    gw = Gateway(settings)
    gw.session = make_session(settings.upstream)
    await gw.observability.startup()
    await startup_all(gw.middlewares, gw)
    gw.freeze(_terminal)
    run = gw.chains["chat"]

    async def one() -> None:
        body = decode_chat(RAW)
        ctx = RequestContext("rid", "tid", HEADERS, body, gw)
        reply = await run(ctx)
        assert isinstance(reply, CompletionReply)
        reply.completion.raw  # noqa: B018 - what the handler would send

    for _ in range(1000):
        await one()
    best = float("inf")
    for _ in range(rounds):
        t0 = time.process_time()
        for _ in range(n):
            await one()
        best = min(best, (time.process_time() - t0) / n * 1e6)
    await shutdown_all(gw.middlewares)
    await gw.observability.shutdown()
    await gw.session.close()
    return best


async def main() -> None:
    configure_logging(parse_settings({"logging": {"format": "json"}}, {}).logging, _Null())  # type: ignore[arg-type]
    router = DEFAULT_MIDDLEWARE[-1]
    base = await cost([router])
    print(f"decode + context + router + translate (no I/O): {base:6.1f} us")
    for path in DEFAULT_MIDDLEWARE[:-1]:
        extra = await cost([path, router]) - base
        print(f"  + {path.split(':')[1]:<24} {extra:+6.1f} us")
    whole = await cost(list(DEFAULT_MIDDLEWARE))
    print(f"whole default chain:                            {whole:6.1f} us")
    # the console records every request from Observability.finish (docs/console.md)
    on = await cost(list(DEFAULT_MIDDLEWARE), console={"enabled": True})
    print(f"  + console (ring, health buckets):             {on - whole:+6.1f} us")
    bodies = await cost(list(DEFAULT_MIDDLEWARE), console={"enabled": True, "capture_bodies": True})
    print(f"  + console capturing bodies (masked):          {bodies - whole:+6.1f} us")


if __name__ == "__main__":
    asyncio.run(main())
