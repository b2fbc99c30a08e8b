"""``POST /v1/chat/completions``: OpenAI's Chat Completions, the gateway's canonical form.

Only the head is decoded (model, messages as a non-empty list of objects, stream, usage
options, the output bound); the rest of the body stays bytes and reaches an
OpenAI-compatible provider exactly as sent. A translating provider reads the typed view and
names what it cannot carry (proxy/body.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import msgspec
from aiohttp import web

from proxy.body import RequestBody, RequestHead
from proxy.edge import JSON, write_sse
from proxy.errors import GatewayError, InvalidRequest
from proxy.frontdoors.base import BaseDoor, decode_head
from proxy.observability.observer import OVERHEAD_HEADER
from proxy.reply import Chunk, CompletionReply, Reply, StreamReply
from proxy.sse import DONE

if TYPE_CHECKING:
    from proxy.context import RequestContext
    from proxy.terminal import Upstream


class _StreamOptions(msgspec.Struct):
    include_usage: bool | None = None


class ChatHead(msgspec.Struct):
    model: str
    messages: list[msgspec.Raw]
    stream: bool | None = False
    stream_options: _StreamOptions | msgspec.UnsetType | None = msgspec.UNSET
    max_tokens: int | None = None
    max_completion_tokens: int | None = None


_head = msgspec.json.Decoder(ChatHead, strict=False)  # an integral 5.0 is an integer


def decode_chat(raw: bytes) -> RequestBody:
    """A chat request body: 400 naming the field when the head is not what OpenAI takes."""
    if not raw.strip():
        raise InvalidRequest("request body is empty; expected a JSON object", code="empty_body")
    h = decode_head(_head, raw)
    if not h.messages:
        raise InvalidRequest("messages: must hold at least one message", param="messages")
    for i, m in enumerate(h.messages):
        if bytes(memoryview(m)[:1]) != b"{":
            raise InvalidRequest(
                f"messages[{i}]: must be an object", param=f"messages[{i}]", code="invalid_value"
            )
    so = h.stream_options
    head = RequestHead(
        model=h.model,
        stream=bool(h.stream),
        include_usage=isinstance(so, _StreamOptions) and bool(so.include_usage),
        stream_options_sent=so is not msgspec.UNSET,
        max_output=h.max_completion_tokens if h.max_completion_tokens is not None else h.max_tokens,
    )
    return RequestBody(raw, head)


def chat_frame(chunk: Chunk) -> bytes:
    if chunk.framed:  # whole events already (the fast relay)
        return chunk.raw
    return b"data: " + chunk.raw + b"\n\n"


def chat_error_frame(exc: GatewayError) -> bytes:
    return b"data: " + exc.to_json() + b"\n\n"


class ChatDoor(BaseDoor):
    endpoint = "chat"
    routes: ClassVar[tuple[tuple[str, str], ...]] = (("POST", "/v1/chat/completions"),)

    async def read(self, request: web.Request, limit: int) -> RequestBody:
        return decode_chat(await self.read_json(request, limit))

    async def upstream(self, ctx: RequestContext, up: Upstream | None) -> Reply:
        assert up is not None
        return await up.chat(framed=True)  # chat_frame writes framed chunks as they are

    async def respond(
        self, request: web.Request, ctx: RequestContext, reply: Reply, headers: dict[str, str]
    ) -> web.StreamResponse:
        overhead = self.gw.observability.overhead_header
        if isinstance(reply, CompletionReply):
            headers[OVERHEAD_HEADER] = overhead(ctx)
            return web.Response(
                body=reply.completion.raw, status=reply.status, content_type=JSON, headers=headers
            )
        assert isinstance(reply, StreamReply), f"chat cannot answer with {type(reply).__name__}"
        return await write_sse(
            request, self, reply, headers, lambda: overhead(ctx), chat_frame, DONE, chat_error_frame
        )
