"""The framework's edge: one handler for every front door.

It reads the body (413 over the limit), lets the front door decode it, builds the
RequestContext, runs the endpoint's chain and hands the Reply back to the front door to
write in its own format. Every ``GatewayError`` is rendered by the front door (OpenAI's
error shape, or Anthropic's on ``/v1/messages``); anything else is a logged 500 with no
detail. Nothing else ever reaches the client: no traceback, no credential.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import msgspec
import structlog
from aiohttp import web

from proxy.context import RequestContext
from proxy.errors import GatewayError, InvalidRequest, RequestTooLarge
from proxy.observability.observer import OVERHEAD_HEADER
from proxy.redact import redact, request_secrets
from proxy.reply import Chunk, StreamReply, aclose

if TYPE_CHECKING:
    from proxy.frontdoors import FrontDoor
    from proxy.gateway import Gateway

log = structlog.get_logger("gateway")

JSON = "application/json"
SSE_HEADERS = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",  # tell nginx-style proxies in front not to buffer
}


class FirstWriteResponse(web.StreamResponse):
    """A streamed answer whose headers leave with its first body bytes, in one write
    (aiohttp sends a StreamResponse's headers in a write of their own: one more syscall,
    one more wake-up of the client). Only for a writer that prepares with its first bytes
    already in hand and writes them at once, or ``write(b"")`` to send the headers alone.
    The one wait it adds: a stream whose first read held all of it, ``[DONE]`` included,
    goes out in one write once the upstream's body has ended and the wrappers have ended
    (log lines; a circuit breaker's record, which may be a Redis call) — at once, unless
    an upstream keeps its body open after ``[DONE]``. The events waited for both before
    too; now the headers wait with them."""

    _send_headers_immediately = False  # aiohttp's switch, off in its own web.Response


def json_error(exc: GatewayError, extra: dict[str, str] | None = None) -> web.Response:
    """An error in OpenAI's shape: ``{"error": {"message", "type", "param", "code"}}``."""
    headers = {**(extra or {}), **exc.headers}
    return web.Response(
        body=exc.to_json(), status=exc.status, content_type=JSON, headers=headers or None
    )


async def read_request_body(request: web.Request, limit: int) -> bytes:
    """The whole body (decompressed bytes counted against ``limit``), joined once.

    Not ``request.read()``: it gathers the pieces in a bytearray (regrown as it fills) and
    copies that into bytes, two more copies of the whole body than this (bench.bigwork).
    """
    if request.content_length is not None and request.content_length > limit:
        raise RequestTooLarge(f"request body is larger than {limit} bytes", code="body_too_large")
    content = request.content
    grow = getattr(content, "set_read_chunk_size", None)  # aiohttp >= 3.14
    if grow is not None:
        grow(limit)  # as request.read() does there: no pause/resume per 64 KB
    parts: list[bytes] = []
    size = 0
    while chunk := await content.readany():
        size += len(chunk)
        if size > limit:
            raise RequestTooLarge(
                f"request body is larger than {limit} bytes", code="body_too_large"
            )
        parts.append(chunk)
        if content.at_eof():  # the usual body, whole in one read: no call to learn it ended
            break
    return parts[0] if len(parts) == 1 else b"".join(parts)


def reply_headers(ctx: RequestContext) -> dict[str, str]:
    headers = {"x-portkey-trace-id": ctx.trace_id, **ctx.response_headers}
    if ctx.provider:
        headers["x-portkey-provider"] = ctx.provider
    return headers


def read_metadata(ctx: RequestContext) -> None:
    raw = ctx.headers.get("x-portkey-metadata")
    if not raw:
        return
    try:
        meta = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        meta = None
    if not isinstance(meta, dict):
        raise InvalidRequest(
            "x-portkey-metadata must be a JSON object",
            param="x-portkey-metadata",
            code="invalid_header",
        )
    ctx.metadata = meta


def handler(gw: Gateway, door: FrontDoor) -> Callable[[web.Request], object]:
    """The aiohttp handler of one front door."""

    async def handle(request: web.Request) -> web.StreamResponse:
        t0 = time.perf_counter()
        request_id = os.urandom(16).hex()  # as unique as uuid4, a third of the cost
        trace_id = request.headers.get("x-portkey-trace-id") or request_id
        ctx: RequestContext | None = None
        try:
            body = await door.read(request, gw.settings.server.max_body_bytes)
            endpoint = door.endpoint_of(request)
            ctx = RequestContext(request_id, trace_id, request.headers, body, gw, endpoint)
            ctx.reads_reply = endpoint in gw.event_readers
            read_metadata(ctx)
            reply = await gw.chains[endpoint](ctx)
        except GatewayError as exc:
            secrets = ctx.secrets if ctx else request_secrets(request.headers)
            if secrets:  # a key pasted into a field the message quotes goes no further
                exc.message = redact(exc.message, secrets)
            if ctx is None:  # failed before the chain: the logging middleware never saw it
                log.info(
                    "request",
                    request_id=request_id,
                    trace_id=redact(trace_id, secrets),
                    endpoint=door.endpoint,
                    status=exc.status,
                    error_type=exc.type,
                )
            headers = reply_headers(ctx) if ctx else {"x-portkey-trace-id": trace_id}
            headers[OVERHEAD_HEADER] = (
                gw.observability.overhead_header(ctx)
                if ctx
                else f"{(time.perf_counter() - t0) * 1e3:.3f}"
            )
            return door.error(exc, headers)
        except RecursionError:  # msgspec refuses JSON nested past its depth limit
            err = InvalidRequest(
                "the request holds JSON nested too deeply", code="nested_too_deeply"
            )
            return door.error(err, {"x-portkey-trace-id": trace_id})
        except Exception:
            log.exception("unhandled error", request_id=request_id, trace_id=trace_id)
            return door.error(
                GatewayError("internal gateway error", code="internal_error"),
                {"x-portkey-trace-id": trace_id},
            )
        headers = {**reply_headers(ctx), **reply.headers}
        return await door.respond(request, ctx, reply, headers)

    return handle


Frame = Callable[[Chunk], bytes]


async def write_sse(
    request: web.Request,
    door: FrontDoor,
    reply: StreamReply,
    headers: dict[str, str],
    overhead: Callable[[], str] | None,
    frame: Frame,
    end: bytes | Callable[[], bytes],
    error_frame: Callable[[GatewayError], bytes],
) -> web.StreamResponse:
    """Write a stream: ``frame`` turns each chunk into SSE bytes (none, one or several
    events), ``end`` closes a stream that finished (bytes, or a function for a stateful
    format whose last events depend on what came before), ``error_frame`` is the last
    event of one that failed after its first byte. The first chunk is pulled before the
    headers go, so an error before it is still a proper HTTP status (rendered by the front
    door)."""
    chunks = reply.chunks
    try:
        try:
            first = await anext(chunks)
        except StopAsyncIteration:
            first = None
        finally:
            if overhead is not None:  # sent with the headers: the time up to the first chunk
                headers[OVERHEAD_HEADER] = overhead()
    except GatewayError as exc:
        await aclose(chunks)
        return door.error(exc, headers)
    except BaseException:
        await aclose(chunks)
        raise
    headers.update(SSE_HEADERS)  # the handler's own dict
    resp = FirstWriteResponse(status=reply.status, headers=headers)
    pending: list[bytes] = []  # events already in hand, sent in one write at the next flush
    closed = False
    try:
        await resp.prepare(request)
        if first is not None:
            pending.append(frame(first))
            if first.flush and not first.final:
                await resp.write(b"".join(pending))  # the headers leave with it
                pending.clear()
            elif not first.final:
                # held for a later write (a wrapper may wait on the upstream before the
                # next chunk): the headers go now, on their own
                await resp.write(b"")
            async for chunk in chunks:
                pending.append(frame(chunk))
                if chunk.flush and not chunk.final:
                    await resp.write(b"".join(pending))
                    pending.clear()
        pending.append(end() if callable(end) else end)
        await aclose(chunks)  # the wrappers' last work (log lines) before the client's end
        closed = True
        # the last events, the end and the end of the body in one write (the headers too,
        # when the whole stream came in one read: aiohttp sends them with the first bytes)
        await resp.write_eof(b"".join(pending))
    except GatewayError as exc:
        # headers are gone: the error becomes the last event (the SDKs raise on it)
        pending.append(error_frame(exc))
        await resp.write(b"".join(pending))
    except ConnectionResetError:
        pass  # the client went away; closing the chunks below aborts the upstream
    except Exception:
        log.exception("unhandled error in stream")
        await resp.write(error_frame(GatewayError("internal gateway error", code="internal_error")))
    finally:
        if not closed:
            await aclose(chunks)
    return resp
