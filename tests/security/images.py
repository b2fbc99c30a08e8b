"""An image host that is sometimes hostile: each path answers one way a client's image URL
can (a real PNG, a lie about its type, a redirect, a flood, a drip, a gzip bomb).

It counts hits per path and the most fetches it saw at once, and records the headers of
every request (nothing of the client's may arrive here).
"""

from __future__ import annotations

import asyncio
import base64
import gzip
from collections import Counter
from typing import Any

from aiohttp import web

# a 1x1 PNG and a tiny JPEG, whole files
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
BOMB_BYTES = 52 * 1024 * 1024
_BOMB: bytes | None = None


def bomb() -> bytes:
    """A PNG header then 52 MB of zeros, gzip-compressed to ~51 KB (made once)."""
    global _BOMB
    if _BOMB is None:
        _BOMB = gzip.compress(PNG[:16] + b"\0" * BOMB_BYTES, compresslevel=9)
    return _BOMB


class ImageHost:
    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.headers: list[dict[str, str]] = []
        self.now = 0
        self.most = 0
        self.redirect_to = ""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/{name}", self.serve)
        return app

    async def serve(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        self.hits[name] += 1
        self.headers.append(dict(request.headers))
        self.now += 1
        self.most = max(self.most, self.now)
        try:
            return await self._answer(request, name)
        finally:
            self.now -= 1

    async def _answer(self, request: web.Request, name: str) -> web.StreamResponse:
        if name.startswith("cat") and name.endswith(".png"):  # cat.png, cat2.png, ...
            return web.Response(body=PNG, content_type="image/png")
        if name == "photo.jpg":
            return web.Response(body=JPEG, content_type="image/jpeg")
        if name == "slow-cat.png":  # a real image, after a while: concurrency shows
            await asyncio.sleep(0.3)
            return web.Response(body=PNG, content_type="image/png")
        if name == "big.png":  # size from ?kb=
            kb = int(request.query.get("kb", "800"))
            return web.Response(body=PNG[:16] + b"\0" * (kb * 1024), content_type="image/png")
        if name == "redirect.png":
            return web.Response(status=302, headers={"Location": self.redirect_to})
        if name == "page.html":
            return web.Response(text="<html>login</html>", content_type="text/html")
        if name == "drawing.svg":
            svg = '<svg xmlns="http://www.w3.org/2000/svg"><script>x()</script></svg>'
            return web.Response(text=svg, content_type="image/svg+xml")
        if name == "liar.png":  # says PNG, is HTML
            return web.Response(body=b"<html>not a png</html>", content_type="image/png")
        if name == "jpeg-as-png.png":
            return web.Response(body=JPEG, content_type="image/png")
        if name == "missing.png":
            return web.Response(status=404)
        if name == "bomb.png":
            headers = {"Content-Encoding": "gzip", "Content-Type": "image/png"}
            return web.Response(body=bomb(), headers=headers)
        return await self._stream(request, name)

    async def _stream(self, request: web.Request, name: str) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "image/png"})
        if name == "huge.png":  # 30 MB, no Content-Length
            await resp.prepare(request)
            await resp.write(PNG[:16])
            for _ in range(30):
                await resp.write(b"\0" * 1024 * 1024)
            return resp
        if name == "drip.png":  # slowloris: a byte at a time, forever
            await resp.prepare(request)
            await resp.write(PNG[:8])
            while True:
                await asyncio.sleep(0.2)
                await resp.write(b"\0")
        return web.Response(status=404)


def parts(urls: list[str], text: str = "what is this?") -> list[dict[str, Any]]:
    """A user message's content: the text, then one image part per URL."""
    images = [{"type": "image_url", "image_url": {"url": u}} for u in urls]
    return [{"type": "text", "text": text}, *images]
