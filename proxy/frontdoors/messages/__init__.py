"""``POST /v1/messages`` and ``/v1/messages/count_tokens``: Anthropic's Messages API.

To Claude (Anthropic, Bedrock, Vertex AI) the body goes natively and the answer comes back
as the host sent it; to every other provider through the chat form, with the answer and
the stream encoded back into Anthropic's shapes (see docs/messages.md). Errors, before and
during a stream, are in Anthropic's shape. Clients authenticate as Anthropic's do
(``x-api-key`` or ``Authorization: Bearer``), and name the provider with the gateway's
headers like on every other endpoint.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from aiohttp import web

from proxy.body import RequestBody
from proxy.edge import JSON, write_sse
from proxy.errors import GatewayError
from proxy.frontdoors.base import BaseDoor
from proxy.frontdoors.messages import calls
from proxy.frontdoors.messages.encode import error_body, error_type, message_of
from proxy.frontdoors.messages.head import decode_messages
from proxy.frontdoors.messages.stream import MessagesEncoder, event
from proxy.observability.observer import OVERHEAD_HEADER
from proxy.providers.base import MessagesAdapter, implements
from proxy.reply import BodyReply, CompletionReply, Reply, StreamReply

if TYPE_CHECKING:
    from proxy.context import RequestContext
    from proxy.terminal import Upstream

COUNT_PATH = "/v1/messages/count_tokens"


def error_frame(exc: GatewayError) -> bytes:
    """An error after the stream started: Anthropic's ``error`` event (the SDKs raise it)."""
    return event(
        "error", {"type": "error", "error": {"type": error_type(exc), "message": exc.message}}
    )


class MessagesDoor(BaseDoor):
    endpoint = "messages"
    routes: ClassVar[tuple[tuple[str, str], ...]] = (
        ("POST", "/v1/messages"),
        ("POST", COUNT_PATH),
    )

    @property
    def endpoints(self) -> tuple[str, ...]:
        return ("messages", "count_tokens")

    def endpoint_of(self, request: web.Request) -> str:
        return "count_tokens" if request.path == COUNT_PATH else "messages"

    async def read(self, request: web.Request, limit: int) -> RequestBody:
        raw = await self.read_json(request, limit)
        count = request.path == COUNT_PATH
        beta = request.query.get("beta") == "true"
        return decode_messages(raw, request.headers, count, beta)

    async def upstream(self, ctx: RequestContext, up: Upstream | None) -> Reply:
        assert up is not None
        adapter = up.adapter
        claude: MessagesAdapter | None = None
        if implements(adapter, MessagesAdapter):
            speaker = cast(MessagesAdapter, adapter)
            if speaker.speaks_messages(up.target, ctx.model):
                claude = speaker
        if ctx.endpoint == "count_tokens":
            return await calls.count_tokens(ctx, up, claude)
        if claude is not None:
            return await calls.native(ctx, up, claude)
        return await calls.translated(ctx, up)

    def error(self, exc: GatewayError, headers: dict[str, str]) -> web.Response:
        return web.Response(
            body=error_body(exc),
            status=exc.status,
            content_type=JSON,
            headers={**headers, **exc.headers},
        )

    async def respond(
        self, request: web.Request, ctx: RequestContext, reply: Reply, headers: dict[str, str]
    ) -> web.StreamResponse:
        overhead = self.gw.observability.overhead_header
        headers.setdefault("request-id", ctx.request_id)  # where Anthropic's SDKs look
        if isinstance(reply, BodyReply):  # count_tokens
            return await super().respond(request, ctx, reply, headers)
        if isinstance(reply, CompletionReply):
            c = reply.completion
            try:
                body = c.raw if c.wire == "anthropic" else message_of(c.parsed, ctx.model)
            except GatewayError as exc:  # a relayed chat answer read only now: a 502
                return self.error(exc, headers)
            headers[OVERHEAD_HEADER] = overhead(ctx)
            return web.Response(body=body, status=reply.status, content_type=JSON, headers=headers)
        assert isinstance(reply, StreamReply), f"messages cannot answer with {type(reply).__name__}"
        enc = MessagesEncoder(ctx.model)
        return await write_sse(
            request, self, reply, headers, lambda: overhead(ctx), enc.frame, enc.end, error_frame
        )
