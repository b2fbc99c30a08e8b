"""``/v1/responses``: OpenAI's Responses API, natively or translated, on the one chain.

One attempt (``upstream``) takes one of two paths:

- **native** (OpenAI, Azure): the client's bytes go through (``ResponsesBody.native_bytes``)
  and the answer comes back byte for byte; ``previous_response_id`` and ``store`` are the
  provider's business. When a middleware reads the answer (cache, output guardrails) it is
  read into chat (``native.ChatStream``) and written back as Responses by ``respond``, with
  OpenAI's own response id, so the conversation still continues there.
- **translated** (every other provider, and ids this gateway made): the strict chat form
  (``codec``) with the stored conversation of ``previous_response_id`` spliced in after the
  instructions, sent through the canonical chat call; ``respond`` writes the chat answer as
  a Response object or event stream (``answer``, ``events``) under an id of ours, and
  keeps it in the store (unless ``store: false``) before the client can see it.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, ClassVar

import msgspec
import structlog
from aiohttp import web

from proxy.body import RequestBody, RequestHead
from proxy.edge import JSON, write_sse
from proxy.errors import GatewayError, InvalidRequest
from proxy.frontdoors.base import BaseDoor
from proxy.frontdoors.responses import native, stored
from proxy.frontdoors.responses.answer import output_items, response_object
from proxy.frontdoors.responses.codec import to_chat
from proxy.frontdoors.responses.events import EventWriter
from proxy.frontdoors.responses.request import ResponsesBody, decode_responses
from proxy.frontdoors.responses.settings import choose_store
from proxy.frontdoors.responses.store import (
    Store,
    decode_entry,
    encode_entry,
    entry_key,
    is_ours,
    make_store,
    new_id,
)
from proxy.observability.observer import OVERHEAD_HEADER
from proxy.pipeline import SettingsError
from proxy.reply import BodyReply, Chunk, CompletionReply, Reply, StreamReply, aclose
from proxy.routing.resolve import caller_scope
from proxy.schema import ChatCompletion, encoder

if TYPE_CHECKING:
    from proxy.context import RequestContext
    from proxy.gateway import Gateway
    from proxy.terminal import Upstream

log = structlog.get_logger("gateway.responses")

# OpenAI's and Azure's own ids: an answer carrying one came from them and lives there
PROVIDER_ID = re.compile(r"resp_[0-9a-f]{16,}")


def frame(chunk: Chunk) -> bytes:
    return b"event: " + (chunk.event or "message").encode() + b"\ndata: " + chunk.raw + b"\n\n"


def previous_not_found(prev: str, hint: str = "") -> InvalidRequest:
    return InvalidRequest(
        f"Previous response with id '{prev}' not found.{hint}",
        param="previous_response_id",
        code="previous_response_not_found",
    )


def assistant_message(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Output items as the chat assistant message that continues the conversation."""
    texts: list[str] = []
    refusals: list[str] = []
    calls: list[dict[str, Any]] = []
    for item in items:
        if item["type"] == "message":
            for p in item["content"]:
                (texts if p["type"] == "output_text" else refusals).append(
                    p.get("text") or p.get("refusal") or ""
                )
        elif item["type"] == "function_call":
            fn = {"name": item["name"], "arguments": item["arguments"]}
            calls.append({"id": item["call_id"], "type": "function", "function": fn})
    msg: dict[str, Any] = {"role": "assistant", "content": "".join(texts) or None}
    if refusals:
        msg["refusal"] = "".join(refusals)
    if calls:
        msg["tool_calls"] = calls
    return msg


class ResponsesDoor(BaseDoor):
    endpoint = "responses"
    routes: ClassVar[tuple[tuple[str, str], ...]] = (
        ("POST", "/v1/responses"),
        ("GET", "/v1/responses/{response_id}"),
        ("DELETE", "/v1/responses/{response_id}"),
        ("GET", "/v1/responses/{response_id}/input_items"),
    )
    targetless: ClassVar[frozenset[str]] = frozenset({"responses_stored"})

    @property
    def endpoints(self) -> tuple[str, ...]:
        return ("responses", "responses_stored", "responses_upstream")

    def setup(self, gw: Gateway) -> None:
        super().setup(gw)
        o, shared = gw.settings.responses, gw.settings.redis
        try:
            choice = choose_store(o, shared.url, shared.timeout, shared.prefix)
            self.store: Store = make_store(o, choice)
        except ValueError as exc:
            raise SettingsError(str(exc)) from None
        if choice.kind == "memory" and gw.settings.server.workers > 1:
            log.warning(
                "responses.store is memory with several workers: a response made by one "
                "worker cannot be continued on another; use store: redis"
            )

    async def shutdown(self) -> None:
        await self.store.close()

    def endpoint_of(self, request: web.Request) -> str:
        if request.method == "POST":
            return "responses"
        rid = request.match_info.get("response_id", "")
        return "responses_stored" if is_ours(rid) else "responses_upstream"

    async def read(self, request: web.Request, limit: int) -> RequestBody:
        if request.method != "POST":
            return stored.OpBody(request)
        return decode_responses(await self.read_json(request, limit))

    # ---------------------------------------------------------------- one attempt

    async def upstream(self, ctx: RequestContext, up: Upstream | None) -> Reply:
        body = ctx.body
        if isinstance(body, stored.OpBody):
            if up is None:
                return await stored.from_store(self.store, ctx, body)
            return await stored.from_upstream(ctx, body, up)
        assert isinstance(body, ResponsesBody) and up is not None
        prev = body.previous
        ours = prev is not None and is_ours(prev)
        adapter = up.adapter
        if adapter.name in native.NATIVE and not ours:
            model = native.native_model(adapter, up.target, ctx.model)
            raw = body.native_bytes(
                "responses", **({"model": model} if model != body.head.model else {})
            )
            if raw is not None:
                call = native.call(adapter, up.target, "/responses", body=raw, stream=ctx.stream)
                reading = native.NativeTranslation(adapter, chat=ctx.reads_reply)
                return await up.relay(up.prepare(call), reading)
        if prev is not None and not ours:
            raise previous_not_found(
                prev, f" {adapter.name} cannot continue a response it did not make."
            )
        return await up.chat(await self.translated(ctx, body))

    async def history(self, ctx: RequestContext, body: ResponsesBody) -> list[Any]:
        """The stored conversation ``previous_response_id`` continues ([] when none)."""
        prev = body.previous
        if prev is None:
            return []
        if body.history is None:
            raw = (
                await self.store.get(entry_key(caller_scope(ctx), prev)) if is_ours(prev) else None
            )
            entry = decode_entry(raw) if raw is not None else None
            if entry is None:
                raise previous_not_found(prev)
            body.history = msgspec.json.decode(entry.history)
        return body.history

    async def translated(self, ctx: RequestContext, body: ResponsesBody) -> RequestBody:
        """The chat body a translating provider gets: strict, history spliced in, edits
        applied (a guardrail's rewrite of the messages held no history: it goes back in)."""
        history = await self.history(ctx, body)
        conv = to_chat(body.native_dict(), strict=True, history=history)
        chat = conv.chat
        if body.patch:
            rewritten = body.patch.get("messages")
            chat = {**chat, **body.patch}
            if isinstance(rewritten, list) and history:
                n = conv.instructions
                chat["messages"] = [*rewritten[:n], *history, *rewritten[n:]]
        body.turn = chat["messages"][conv.instructions :]
        head = RequestHead(
            model=body.head.model,
            stream=ctx.stream,
            include_usage=True,
            max_output=body.head.max_output,
        )
        return RequestBody(encoder.encode(chat), head)

    # ---------------------------------------------------------------- the answer

    def identity(self, chat_id: str) -> tuple[str, bool]:
        """(the Response id, whether the gateway keeps it): OpenAI's id when the answer is
        OpenAI's read into chat (it lives there), else a new one of ours."""
        if PROVIDER_ID.fullmatch(chat_id):
            return chat_id, False
        return new_id(), True

    async def keep(
        self, ctx: RequestContext, body: ResponsesBody, rid: str, response: bytes, items: list[Any]
    ) -> None:
        """Store a translated answer so it can be read and continued (never raises)."""
        if body.turn is None:  # a cache hit: the attempt that builds it never ran
            try:
                await self.translated(ctx, body)
            except GatewayError:  # untranslatable, or the store is down
                log.info("response not stored", response_id=rid, reason="not continuable")
                return
        assert body.turn is not None
        history = [*body.turn, assistant_message(items)]
        value = encode_entry(response, stored.input_items(body.native_dict()), history)
        if not await self.store.put(entry_key(caller_scope(ctx), rid), value):
            log.warning("response not stored", response_id=rid, bytes=len(value))

    async def answer(
        self, ctx: RequestContext, body: ResponsesBody, c: ChatCompletion, raw: bytes
    ) -> bytes:
        rid, ours = self.identity(c.id)
        finish = c.choices[0].finish_reason if c.choices else None
        usage = c.usage if not isinstance(c.usage, msgspec.UnsetType) else None
        items = output_items(c)
        obj = response_object(
            body.native_dict(),
            rid,
            c.created or int(time.time()),
            c.model or ctx.model,
            items,
            finish,
            usage,
        )
        if b'"hook_results"' in raw:  # guardrails' verdicts ride along, as on chat
            obj["hook_results"] = msgspec.json.decode(raw).get("hook_results")
        encoded = encoder.encode(obj)
        if ours and body.store:
            await self.keep(ctx, body, rid, encoded, items)
        return encoded

    async def respond(
        self, request: web.Request, ctx: RequestContext, reply: Reply, headers: dict[str, str]
    ) -> web.StreamResponse:
        body = ctx.body
        if isinstance(reply, BodyReply) or not isinstance(body, ResponsesBody):
            return await super().respond(request, ctx, reply, headers)
        overhead = self.gw.observability.overhead_header
        if isinstance(reply, CompletionReply):
            c = reply.completion
            raw = c.raw if c.wire == "responses" else await self.answer(ctx, body, c.parsed, c.raw)
            headers[OVERHEAD_HEADER] = overhead(ctx)
            return web.Response(body=raw, status=reply.status, content_type=JSON, headers=headers)
        assert isinstance(reply, StreamReply), (
            f"responses cannot answer with {type(reply).__name__}"
        )
        events = _Stream(self, ctx, body)
        reply.chunks = events.run(reply.chunks)
        return await write_sse(
            request, self, reply, headers, lambda: overhead(ctx), frame, b"", events.error_frame
        )


class _Stream:
    """One stream on its way out: native events as they came, or chat chunks written as
    Responses events (and the answer stored before its last event)."""

    def __init__(self, door: ResponsesDoor, ctx: RequestContext, body: ResponsesBody) -> None:
        self.door = door
        self.ctx = ctx
        self.body = body
        self.writer: EventWriter | None = None
        self.ours = False  # the answer is the gateway's to store
        self.relayed = 0  # native events relayed
        self.ended = False  # a final event (completed, failed, error) went out

    async def run(self, chunks: AsyncIterator[Chunk]) -> AsyncIterator[Chunk]:
        # events held until a chunk the source flushes: the events of one upstream read
        # go out in one write, as chat's do (Chunk.flush), not one write per chat chunk
        held: list[Chunk] = []
        try:
            async for chunk in chunks:
                if chunk.wire == "responses":
                    self.relayed += 1
                    self.ended = chunk.event in ("error", "response.failed")
                    yield chunk
                    continue
                c = chunk.parsed
                if self.writer is None:
                    held += self.open(c.id, c.created, c.model)
                assert self.writer is not None
                held += self.writer.feed(c)
                if chunk.flush and held:
                    out, held = held, []
                    for e in out:
                        e.flush = False
                    out[-1].flush = True
                    for e in out:
                        yield e
            out, held = held, []
            for e in out:
                yield e
            if self.relayed:
                return
            if self.writer is None:  # an empty stream still gets its lifecycle events
                for e in self.open("", 0, ""):
                    yield e
            for e in await self.close():
                yield e
        except GatewayError as exc:
            if self.writer is None:
                raise  # nothing of ours went out: the door renders it (a status, or an event)
            self.ended = True
            for e in [*held, *self.writer.failed(exc)]:
                yield e
        finally:
            await aclose(chunks)

    def open(self, chat_id: str, created: int, model: str) -> list[Chunk]:
        rid, self.ours = self.door.identity(chat_id)
        self.writer = EventWriter(
            self.body.native_dict(), rid, created or int(time.time()), model or self.ctx.model
        )
        return self.writer.start()

    async def close(self) -> list[Chunk]:
        writer = self.writer
        assert writer is not None
        events = writer.end()
        if self.ours and self.body.store:
            final = encoder.encode(writer.final)
            await self.door.keep(self.ctx, self.body, writer.rid, final, writer.output)
        self.ended = True
        return events

    def error_frame(self, exc: GatewayError) -> bytes:
        """The last event of a stream that broke where ``run`` could not say so itself."""
        if self.ended:
            return b""
        seq = self.writer.seq if self.writer is not None else self.relayed
        event = {
            "type": "error",
            "code": exc.code or exc.type,
            "message": exc.message,
            "param": exc.param,
            "sequence_number": seq,
        }
        return b"event: error\ndata: " + encoder.encode(event) + b"\n\n"
