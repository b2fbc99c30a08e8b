"""A fast mock OpenAI upstream on raw asyncio (no HTTP framework), for the benchmark.

Answers every POST with a pre-rendered ``chat.completion`` (path ``/v1/...``) or a 20-event
``chat.completion.chunk`` stream (path ``/stream/v1/...``), keep-alive, Content-Length
framed, so the mock costs as little as possible. ``/slow/v1/...`` trickles a stream of
``--slow-events`` events, one every ``--slow-interval`` seconds (soak mode); ``/big/...``
answers a 2,000-event chat stream (bench/bigwork.py). Anthropic (``.../messages``), Gemini
(``:generateContent``, ``:streamGenerateContent``), Bedrock (``/converse``,
``/converse-stream``) and OpenAI Responses (``.../responses``) paths get their provider's
native answer (bench/natives.py). Request bodies are counted, not kept: a 10 MB body costs
the mock no copies.

Run: python -m bench.mock_upstream --port 18181
"""

from __future__ import annotations

import argparse
import asyncio
import json

from bench.natives import PIECES, TEXT, http
from bench.natives import answer as native_answer


def _j(o: object) -> str:
    return json.dumps(o, separators=(",", ":"))


def completion_body() -> bytes:
    return _j(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": 1732000000,
            "model": "gpt-4o-mini",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": TEXT},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 31, "completion_tokens": 27, "total_tokens": 58},
        }
    ).encode()


def chunk(delta: dict[str, object], finish: str | None = None) -> bytes:
    return (
        b"data: "
        + _j(
            {
                "id": "chatcmpl-bench",
                "object": "chat.completion.chunk",
                "created": 1732000000,
                "model": "gpt-4o-mini",
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
                ],
            }
        ).encode()
        + b"\n\n"
    )


def stream_body(events: int = 20) -> bytes:
    """``events`` chunks (the role, the text pieces, the finish) and ``[DONE]``."""
    pieces = [PIECES[i % len(PIECES)] for i in range(events - 2)]
    out = [chunk({"role": "assistant", "content": ""})]
    out += [chunk({"content": p}) for p in pieces]
    out.append(chunk({}, "stop"))
    return b"".join(out) + b"data: [DONE]\n\n"


JSON_RESPONSE = http(completion_body(), b"application/json")
SSE_RESPONSE = http(stream_body(), b"text/event-stream")
BIG_EVENTS = 2000
BIG_SSE_RESPONSE = http(stream_body(BIG_EVENTS), b"text/event-stream")


class MockProtocol(asyncio.Protocol):
    """Minimal HTTP/1.1: reads head + Content-Length body, answers, keeps the connection."""

    def __init__(self, slow_events: int, slow_interval: float) -> None:
        self.buf = bytearray()
        self.skip = 0  # body bytes still to come (not kept)
        self.pending = b""  # the path answered once they came
        self.slow_events = slow_events
        self.slow_interval = slow_interval
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        if self.skip:
            if len(data) < self.skip:
                self.skip -= len(data)
                return
            data = data[self.skip :]
            self.skip = 0
            self.answer(self.pending)
            if not data:
                return
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buf[:end])
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            path = head.split(b" ", 2)[1]
            have = len(self.buf) - end - 4
            if have < length:
                self.skip, self.pending = length - have, path
                self.buf.clear()
                return
            del self.buf[: end + 4 + length]
            self.answer(path)

    def answer(self, path: bytes) -> None:
        assert self.transport is not None
        if path.startswith(b"/slow/"):
            asyncio.get_running_loop().create_task(self.trickle())
        elif path.startswith(b"/big/"):
            self.transport.write(BIG_SSE_RESPONSE)
        elif (native := native_answer(path)) is not None:
            self.transport.write(native)
        elif path.startswith(b"/stream/"):
            self.transport.write(SSE_RESPONSE)
        else:
            self.transport.write(JSON_RESPONSE)

    async def trickle(self) -> None:
        t = self.transport
        assert t is not None
        t.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )

        def send(data: bytes) -> None:
            t.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")

        send(chunk({"role": "assistant", "content": ""}))
        for i in range(self.slow_events):
            await asyncio.sleep(self.slow_interval)
            if t.is_closing():
                return
            send(chunk({"content": f"t{i} "}))
        send(chunk({}, "stop") + b"data: [DONE]\n\n")
        t.write(b"0\r\n\r\n")


async def serve(port: int, slow_events: int, slow_interval: float) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: MockProtocol(slow_events, slow_interval), "127.0.0.1", port, backlog=4096
    )
    async with server:
        await server.serve_forever()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=18181)
    ap.add_argument("--slow-events", type=int, default=60)
    ap.add_argument("--slow-interval", type=float, default=0.5)
    args = ap.parse_args()
    try:
        import uvloop

        uvloop.run(serve(args.port, args.slow_events, args.slow_interval))
    except ImportError:
        asyncio.run(serve(args.port, args.slow_events, args.slow_interval))


if __name__ == "__main__":
    main()
