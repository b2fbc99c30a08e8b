"""The aiohttp application: thin handlers around the frozen middleware chain.

The handler is the outermost layer of the chain: it decodes the body once, runs the chain,
writes the Reply (JSON, or SSE ending in ``data: [DONE]``) and renders every GatewayError in
the OpenAI error shape. Nothing else ever reaches the client: no traceback, no credential.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial

import msgspec
import structlog
from aiohttp import web

from middleware.translate import Translate
from proxy import __version__
from proxy.context import RequestBody, RequestContext
from proxy.embeddings import embeddings_handler
from proxy.errors import GatewayError, InvalidRequest, NotFound, RequestTooLarge, validation_where
from proxy.gateway import Gateway
from proxy.hostpolicy import GuardedResolver
from proxy.observability.observer import OVERHEAD_HEADER
from proxy.pipeline import shutdown_all, startup_all
from proxy.providers import PROVIDERS
from proxy.reply import CompletionReply, StreamReply, aclose
from proxy.schema import ChatRequest, encoder, request_decoder
from proxy.settings import Settings
from proxy.sse import DONE
from proxy.upstream import make_session

GATEWAY = web.AppKey("gateway", Gateway)
log = structlog.get_logger("gateway")

JSON = "application/json"
SSE_HEADERS = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",  # tell nginx-style proxies in front not to buffer
}


def error_response(exc: GatewayError, extra: dict[str, str] | None = None) -> web.Response:
    headers = {**(extra or {}), **exc.headers}
    return web.Response(
        body=exc.to_json(), status=exc.status, content_type=JSON, headers=headers or None
    )


def _param_of(exc: msgspec.ValidationError) -> tuple[str, str | None]:
    message, param = validation_where(exc)
    if param is not None:
        return f"{param}: {message}", param
    text = message
    if "missing required field `" in text:
        param = text.split("`")[1]
        return f"{param}: is required", param
    return text, None


def decode_chat(raw: bytes) -> ChatRequest:
    if not raw.strip():
        raise InvalidRequest("request body is empty; expected a JSON object", code="empty_body")
    try:
        req = request_decoder.decode(raw)
    except msgspec.ValidationError as exc:
        message, param = _param_of(exc)
        raise InvalidRequest(message, param=param, code="invalid_value") from None
    except msgspec.DecodeError as exc:
        raise InvalidRequest(
            f"request body is not valid JSON: {exc}", code="invalid_json"
        ) from None
    if not req.messages:
        raise InvalidRequest("messages: must hold at least one message", param="messages")
    return req


async def read_request_body(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise RequestTooLarge(f"request body is larger than {limit} bytes", code="body_too_large")
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise RequestTooLarge(
            f"request body is larger than {limit} bytes", code="body_too_large"
        ) from None


def _reply_headers(ctx: RequestContext) -> dict[str, str]:
    headers = {"x-portkey-trace-id": ctx.trace_id, **ctx.response_headers}
    if ctx.provider:
        headers["x-portkey-provider"] = ctx.provider
    return headers


async def chat_completions(request: web.Request) -> web.StreamResponse:
    gw = request.app[GATEWAY]
    t0 = time.perf_counter()
    request_id = os.urandom(16).hex()  # as unique as uuid4, a third of the cost
    trace_id = request.headers.get("x-portkey-trace-id") or request_id
    ctx: RequestContext | None = None
    try:
        raw = await read_request_body(request, gw.settings.server.max_body_bytes)
        body = RequestBody(raw, decode_chat(raw))
        ctx = RequestContext(request_id, trace_id, request.headers, body, gw)
        _read_metadata(ctx)
        assert gw.chain is not None
        reply = await gw.chain(ctx)
    except GatewayError as exc:
        if ctx is None:  # failed before the chain: the logging middleware never saw it
            log.info(
                "request",
                request_id=request_id,
                trace_id=trace_id,
                status=exc.status,
                error_type=exc.type,
            )
        headers = _reply_headers(ctx) if ctx else {"x-portkey-trace-id": trace_id}
        headers[OVERHEAD_HEADER] = (
            gw.observability.overhead_header(ctx)
            if ctx
            else f"{(time.perf_counter() - t0) * 1e3:.3f}"
        )
        return error_response(exc, headers)
    except Exception:
        log.exception("unhandled error", request_id=request_id, trace_id=trace_id)
        return error_response(
            GatewayError("internal gateway error", code="internal_error"),
            {"x-portkey-trace-id": trace_id},
        )
    headers = {**_reply_headers(ctx), **reply.headers}
    overhead = partial(gw.observability.overhead_header, ctx)
    if isinstance(reply, CompletionReply):
        headers[OVERHEAD_HEADER] = overhead()
        return web.Response(
            body=reply.completion.raw, status=reply.status, content_type=JSON, headers=headers
        )
    assert isinstance(reply, StreamReply)
    return await write_stream(request, reply, headers, overhead)


async def write_stream(
    request: web.Request,
    reply: StreamReply,
    headers: dict[str, str],
    overhead: Callable[[], str] | None = None,
) -> web.StreamResponse:
    chunks = reply.chunks
    try:
        # pull the first chunk before sending headers: an error before the first byte is
        # still a proper HTTP error status
        try:
            first = await anext(chunks)
        except StopAsyncIteration:
            first = None
        finally:
            if overhead is not None:  # sent with the headers: the time up to the first chunk
                headers[OVERHEAD_HEADER] = overhead()
    except GatewayError as exc:
        await aclose(chunks)
        return error_response(exc, headers)
    except BaseException:
        await aclose(chunks)
        raise
    resp = web.StreamResponse(status=reply.status, headers={**headers, **SSE_HEADERS})
    pending: list[bytes] = []  # events already in hand, sent in one write at the next flush
    try:
        await resp.prepare(request)
        if first is not None:
            pending.append(b"data: " + first.raw + b"\n\n")
            if first.flush:
                await resp.write(b"".join(pending))
                pending.clear()
            async for chunk in chunks:
                pending.append(b"data: " + chunk.raw + b"\n\n")
                if chunk.flush:
                    await resp.write(b"".join(pending))
                    pending.clear()
        pending.append(DONE)
        await resp.write(b"".join(pending))
    except GatewayError as exc:
        # headers are gone: the error becomes the last event (the openai SDK raises on it)
        pending.append(b"data: " + exc.to_json() + b"\n\n")
        await resp.write(b"".join(pending))
    except ConnectionResetError:
        pass  # the client went away; closing the chunks below aborts the upstream
    except Exception:
        log.exception("unhandled error in stream")
        err = GatewayError("internal gateway error", code="internal_error")
        await resp.write(b"data: " + err.to_json() + b"\n\n")
    finally:
        await aclose(chunks)
    return resp


def _read_metadata(ctx: RequestContext) -> None:
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


async def list_models(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    for mw in gw.middlewares:
        check = getattr(mw, "authenticate", None)
        if check is not None:
            try:
                check(request.headers)
            except GatewayError as exc:
                return error_response(exc)
    data = [
        {"id": f"@{slug}/{model}", "object": "model", "created": 0, "owned_by": entry.provider}
        for slug, entry in gw.settings.providers.items()
        for model in entry.models
    ]
    return web.Response(body=encoder.encode({"object": "list", "data": data}), content_type=JSON)


async def health(request: web.Request) -> web.Response:
    return web.Response(body=b'{"status":"ok"}', content_type=JSON)


async def ready(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    if not gw.ready:
        return web.Response(body=b'{"status":"not ready"}', status=503, content_type=JSON)
    return web.Response(
        body=encoder.encode({"status": "ready", "version": __version__}), content_type=JSON
    )


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def openai_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """aiohttp's own errors (404, 405) in the OpenAI error shape."""
    try:
        return await handler(request)
    except web.HTTPMethodNotAllowed as exc:
        err = GatewayError(
            f"method {request.method} not allowed on {request.path}",
            status=405,
            type="invalid_request_error",
        )
        return error_response(err, {"Allow": ",".join(sorted(exc.allowed_methods))})
    except web.HTTPNotFound:
        return error_response(NotFound(f"no route for {request.method} {request.path}"))


def create_app(settings: Settings) -> web.Application:
    gateway = Gateway(settings)
    app = web.Application(
        client_max_size=settings.server.max_body_bytes, middlewares=[openai_errors]
    )
    app[GATEWAY] = gateway
    gateway.freeze(Translate(gateway))

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        session = gateway.session = make_session(
            settings.upstream, GuardedResolver(gateway.host_policy)
        )
        try:
            await gateway.observability.startup()
            await startup_all(gateway.middlewares, gateway)
            for name in gateway.providers_named_in_settings():
                warm = getattr(PROVIDERS[name], "warm", None)
                if warm is not None:  # heavy imports before ready, not on the first request
                    await asyncio.to_thread(warm)
        except BaseException:
            await session.close()  # a failed start-up must not leak the pool
            raise
        gateway.ready = True
        yield
        gateway.ready = False
        try:
            await shutdown_all(gateway.middlewares)
            await gateway.observability.shutdown()
        finally:
            await session.close()
            gateway.session = None

    async def not_ready(app: web.Application) -> None:
        gateway.ready = False  # SIGTERM: fail readiness first so traffic drains away

    app.cleanup_ctx.append(lifecycle)
    app.on_shutdown.append(not_ready)
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_post("/v1/embeddings", embeddings_handler(gateway))
    app.router.add_get("/v1/models", list_models)
    app.router.add_get("/health", health)
    app.router.add_get("/metrics", gateway.observability.metrics_handler)
    app.router.add_get("/ready", ready)
    return app
