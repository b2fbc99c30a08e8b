"""A hostile upstream: each path answers in a way a real provider never should.

Point a gateway at ``{url}/<case>/v1`` with ``x-portkey-custom-host``; the case decides the
answer. The internal service (``/internal/...``) stands for something only the gateway's
network can reach; it records every hit.
"""

from __future__ import annotations

import gzip
import json
import time
from typing import Any

from aiohttp import web

BOMB_BYTES = 52 * 1024 * 1024
_BOMB: bytes | None = None


def bomb() -> bytes:
    """About 51 KB on the wire, 52 MB once inflated (made once, before any measurement)."""
    global _BOMB
    if _BOMB is None:
        _BOMB = gzip.compress(b" " * BOMB_BYTES, compresslevel=9)
    return _BOMB


def chunk(content: str | None = None, usage: Any = None) -> bytes:
    body: dict[str, Any] = {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": "m",
        "choices": [] if content is None else [{"index": 0, "delta": {"content": content}}],
    }
    if usage is not None:
        body["usage"] = usage
    return b"data: " + json.dumps(body).encode() + b"\n\n"


class Hostile:
    def __init__(self) -> None:
        self.internal_hits = 0
        self.redirect_hits = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/internal/secret", self.internal)
        app.router.add_post("/{case}/v1/{tail:.*}", self.answer)
        return app

    async def internal(self, request: web.Request) -> web.Response:
        self.internal_hits += 1
        return web.json_response({"internal": "admin-token-xyz"})

    async def answer(self, request: web.Request) -> web.StreamResponse:
        case = request.match_info["case"]
        await request.read()
        if case.startswith("redirect307-"):  # redirect307-<port>: to that loopback port
            self.redirect_hits += 1
            target = f"http://127.0.0.1:{case.removeprefix('redirect307-')}/steal"
            return web.Response(status=307, headers={"Location": target})
        if case == "redirect303":
            self.redirect_hits += 1
            base = f"http://{request.host}"
            return web.Response(status=303, headers={"Location": base + "/internal/secret"})
        if case == "html200":
            return web.Response(
                text="<html><body>Sign in to the Wi-Fi</body></html>", content_type="text/html"
            )
        if case == "negative-usage":  # spec-valid (an integer, no minimum), never real
            usage = {"prompt_tokens": -5, "completion_tokens": -(2**40), "total_tokens": -1}
            answer = json.loads(chunk("x")[6:])
            answer["choices"] = [{"index": 0, "message": {"role": "assistant", "content": "x"}}]
            return web.json_response({**answer, "object": "chat.completion", "usage": usage})
        if case == "json-not-completion":
            return web.json_response({"hello": "world"})
        if case == "gzip-bomb":
            return web.Response(
                body=bomb(),
                headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
            )
        if case == "gzip-bomb-audio":  # a pass-through answer the gateway relays unread
            return web.Response(
                body=bomb(), headers={"Content-Encoding": "gzip", "Content-Type": "audio/mpeg"}
            )
        if case == "gzip-bomb-error":
            return web.Response(
                status=500,
                body=gzip.compress(b'{"error": {"message": "' + b"x" * BOMB_BYTES + b'"}}'),
                headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
            )
        stream = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        if case == "gzip-bomb-stream":
            stream.headers["Content-Encoding"] = "gzip"
            await stream.prepare(request)
            await stream.write(gzip.compress(b"data: " + b"a" * BOMB_BYTES + b"\n\n"))
            return stream
        await stream.prepare(request)
        if case == "bad-usage-stream":
            await stream.write(chunk("hi"))
            await stream.write(chunk(usage={"prompt_tokens": "lots", "completion_tokens": []}))
        elif case == "not-json-stream":
            await stream.write(chunk("hi"))
            await stream.write(b"data: <html>oops</html>\n\n")
        elif case == "not-json-first-event":
            await stream.write(b"data: {not json\n\n")
        await stream.write(b"data: [DONE]\n\n")
        return stream
