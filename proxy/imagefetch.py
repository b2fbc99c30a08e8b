"""Images by URL for providers that need the bytes (Bedrock's Converse; others by settings).

Before such an adapter builds its chat request (``Upstream.chat``), every ``image_url``
part with an http(s) URL is fetched by the gateway and handed to the adapter as a data URL.
The URL is the client's, so the fetch is held to what any client-chosen destination is:

- the egress policy (``custom_hosts``: allowlist, denied networks) on the URL, and the
  shared session's ``GuardedResolver`` on every address the name resolves to; redirects
  are never followed; no client header or cookie goes along;
- at most ``max_images`` image URLs per request (checked before anything is fetched),
  ``concurrency`` at once per request and ``max_in_flight`` in the process, ``timeout``
  seconds per image from connecting to the last byte (a slow drip ends there);
- ``max_image_bytes`` per image and ``max_total_bytes`` per request, counted on the
  decompressed bytes while they are read (a gzip bomb stops at the limit);
- a content type of a format the gateway can check (PNG, JPEG, GIF, WebP) and bytes that
  start the way that format does.

A failure is a 400 naming the part (``messages[i].content[j].image_url.url``), a URL the
egress policy refuses its 403. With ``image_fetch.enabled: false`` nothing is fetched and
the adapter's own answer to a URL stays (Bedrock: a 400 asking for a data URL).
"""

from __future__ import annotations

import asyncio
import base64
from typing import TYPE_CHECKING, Any

import aiohttp
import msgspec

from proxy.body import RequestBody, Untranslatable
from proxy.errors import GatewayError, InvalidRequest
from proxy.schema import ImagePart, encoder

if TYPE_CHECKING:
    from proxy.gateway import Gateway

MiB = 1024 * 1024
MAX_URL_CHARS = 8192
OFFLOAD_BYTES = 512 * 1024  # bodies from this size are read off the event loop
HEADERS = {"Accept": "image/png, image/jpeg, image/gif, image/webp", "User-Agent": "llm-gateway"}
TYPES = {  # declared content type -> the type its bytes must be
    "image/png": "image/png",
    "image/jpeg": "image/jpeg",
    "image/jpg": "image/jpeg",
    "image/gif": "image/gif",
    "image/webp": "image/webp",
}


class ImageFetchSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``image_fetch:`` in settings (docs/configuration.md)."""

    enabled: bool = True
    # providers whose image URLs the gateway fetches. None: those whose API cannot fetch
    # a URL (Bedrock); a list replaces that, e.g. [bedrock, google, vertex-ai, ollama]
    providers: list[str] | None = None
    max_images: int = 20  # image URLs per request
    max_image_bytes: int = 20 * MiB  # per image, decompressed
    max_total_bytes: int = 32 * MiB  # per request, decompressed
    timeout: float = 10.0  # seconds per image, connect to last byte
    concurrency: int = 4  # fetches at once per request
    max_in_flight: int = 64  # fetches at once in the process


def check_settings(s: ImageFetchSettings) -> None:
    for name in ("max_images", "max_image_bytes", "max_total_bytes", "concurrency"):
        if getattr(s, name) < 1:
            raise ValueError(f"image_fetch.{name}: must be at least 1")
    if s.max_in_flight < 1 or s.timeout <= 0:
        raise ValueError("image_fetch.max_in_flight and timeout: must be positive")


def sniff(data: bytes) -> str | None:
    """The image format the bytes start with (only formats the gateway can check)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def image_urls(body: RequestBody) -> list[tuple[int, int, str]]:
    """(message index, part index, URL) of each http(s) image URL in the conversation."""
    found = []
    for i, message in enumerate(body.request.messages):
        content = getattr(message, "content", None)
        if not isinstance(content, list):
            continue
        for j, part in enumerate(content):
            if isinstance(part, ImagePart):
                url = part.image_url.url
                if url[:8].lower().startswith(("http://", "https://")):
                    found.append((i, j, url))
    return found


def _fail(param: str, why: str, code: str = "image_fetch_failed") -> InvalidRequest:
    return InvalidRequest(f"{param}: {why}", param=param, code=code)


class _Budget:
    """The bytes one request may still fetch, across its concurrent fetches."""

    def __init__(self, limit: int) -> None:
        self.left = limit

    def take(self, n: int, param: str) -> None:
        self.left -= n
        if self.left < 0:
            raise _fail(
                param,
                "the request's images are larger in total than this gateway fetches",
                "image_too_large",
            )


class ImageFetcher:
    """Fetches a request's image URLs for adapters that need bytes (see the module doc)."""

    def __init__(self, gw: Gateway) -> None:
        self.gw = gw
        self.s: ImageFetchSettings = gw.settings.image_fetch
        self._in_flight = asyncio.Semaphore(self.s.max_in_flight)
        self._providers = None if self.s.providers is None else set(self.s.providers)

    def applies(self, adapter: Any) -> bool:
        if not self.s.enabled:
            return False
        if self._providers is None:
            return getattr(adapter, "needs_image_bytes", False) is True
        return adapter.name in self._providers

    async def inline(self, body: RequestBody, adapter: Any) -> RequestBody:
        """``body`` with its http(s) image URLs as data URLs (``body`` itself if none)."""
        if not self.applies(adapter):
            return body
        try:
            if len(body.raw) < OFFLOAD_BYTES:
                found = image_urls(body)
            else:  # decoding megabytes: off the loop (the adapter reuses the decoded request)
                found = await asyncio.to_thread(image_urls, body)
        except Untranslatable:
            return body  # the adapter says what it cannot take, in its own words
        if not found:
            return body
        if len(found) > self.s.max_images:
            raise InvalidRequest(
                f"messages: {len(found)} image URLs; this gateway fetches at most "
                f"{self.s.max_images} per request (send the others as data URLs)",
                param="messages",
                code="too_many_images",
            )
        wanted: dict[str, str] = {}  # URL -> the param of its first part
        for i, j, url in found:
            param = f"messages[{i}].content[{j}].image_url.url"
            self._check(url, param)  # every URL before any fetch
            wanted.setdefault(url, param)
        budget = _Budget(self.s.max_total_bytes)
        limit = asyncio.Semaphore(self.s.concurrency)
        try:
            async with asyncio.TaskGroup() as tg:
                tasks = {
                    u: tg.create_task(self._fetch(u, p, budget, limit)) for u, p in wanted.items()
                }
        except BaseExceptionGroup as group:
            raise _first(group) from None
        fetched = {u: t.result() for u, t in tasks.items()}
        return await asyncio.to_thread(_assemble, body, found, fetched)

    def _check(self, url: str, param: str) -> None:
        if len(url) > MAX_URL_CHARS:
            raise _fail(param, f"an image URL longer than {MAX_URL_CHARS} characters")
        try:
            self.gw.host_policy.check(url, param=param)
        except GatewayError as exc:
            raise type(exc)(
                f"{param}: the gateway may not fetch this image URL ({exc.message})",
                param=param,
                code=exc.code,
            ) from None

    async def _fetch(
        self, url: str, param: str, budget: _Budget, limit: asyncio.Semaphore
    ) -> tuple[str, bytes]:
        s = self.s
        async with limit, self._in_flight:
            try:
                async with asyncio.timeout(s.timeout):
                    resp = await self.gw.session.get(url, headers=HEADERS, allow_redirects=False)
                    async with resp:
                        declared = self._declared(resp, param)
                        data = bytearray()
                        async for piece in resp.content.iter_any():
                            data += piece
                            if len(data) > s.max_image_bytes:
                                raise _fail(
                                    param,
                                    f"the image is larger than {s.max_image_bytes} bytes",
                                    "image_too_large",
                                )
                            budget.take(len(piece), param)
            except TimeoutError:
                raise _fail(param, f"the image did not arrive within {s.timeout:g} s") from None
            except aiohttp.ClientError as exc:
                raise _fail(param, f"could not fetch the image ({type(exc).__name__})") from None
        if sniff(bytes(data[:16])) != declared:
            raise _fail(param, f"the bytes are not a {declared} image", "unsupported_image_type")
        return declared, bytes(data)

    def _declared(self, resp: aiohttp.ClientResponse, param: str) -> str:
        """The answer's image type, checked before its body is read."""
        if 300 <= resp.status < 400:
            raise _fail(
                param,
                f"the image URL answered with a redirect (HTTP {resp.status}); the gateway "
                "does not follow redirects",
            )
        if resp.status != 200:
            raise _fail(param, f"the image URL answered HTTP {resp.status}")
        declared = TYPES.get(resp.content_type.lower())
        if declared is None:
            raise _fail(
                param,
                f"content type {resp.content_type!r} is not an image the gateway can check "
                "(png, jpeg, gif, webp)",
                "unsupported_image_type",
            )
        length = resp.content_length  # on the wire: trusted only when not compressed
        if length and length > self.s.max_image_bytes and "content-encoding" not in resp.headers:
            raise _fail(
                param, f"the image is larger than {self.s.max_image_bytes} bytes", "image_too_large"
            )
        return declared


def _first(group: BaseExceptionGroup[Any]) -> BaseException:
    """The first GatewayError of a task group's failures (else the first failure)."""
    leaves: list[BaseException] = []
    stack: list[BaseException] = [group]
    while stack:
        exc = stack.pop(0)
        if isinstance(exc, BaseExceptionGroup):
            stack[:0] = list(exc.exceptions)
        else:
            leaves.append(exc)
    for exc in leaves:
        if isinstance(exc, GatewayError):
            return exc
    return leaves[0]


def _assemble(
    body: RequestBody, found: list[tuple[int, int, str]], fetched: dict[str, tuple[str, bytes]]
) -> RequestBody:
    """A chat body like ``body`` whose image parts carry the fetched bytes."""
    chat = body.as_dict()
    messages = list(chat["messages"])
    data_urls = {
        url: f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
        for url, (mime, data) in fetched.items()
    }
    for i, j, url in found:
        message = messages[i] = dict(messages[i])
        content = message["content"] = list(message["content"])
        part = content[j] = dict(content[j])
        image = part["image_url"]
        part["image_url"] = (
            {**image, "url": data_urls[url]} if isinstance(image, dict) else {"url": data_urls[url]}
        )
    return RequestBody(encoder.encode({**chat, "messages": messages}), body.head)
