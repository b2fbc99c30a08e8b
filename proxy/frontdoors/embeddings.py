"""``POST /v1/embeddings``: OpenAI's embeddings API on every provider that has one.

Runs the whole chain like chat (auth, routing with fallbacks and retries, metrics, logs,
your own middlewares). OpenAI-compatible providers and Azure get the body as sent and their
answer relayed; Gemini, Vertex AI and Bedrock are translated (proxy/terminal/embeddings.py).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, ClassVar, cast

import msgspec
from aiohttp import web

from proxy.body import RequestBody, RequestHead
from proxy.frontdoors.base import BaseDoor, decode_head
from proxy.providers.base import EmbeddingsAdapter, NativeEmbeddingsAdapter, implements
from proxy.reply import BodyReply, Reply
from proxy.schema import Usage
from proxy.terminal import embeddings as emb

if TYPE_CHECKING:
    from proxy.context import RequestContext
    from proxy.terminal import Upstream


class EmbeddingsHead(msgspec.Struct):
    """What the gateway checks; everything else in the body goes through untouched."""

    model: str
    input: str | list[Any]  # text(s) or token ids; the provider checks the details


_head = msgspec.json.Decoder(EmbeddingsHead)


class EmbeddingsDoor(BaseDoor):
    endpoint = "embeddings"
    routes: ClassVar[tuple[tuple[str, str], ...]] = (("POST", "/v1/embeddings"),)

    async def read(self, request: web.Request, limit: int) -> RequestBody:
        raw = await self.read_json(request, limit)
        head = decode_head(_head, raw)
        return RequestBody(raw, RequestHead(model=head.model), wire="embeddings")

    async def upstream(self, ctx: RequestContext, up: Upstream | None) -> Reply:
        assert up is not None
        adapter = emb.embeddings_adapter(up.target.provider)
        t = up.target.request_timeout
        timeout = t / 1000.0 if t else None
        t0 = time.perf_counter()
        try:
            if implements(adapter, NativeEmbeddingsAdapter):
                inp, as_base64 = emb.parse_input(ctx.body.raw)
                vectors, tokens, passed = await emb.embed(
                    up.gw,
                    cast(NativeEmbeddingsAdapter, adapter),
                    inp,
                    up.target,
                    ctx.model,
                    timeout,
                )
                answer = emb.render(vectors, tokens, ctx.model, as_base64)
                return BodyReply(answer, headers=passed, usage=Usage(tokens, 0, tokens))
            renamed = {"model": ctx.model} if ctx.model != ctx.body.head.model else {}
            body = ctx.body.native_bytes("embeddings", **renamed)
            assert body is not None
            plain = cast(EmbeddingsAdapter, adapter)
            call = up.prepare(plain.build_embeddings_request(body, up.target, ctx.model))
            if ctx.trace_headers:
                call.headers.update(ctx.trace_headers)
            answer, passed = await emb.send(up.gw, adapter, call, timeout)
            usage = emb.checked_answer(answer, adapter.name)
            return BodyReply(answer, headers=passed, usage=usage)
        finally:
            ctx.upstream_ms += (time.perf_counter() - t0) * 1000.0
