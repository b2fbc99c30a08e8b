"""One load process of the soak: opens its share of the streams, ramped, and reads them.

Raw asyncio protocols (uvloop when installed), no HTTP client library: each stream is one
connection (``Connection: close``) that keeps only its status line and the last bytes of
the body, so that a few of these processes hold thousands of streams on a fraction of a
core and the client side is not what the soak measures. Prints one JSON line at the end:
``{"completed", "failed", "peak_open", "elapsed_s"}``.

Run by bench/soak.py: python -m bench.soak_client --port P --mock URL --streams N --ramp S
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

from bench.load import body

TAIL = b"data: [DONE]\n\n\r\n0\r\n\r\n"  # the last SSE event, then the chunked terminator


class Stream(asyncio.Protocol):
    def __init__(self, request: bytes, done: asyncio.Future[bool]) -> None:
        self.request = request
        self.done = done
        self.head = b""
        self.tail = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        if len(self.head) < 12:
            self.head += data[:12]
        self.tail = (self.tail + data)[-64:]
        if self.tail.endswith(TAIL):
            self._finish(self.head.startswith(b"HTTP/1.1 200"))
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            why = type(exc).__name__ if exc else "closed early"
            self.done.set_exception(ConnectionError(f"{why} after {self.head[:12]!r}"))

    def _finish(self, ok: bool) -> None:
        if not self.done.done():
            self.done.set_result(ok)


async def run(port: int, mock: str, n: int, ramp: float, deadline: float) -> dict[str, object]:
    payload = body(True)
    request = (
        b"POST /v1/chat/completions HTTP/1.1\r\n"
        + f"Host: 127.0.0.1:{port}\r\n".encode()
        + b"Content-Type: application/json\r\nAuthorization: Bearer sk-bench-x\r\n"
        + b"x-portkey-provider: openai\r\n"
        + f"x-portkey-custom-host: {mock}/slow/v1\r\n".encode()
        + f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
        + payload
    )
    loop = asyncio.get_running_loop()
    completed = failed = open_now = peak = 0
    errors: dict[str, int] = {}

    def fail(why: str) -> None:
        nonlocal failed
        failed += 1
        errors[why] = errors.get(why, 0) + 1

    async def one() -> None:
        nonlocal completed, failed, open_now, peak
        done: asyncio.Future[bool] = loop.create_future()
        try:
            await loop.create_connection(lambda: Stream(request, done), "127.0.0.1", port)
        except OSError as exc:
            fail(f"connect: {exc}")
            return
        open_now += 1
        peak = max(peak, open_now)
        try:
            ok = await asyncio.wait_for(done, max(1.0, deadline - time.monotonic()))
            why = "" if ok else "not a 200"
        except TimeoutError:
            ok, why = False, "timeout"
        except ConnectionError as exc:
            ok, why = False, str(exc)
        open_now -= 1
        if ok:
            completed += 1
        else:
            fail(why)

    t0 = time.monotonic()
    tasks = []
    step = 0.01  # open a batch every 10 ms: n/ramp streams a second
    for i in range(n):
        due = t0 + ramp * i / n
        if due - time.monotonic() > step:
            await asyncio.sleep(due - time.monotonic())
        tasks.append(asyncio.create_task(one()))
    await asyncio.gather(*tasks)
    return {
        "completed": completed,
        "failed": failed,
        "peak_open": peak,
        "errors": errors,
        "elapsed_s": round(time.monotonic() - t0, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--mock", required=True, help="the mock upstream's base URL")
    ap.add_argument("--streams", type=int, required=True)
    ap.add_argument("--ramp", type=float, default=0.0, help="seconds over which to open them")
    ap.add_argument("--timeout", type=float, default=180.0, help="give up on a stream after")
    args = ap.parse_args()
    deadline = time.monotonic() + args.ramp + args.timeout
    coro = run(args.port, args.mock, args.streams, args.ramp, deadline)
    try:
        import uvloop

        out = uvloop.run(coro)
    except ImportError:
        out = asyncio.run(coro)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
