"""``POST /v1/embeddings``: OpenAI's embeddings API, passed through to the provider.

Served for the OpenAI-compatible family and Azure OpenAI, whose adapters know how to build
an embeddings call (``build_embeddings_request``). The provider is chosen as for chat:
``model: "@slug/model"``, then ``x-portkey-provider``, then the routing config (its first
target: embeddings are not routed with fallbacks or load balancing). Gateway keys are checked
the same way as for chat, errors come back in OpenAI's shape, and the answer is the
provider's bytes. The semantic cache embeds its text through ``embed_texts`` here, on the
gateway's own session and adapters.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import msgspec
import structlog
from aiohttp import web

from proxy import embeddings_native as native
from proxy.context import RequestBody, RequestContext
from proxy.errors import GatewayError, InvalidRequest
from proxy.providers import get_adapter
from proxy.providers.base import (
    EmbeddingsAdapter,
    EmbeddingsInput,
    NativeEmbeddingsAdapter,
    UpstreamRequest,
)
from proxy.routing.resolve import (
    bind,
    header_fields,
    header_target,
    leaf_target,
    request_config,
    slug_target,
    split_model,
)
from proxy.routing.strategy import first_leaf
from proxy.schema import ChatRequest, encoder
from proxy.target import Target
from proxy.upstream import open_upstream

if TYPE_CHECKING:
    from proxy.gateway import Gateway

log = structlog.get_logger("gateway.access")
JSON = "application/json"
ERROR_BODY_LIMIT = 1024 * 1024


class EmbeddingsRequest(msgspec.Struct):
    """What the gateway checks; everything else in the body goes through untouched."""

    model: str
    input: str | list[Any]  # text(s) or token ids; the provider checks the details


class _Embedding(msgspec.Struct):
    embedding: list[float]
    index: int = 0


class _EmbeddingList(msgspec.Struct):
    data: list[_Embedding]


class _AnswerShape(msgspec.Struct):
    """What a relayed embeddings answer must be; the rest is the provider's, untouched."""

    data: list[msgspec.Raw]


_request_decoder = msgspec.json.Decoder(EmbeddingsRequest)
_answer_decoder = msgspec.json.Decoder(_AnswerShape)


def _check_answer(raw: bytes, provider: str) -> None:
    try:
        _answer_decoder.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise native.unreadable_answer(provider, exc) from None


_list_decoder = msgspec.json.Decoder(_EmbeddingList)


def _decode(raw: bytes) -> EmbeddingsRequest:
    if not raw.strip():
        raise InvalidRequest("request body is empty; expected a JSON object", code="empty_body")
    try:
        return _request_decoder.decode(raw)
    except msgspec.ValidationError as exc:
        text = str(exc)
        param = "model" if "`model`" in text else "input"
        raise InvalidRequest(f"{param}: {text}", param=param, code="invalid_value") from None
    except msgspec.DecodeError as exc:
        raise InvalidRequest(
            f"request body is not valid JSON: {exc}", code="invalid_json"
        ) from None


def embeddings_adapter(provider: str) -> EmbeddingsAdapter | NativeEmbeddingsAdapter:
    adapter = get_adapter(provider)
    if not isinstance(adapter, (EmbeddingsAdapter, NativeEmbeddingsAdapter)):
        raise InvalidRequest(
            f"provider {adapter.name!r} has no embeddings endpoint on this gateway",
            param="x-portkey-provider",
            code="unsupported_endpoint",
        )
    return adapter


def resolve_target(ctx: RequestContext, gw: Gateway) -> tuple[Target, str]:
    """The target and the model name the provider should see."""
    client = header_fields(ctx)
    slug, model = split_model(ctx.model)
    config, inline = request_config(ctx, gw)
    if slug is not None:
        target = slug_target(slug, gw, client)
    elif provider := ctx.headers.get("x-portkey-provider"):
        target = header_target(provider, gw, client)
    elif config is not None:
        path, _ = first_leaf(config)
        target = leaf_target(path, gw, client, inline)
    else:
        raise InvalidRequest(
            "no provider: send x-portkey-provider, an x-portkey-config, "
            "or a model like @provider-slug/model",
            param="x-portkey-provider",
            code="missing_provider",
        )
    override = (target.override_params or {}).get("model")
    return target, override if isinstance(override, str) else model


async def send(
    gw: Gateway,
    adapter: EmbeddingsAdapter | NativeEmbeddingsAdapter,
    up: UpstreamRequest,
    limit_s: float | None,
    *,
    all_headers: bool = False,
) -> tuple[bytes, dict[str, str]]:
    """Perform the call; the answer's bytes and the headers worth passing on (or all)."""
    from middleware.relay import check_json_type, passed_headers, read_within

    deadline = None if limit_s is None else asyncio.get_running_loop().time() + limit_s
    resp = await open_upstream(gw.session, up, adapter.name, limit_s)
    try:
        if resp.status >= 400:
            raw = await read_within(resp, ERROR_BODY_LIMIT, deadline, adapter.name, truncate=True)
            raise adapter.parse_error(resp.status, resp.headers, raw)
        raw = await read_within(
            resp, gw.settings.upstream.max_response_bytes, deadline, adapter.name
        )
        check_json_type(resp.headers, adapter.name, resp.status)
        return raw, dict(resp.headers) if all_headers else passed_headers(resp.headers)
    finally:
        resp.release()


async def embed_texts(
    gw: Gateway, target: Target, model: str, texts: list[str], limit_s: float | None
) -> list[list[float]]:
    """Embed ``texts`` with ``target`` (used by the semantic cache). Raises GatewayError."""
    adapter = embeddings_adapter(target.provider)
    bind(target, gw)
    if isinstance(adapter, NativeEmbeddingsAdapter):
        inp = EmbeddingsInput(texts)
        return (await native.embed(gw, adapter, inp, target, model, limit_s))[0]
    body = encoder.encode({"model": model, "input": texts, "encoding_format": "float"})
    up = adapter.build_embeddings_request(body, target, model)
    raw, _ = await send(gw, adapter, up, limit_s)
    try:
        data = _list_decoder.decode(raw).data
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise native.unreadable_answer(adapter.name, exc) from None
    data.sort(key=lambda e: e.index)
    native.check_count(adapter.name, len(data), len(texts))
    return [e.embedding for e in data]


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def embeddings_handler(gw: Gateway) -> Handler:
    from proxy.app import error_response, read_request_body  # app imports this module

    async def handle(request: web.Request) -> web.StreamResponse:
        request_id = uuid.uuid4().hex
        trace_id = request.headers.get("x-portkey-trace-id") or request_id
        headers = {"x-portkey-trace-id": trace_id}
        start = time.perf_counter()
        fields: dict[str, Any] = {
            "endpoint": "embeddings",
            "request_id": request_id,
            "trace_id": trace_id,
        }
        try:
            found = _authenticate(gw, request)
            raw = await read_request_body(request, gw.settings.server.max_body_bytes)
            req = _decode(raw)
            fields["model"] = req.model
            ctx = RequestContext(
                request_id, trace_id, request.headers, RequestBody(raw, ChatRequest(req.model, []))
            )
            if found is not None:
                ctx.principal, ctx.auth_header = found
                fields["principal"] = ctx.principal
            target, model = resolve_target(ctx, gw)
            adapter = embeddings_adapter(target.provider)
            headers["x-portkey-provider"] = fields["provider"] = target.provider
            timeout = target.request_timeout / 1000.0 if target.request_timeout else None
            if isinstance(adapter, NativeEmbeddingsAdapter):
                inp, as_base64 = native.parse_input(raw)
                got = await native.embed(gw, adapter, inp, target, model, timeout)
                answer, passed = native.render(got[0], got[1], model, as_base64), got[2]
            else:
                body = raw if model == req.model else _with_model(raw, model)
                up = adapter.build_embeddings_request(body, target, model)
                answer, passed = await send(gw, adapter, up, timeout)
                _check_answer(answer, adapter.name)
        except GatewayError as exc:
            _log(fields, start, exc.status, exc.type)
            return error_response(exc, headers)
        _log(fields, start, 200, None)
        return web.Response(body=answer, content_type=JSON, headers={**passed, **headers})

    return handle


def _authenticate(gw: Gateway, request: web.Request) -> tuple[str, str] | None:
    found: tuple[str, str] | None = None
    for mw in gw.middlewares:
        check = getattr(mw, "authenticate", None)
        if check is not None:
            found = check(request.headers) or found
    return found


def _with_model(raw: bytes, model: str) -> bytes:
    body = msgspec.json.decode(raw)
    body["model"] = model
    return encoder.encode(body)


def _log(fields: dict[str, Any], start: float, status: int, error: str | None) -> None:
    fields["status"] = status
    fields["latency_ms"] = round((time.perf_counter() - start) * 1000.0, 3)
    if error is not None:
        fields["error_type"] = error
    log.info("request", **fields)
