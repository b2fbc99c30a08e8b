"""``/v1/*``: every other OpenAI API (images, audio, files, batches, moderations, rerank,
...) passed through to the OpenAI-compatible family and Azure.

The request runs the ``passthrough`` chain like any other (gateway auth, routing with its
fallbacks and retries, logs, metrics, traces); the terminal step binds the target, and the
URL is the target's base with the client's path under it (``join_url``: nothing the client
sends can leave that base). The body is not read: a JSON body up to ``SMALL_JSON`` is read
so ``model: "@slug/model"`` can route it (and the model is renamed for the provider);
anything else (multipart uploads, large bodies) streams to the provider as it arrives, and
routing comes from the headers or the config. The answer streams back unless it is JSON,
which is read (bounded) for its usage. See docs/passthrough.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import msgspec
import structlog
from aiohttp import web

from proxy.body import RequestBody, RequestHead
from proxy.edge import FirstWriteResponse
from proxy.errors import GatewayError, InvalidRequest, PermissionDenied, RequestTooLarge
from proxy.frontdoors.base import BaseDoor
from proxy.observability.observer import OVERHEAD_HEADER
from proxy.providers import CREDENTIAL_FIELDS
from proxy.providers.base import UpstreamRequest
from proxy.providers.openai_compat import OpenAICompatAdapter, check_path
from proxy.reply import BodyReply, Reply, aclose
from proxy.schema import encoder
from proxy.terminal import passthrough as wire

if TYPE_CHECKING:
    from proxy.context import RequestContext
    from proxy.gateway import Gateway
    from proxy.target import Target
    from proxy.terminal import Upstream

log = structlog.get_logger("gateway")

SMALL_JSON = 1024 * 1024  # JSON bodies up to this are read, so their model can route them
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# client headers the OpenAI APIs need beside the body (the Assistants API wants OpenAI-Beta);
# credentials and x-portkey-* never go, and a target's forward_headers add more
CLIENT_HEADERS = ("openai-beta", "idempotency-key", "accept")


class PassthroughBody(RequestBody):
    """The request as the pass-through door read it: where it goes and what it carries."""

    __slots__ = ("edits_apply", "length", "method", "path", "query", "upload")

    def __init__(
        self,
        raw: bytes,
        head: RequestHead,
        *,
        method: str,
        path: str,
        query: str,
        content_type: str,
        length: int | None,
        upload: wire.Upload | None,
        native: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(raw, head, wire="passthrough", content_type=content_type)
        self.method = method
        self.path = path  # relative to the API's base, checked (check_path)
        self.query = query  # as sent, checked
        self.length = length  # the client's Content-Length, if it sent one
        self.upload = upload  # the unread body, streamed upstream
        self.stream = upload.source if upload is not None else None
        # override_params and a routed model rewrite a JSON object read whole; a streamed
        # JSON body cannot be rewritten (400), other bodies are not JSON (edits ignored)
        self.edits_apply = native is not None
        self._native = native if native is not None else {}


async def _read_up_to(request: web.Request, n: int) -> bytes:
    """Up to ``n`` bytes of the body (fewer only at its end)."""
    pieces: list[bytes] = []
    got = 0
    while got < n:
        piece = await request.content.read(n - got)
        if not piece:
            break
        pieces.append(piece)
        got += len(piece)
    return b"".join(pieces)


def _head(raw: bytes) -> tuple[RequestHead, dict[str, Any] | None]:
    """Model and stream flag of a small JSON body; the body is the provider's to judge, so
    one that is not a JSON object is passed on as bytes (no head, no edits)."""
    try:
        obj = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return RequestHead(), None
    if not isinstance(obj, dict):
        return RequestHead(), None
    model = obj.get("model")
    return RequestHead(
        model=model if isinstance(model, str) else "", stream=obj.get("stream") is True
    ), obj


def check_allowed(target: Target, path: str, gw: Gateway) -> None:
    """403 unless the path is one the target's gateway-held credential may serve.

    A client's own key goes anywhere under the provider's API: the account is theirs. A key
    from settings serves only the prefixes its provider entry lists (``passthrough``): with
    it, any client of the gateway could otherwise list, read and delete every file, batch
    and fine-tune of the account the operator configured for chat.
    """
    held = [f for f in CREDENTIAL_FIELDS if f in target.settings_fields and target.get(f)]
    if not held:
        return
    entry = gw.settings.providers.get(target.slug) if target.slug else None
    for prefix in entry.passthrough if entry is not None else ():
        p = prefix.strip("/")
        if p == "*" or path == p or path.startswith(p + "/"):
            return
    raise PermissionDenied(
        f"provider {target.slug or target.provider!r} uses credentials held by this gateway, "
        f"which settings do not open to /v1/{path} (providers.<slug>.passthrough)",
        param="path",
        code="passthrough_forbidden",
    )


class PassthroughDoor(BaseDoor):
    endpoint = "passthrough"
    # after every other door's routes: aiohttp resolves routes in the order they were added
    routes: ClassVar[tuple[tuple[str, str], ...]] = tuple((m, "/v1/{tail:.*}") for m in METHODS)

    async def read(self, request: web.Request, limit: int) -> RequestBody:
        raw_path = request.rel_url.raw_path
        if not raw_path.startswith("/v1/"):  # "/%761/x" decodes into this route
            raise InvalidRequest("the path must start with /v1/", param="path", code="invalid_path")
        path, query = raw_path[4:], request.rel_url.raw_query_string
        check_path(path, query)
        ctype = request.headers.get("Content-Type", "")
        cap = self.gw.settings.server.max_upload_bytes
        length = request.content_length
        if length is not None and length > cap:
            raise RequestTooLarge(f"request body is larger than {cap} bytes", code="body_too_large")
        parts: dict[str, Any] = {
            "method": request.method,
            "path": path,
            "query": query,
            "content_type": ctype,
            "length": length,
        }
        if not request.body_exists:
            return PassthroughBody(b"", RequestHead(), upload=None, **parts)
        small = min(SMALL_JSON, limit)
        if wire.is_json(ctype) and (length is None or length <= small):
            raw = await _read_up_to(request, small + 1)
            if len(raw) <= small:
                head, native = _head(raw)
                return PassthroughBody(raw, head, upload=None, native=native, **parts)
            upload = wire.Upload(request.content, cap, prefix=raw)
        else:
            upload = wire.Upload(request.content, cap)
        return PassthroughBody(b"", RequestHead(), upload=upload, **parts)

    async def upstream(self, ctx: RequestContext, up: Upstream | None) -> Reply:
        assert up is not None
        body = ctx.body
        assert isinstance(body, PassthroughBody)
        adapter = up.adapter
        if not isinstance(adapter, OpenAICompatAdapter):
            raise InvalidRequest(
                f"provider {adapter.name!r} has no pass-through on this gateway: /v1/{body.path} "
                "goes to OpenAI-compatible providers and Azure only",
                param="x-portkey-provider",
                code="unsupported_endpoint",
            )
        target = up.target
        check_allowed(target, body.path, up.gw)
        headers = adapter.account_headers(target)
        if body.content_type:
            headers["Content-Type"] = body.content_type
        for name in CLIENT_HEADERS:
            value = ctx.headers.get(name)
            if value is not None:
                headers[name] = value
        upload = body.upload
        edits = {**body.patch, **({"model": ctx.model} if ctx.model != body.head.model else {})}
        data: Any = body.raw
        if edits and body.edits_apply:
            data = encoder.encode({**body.native_dict(), **edits})
        elif edits and upload is not None and wire.is_json(body.content_type):
            raise InvalidRequest(
                f"a JSON body over {SMALL_JSON} bytes is streamed, not read: the config's "
                f"override_params ({', '.join(sorted(edits))}) cannot be applied to it",
                param="x-portkey-config",
                code="unsupported_override",
            )
        if upload is not None:
            data = upload.attempt()  # the earlier attempt's error when it cannot be replayed
            if body.length is not None:  # the same bytes: no need to re-chunk them
                headers["Content-Length"] = str(body.length)
        call = UpstreamRequest(
            method=body.method,
            url=adapter.api_url(target, ctx.model, body.path, body.query),
            headers=headers,
            body=data,
            stream=ctx.stream,
        )
        t = target.request_timeout
        try:
            return await wire.send(
                ctx,
                adapter,
                up.prepare(call),
                up.gw.session,
                up.gw.settings.upstream.max_response_bytes,
                t / 1000.0 if t else None,
            )
        except GatewayError as exc:
            if upload is not None:
                if upload.too_large:
                    raise RequestTooLarge(
                        f"request body is larger than {upload.limit} bytes", code="body_too_large"
                    ) from None
                upload.failure = exc
            raise

    async def respond(
        self, request: web.Request, ctx: RequestContext, reply: Reply, headers: dict[str, str]
    ) -> web.StreamResponse:
        assert isinstance(reply, BodyReply), f"pass-through cannot answer {type(reply).__name__}"
        headers["Content-Type"] = reply.content_type
        overhead = self.gw.observability.overhead_header
        if isinstance(reply.body, bytes):
            headers[OVERHEAD_HEADER] = overhead(ctx)
            return web.Response(body=reply.body, status=reply.status, headers=headers)
        pieces = reply.body
        try:  # the first piece before the headers: a failure up to there is still a status
            first = await anext(pieces, b"")
        except GatewayError as exc:
            await aclose(pieces)
            return self.error(exc, headers)
        except BaseException:
            await aclose(pieces)
            raise
        headers[OVERHEAD_HEADER] = overhead(ctx)
        resp = FirstWriteResponse(status=reply.status, headers=headers)
        try:
            await resp.prepare(request)
            await resp.write(first)
            async for piece in pieces:
                await resp.write(piece)
            await resp.write_eof()
        except GatewayError as exc:
            # the status is gone: cut the connection so the client sees a broken body, not
            # a short one that looks complete
            log.warning("pass-through answer broke off", request_id=ctx.request_id, error=exc.code)
            if request.transport is not None:
                request.transport.close()
        except ConnectionResetError:
            pass  # the client went away; closing the pieces aborts the upstream answer
        finally:
            await aclose(pieces)
        return resp
