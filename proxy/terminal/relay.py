"""Relay: performs the upstream call and pumps the stream, chunk by chunk.

Part of the terminal step, always last in the chain (pinned by the framework). Non-streamed
answers are read whole (bounded); streams are decoded as bytes arrive and handed on at once,
no buffering. When the consumer stops early (client gone), the upstream response is closed,
which aborts the provider's request and frees its connection.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from typing import Protocol

import aiohttp
import msgspec

from proxy.context import RequestContext
from proxy.convert import completion_to_chunks
from proxy.errors import (
    GatewayError,
    UpstreamError,
    UpstreamInvalid,
    UpstreamTimeout,
    UpstreamTooLarge,
    UpstreamUnreachable,
)
from proxy.framing import FRAMINGS, FrameDecoder
from proxy.gateway import Gateway
from proxy.providers.base import StreamTranslator, Translation, UpstreamRequest
from proxy.reply import (
    Chunk,
    CompletionReply,
    Reply,
    StreamReply,
    StreamWatcher,
    end_watchers,
    stream_outcome,
)
from proxy.schema import Usage
from proxy.upstream import open_upstream

ERROR_BODY_LIMIT = 1024 * 1024
STREAM_TYPES = ("text/event-stream", "application/vnd.amazon.eventstream")


# the upstream headers handed on under one exact name, and the name the client gets
_PASSED_AS = {
    "retry-after": "retry-after",
    "x-request-id": "x-upstream-request-id",
    "request-id": "x-upstream-request-id",
    "apim-request-id": "x-upstream-request-id",
}


def passed_headers(upstream: Mapping[str, str]) -> dict[str, str]:
    """Upstream headers worth handing to the client: rate limits and the provider's id."""
    out: dict[str, str] = {}
    for name, value in upstream.items():
        if name[:1] not in "xXaArR":  # no name below starts otherwise: not even lowered
            continue
        low = name.lower()
        if low.startswith(("x-ratelimit-", "anthropic-ratelimit-")):
            out[low] = value
        elif (passed := _PASSED_AS.get(low)) is not None:
            out[passed] = value
    return out


async def read_body(resp: aiohttp.ClientResponse, limit: int, *, truncate: bool = False) -> bytes:
    """The body as the client would see it, counting decompressed bytes against ``limit``.

    Content-Length counts the bytes on the wire, so it is trusted only for an answer with
    no Content-Encoding (a 51 KB gzip body can inflate to 52 MB). Over the limit: a 502,
    or with ``truncate`` (error bodies: only their message matters) the first ``limit``.
    """
    length = resp.content_length
    if length is not None and length <= limit and "content-encoding" not in resp.headers:
        return await resp.read()  # the common case: one call, no per-piece loop
    parts: list[bytes] = []
    size = 0
    async for data in resp.content.iter_any():
        size += len(data)
        if size > limit:
            if truncate:
                parts.append(data[: limit - size + len(data)])
                break
            raise UpstreamTooLarge(f"upstream answer larger than {limit} bytes")
        parts.append(data)
    return b"".join(parts)


async def read_within(
    resp: aiohttp.ClientResponse,
    limit: int,
    deadline: float | None,
    provider: str,
    *,
    truncate: bool = False,
) -> bytes:
    """The whole body by ``deadline`` (loop time; None: no deadline), errors as 504 / 502."""
    try:
        if deadline is None:
            return await read_body(resp, limit, truncate=truncate)
        async with asyncio.timeout_at(deadline):
            return await read_body(resp, limit, truncate=truncate)
    except TimeoutError:
        raise UpstreamTimeout(
            f"{provider} did not answer in time", code="upstream_timeout"
        ) from None
    except aiohttp.ClientError as exc:
        raise UpstreamUnreachable(
            f"{provider} connection broke while reading the answer ({type(exc).__name__})",
            code="upstream_disconnected",
        ) from None


JSON_TYPES = ("application/json", "application/problem+json")


def check_json_type(headers: Mapping[str, str], provider: str, status: int) -> None:
    """A non-streamed answer must say it is JSON (or say nothing): an HTML page from a
    proxy or a captive portal is not an answer to relay."""
    ctype = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if ctype and ctype not in JSON_TYPES and not ctype.endswith("+json"):
        raise UpstreamInvalid(
            f"{provider} answered HTTP {status} with content type {ctype!r}, not JSON",
            provider=provider,
        )


def unreadable(provider: str, exc: Exception) -> UpstreamInvalid:
    return UpstreamInvalid(f"{provider} sent an answer the gateway cannot read ({exc})")


class Relay:
    def __init__(self, gateway: Gateway) -> None:
        self.gw = gateway
        self.max_response = gateway.settings.upstream.max_response_bytes

    async def __call__(
        self, ctx: RequestContext, adapter: Translation, up: UpstreamRequest, framed: bool = False
    ) -> Reply:
        """Send ``up``; read the answer with ``adapter``. ``framed``: the caller writes chat
        SSE and may take a stream as framed chunks (when no middleware reads its events and
        the adapter can scan its stream: providers/openai_stream.py)."""
        if up.translation is not None:  # the adapter called in another dialect
            adapter = up.translation
        ctx.upstream_usage = None  # an earlier attempt's held-back count is not this one's
        target = ctx.target
        timeout = target.request_timeout / 1000.0 if target and target.request_timeout else None
        if ctx.trace_headers:  # W3C traceparent of this attempt (proxy/observability)
            up.headers.update(ctx.trace_headers)
        t0 = time.perf_counter()
        loop_deadline = None if timeout is None else asyncio.get_running_loop().time() + timeout
        resp = await open_upstream(self.gw.session, up, adapter.name, timeout)
        owned = False
        try:
            headers = passed_headers(resp.headers)
            if resp.status >= 400:
                raw = await read_within(
                    resp, ERROR_BODY_LIMIT, loop_deadline, adapter.name, truncate=True
                )
                ctx.upstream_ms += (time.perf_counter() - t0) * 1000.0
                raise adapter.parse_error(resp.status, resp.headers, raw)
            ctype = resp.headers.get("content-type", "")
            if up.stream and ctype.startswith(STREAM_TYPES):
                owned = True
                reader: Reader
                # getattr, not isinstance on a runtime Protocol: that costs microseconds
                scan = getattr(adapter, "framed_stream", None) if framed else None
                if scan is not None and not ctx.reads_reply:
                    reader = scan(_include_usage(ctx))
                else:
                    translator = adapter.stream_translator(ctx.model, _include_usage(ctx))
                    reader = EventReader(FRAMINGS[up.framing](), translator)
                name = adapter.name
                reply = StreamReply.watched_at_source(
                    lambda r, ws: self._pump(ctx, resp, reader, name, r, ws), resp.status, headers
                )
                ctx.upstream_ms += (time.perf_counter() - t0) * 1000.0  # time to headers
                return reply
            raw = await read_within(resp, self.max_response, loop_deadline, adapter.name)
            ctx.upstream_ms += (time.perf_counter() - t0) * 1000.0
            check_json_type(resp.headers, adapter.name, resp.status)
            try:
                completion = adapter.parse_response(resp.status, resp.headers, raw, ctx.model)
            except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
                raise unreadable(adapter.name, exc) from None
            if ctx.stream:  # the provider answered a stream request with one JSON body
                replay = completion_to_chunks(completion.parsed, _include_usage(ctx))
                ctx.upstream_usage = completion.usage()  # counted, asked for or not
                return StreamReply(_iterate(replay), 200, headers)
            return CompletionReply(completion, 200, headers)
        finally:
            if not owned:
                resp.release()

    async def fetch(self, ctx: RequestContext, adapter: Translation, up: UpstreamRequest) -> bytes:
        """Send a non-streamed call and return its JSON answer's bytes (limits, deadline)."""
        target = ctx.target
        timeout = target.request_timeout / 1000.0 if target and target.request_timeout else None
        if ctx.trace_headers:
            up.headers.update(ctx.trace_headers)
        t0 = time.perf_counter()
        deadline = None if timeout is None else asyncio.get_running_loop().time() + timeout
        resp = await open_upstream(self.gw.session, up, adapter.name, timeout)
        try:
            if resp.status >= 400:
                raw = await read_within(
                    resp, ERROR_BODY_LIMIT, deadline, adapter.name, truncate=True
                )
                raise adapter.parse_error(resp.status, resp.headers, raw)
            raw = await read_within(resp, self.max_response, deadline, adapter.name)
            check_json_type(resp.headers, adapter.name, resp.status)
            return raw
        finally:
            resp.release()
            ctx.upstream_ms += (time.perf_counter() - t0) * 1000.0

    async def _pump(
        self,
        ctx: RequestContext,
        resp: aiohttp.ClientResponse,
        reader: Reader,
        provider: str,
        reply: StreamReply,
        watchers: list[StreamWatcher],
    ) -> AsyncIterator[Chunk]:
        """The stream's source, which also does what reply.py's watching layer would:
        each chunk goes to the watchers before it leaves, and their end comes after the
        upstream response is let go and the usage event it held back is on ``ctx``."""
        feed = reader.feed
        clean = False
        failed: BaseException | None = None
        t0 = time.perf_counter()
        try:
            try:
                async for data in resp.content.iter_any():
                    batch: list[Chunk] = []
                    failure: GatewayError | None = None
                    try:
                        feed(data, batch)
                    except GatewayError as exc:  # deliver what came before the error event
                        failure = exc
                    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
                        failure = unreadable(provider, exc)
                    for chunk in batch[:-1]:
                        chunk.flush = False  # more in hand: the client gets them in one write
                    ctx.upstream_ms += (time.perf_counter() - t0) * 1000.0
                    for chunk in batch:
                        for w in watchers:
                            w.chunk(chunk)
                        yield chunk  # time held by the consumer is not upstream time
                    if failure is not None:
                        raise failure
                    t0 = time.perf_counter()
                rest: list[Chunk] = []
                reader.finish(rest)
                for chunk in rest:
                    for w in watchers:
                        w.chunk(chunk)
                    yield chunk
                clean = True
            except TimeoutError:
                raise UpstreamTimeout(
                    f"{provider} stream stalled (read timeout)", code="upstream_timeout"
                ) from None
            except aiohttp.ClientError as exc:
                raise UpstreamError(
                    f"{provider} stream broke ({type(exc).__name__})",
                    status=502,
                    code="upstream_stream_broken",
                ) from None
            finally:
                ctx.upstream_ms += (time.perf_counter() - t0) * 1000.0
                # before any wrapper's end (they close inward): the count they settle on
                ctx.upstream_usage = reader.dropped
                if clean:
                    resp.release()
                else:
                    resp.close()  # aborts the upstream request and drops its connection
        except BaseException as exc:
            failed = exc
            raise
        finally:
            if watchers:
                end_watchers(watchers, *stream_outcome(failed, reply.status))


class Reader(Protocol):
    """Upstream bytes in, chunks out: ``feed`` appends a read's chunks to ``out`` (those
    before an error stay there), ``finish`` the last ones when the stream ends."""

    def feed(self, data: bytes, out: list[Chunk]) -> None: ...

    def finish(self, out: list[Chunk]) -> None: ...

    @property
    def dropped(self) -> Usage | None:
        """A usage event read and not relayed (the gateway asked, the client did not)."""
        ...


class EventReader:
    """The event-by-event reader: a framing decoder, then the adapter's translator."""

    __slots__ = ("decoder", "translator")

    def __init__(self, decoder: FrameDecoder, translator: StreamTranslator) -> None:
        self.decoder = decoder
        self.translator = translator

    def feed(self, data: bytes, out: list[Chunk]) -> None:
        feed = self.translator.feed
        for event in self.decoder.feed(data):
            out.extend(feed(event))

    def finish(self, out: list[Chunk]) -> None:
        for event in self.decoder.flush():
            out.extend(self.translator.feed(event))
        out.extend(self.translator.finish())

    @property
    def dropped(self) -> Usage | None:
        found: Usage | None = getattr(self.translator, "dropped", None)
        return found


def _include_usage(ctx: RequestContext) -> bool:
    return ctx.body.head.include_usage


async def _iterate(chunks: list[Chunk]) -> AsyncIterator[Chunk]:
    for c in chunks:
        yield c
