"""``POST /v1/completions``: OpenAI's legacy text completions, where the provider has them.

The OpenAI-compatible family and Azure serve the endpoint themselves: the body goes as sent
(the model renamed when routing chose another), the answer and the SSE stream come back
byte for byte, and usage is read on the way for logs and cost. Every other provider is a
400 ``unsupported_endpoint`` naming it: a prompt is not a conversation, and translating it
into one would answer a different question than the client asked.

Guardrails, the cache and routing conditions read conversations. Their view of a completion
request (``to_chat``) is the body with each text prompt as a user message: a string prompt
is one message, a list of strings one message each. Token-id prompts have no text to check,
so they give no message (the cache key still holds them: the view keeps ``prompt``). A
guardrail that rewrites those messages rewrites the prompt they came from. When a middleware
reads the answer (``ctx.reads_reply``), each answer or chunk also carries its chat view;
the client still gets the provider's bytes unless a middleware replaced them, and then the
chat answer is written back as a ``text_completion``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import msgspec
from aiohttp import web

from proxy.body import RequestBody, RequestHead
from proxy.edge import JSON, write_sse
from proxy.errors import GatewayError, InvalidRequest, UpstreamInvalid
from proxy.frontdoors.base import BaseDoor, decode_head
from proxy.frontdoors.chat import chat_error_frame
from proxy.observability.observer import OVERHEAD_HEADER
from proxy.providers.base import UpstreamRequest
from proxy.providers.openai_compat import OpenAICompatAdapter, PassthroughStream
from proxy.reply import Chunk, Completion, CompletionReply, Reply, StreamReply
from proxy.schema import (
    ChatCompletion,
    ChatCompletionChunk,
    Choice,
    ChunkChoice,
    Delta,
    ResponseMessage,
    Usage,
    encoder,
)
from proxy.sse import DONE, SSEEvent
from proxy.wires import register_wire

if TYPE_CHECKING:
    from proxy.context import RequestContext
    from proxy.terminal import Upstream

WIRE = "completions"


class _StreamOptions(msgspec.Struct):
    include_usage: bool | None = None


class CompletionsHead(msgspec.Struct):
    model: str
    prompt: Any = None  # text(s) or token ids; the provider checks the details
    stream: bool | None = False
    stream_options: _StreamOptions | None = None
    max_tokens: int | None = None


_head = msgspec.json.Decoder(CompletionsHead, strict=False)


def _prompts(prompt: Any) -> list[str] | None:
    """The text prompts, or None when the prompt is not text (token ids, null)."""
    if isinstance(prompt, str):
        return [prompt]
    if isinstance(prompt, list) and prompt and all(isinstance(p, str) for p in prompt):
        return prompt
    return None


def to_chat(native: dict[str, Any]) -> dict[str, Any]:
    """The conversation view: each text prompt a user message (``prompt`` kept for keys)."""
    texts = _prompts(native.get("prompt")) or []
    return {**native, "messages": [{"role": "user", "content": t} for t in texts]}


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # a guardrail may answer with parts
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def native_body(body: RequestBody, overrides: dict[str, Any]) -> bytes:
    """The body for the provider: as sent when nothing changed, else with the edits (a
    rewritten ``messages`` goes back into ``prompt``, in the prompt's own shape)."""
    found = body.native_bytes(WIRE, **overrides)
    if found is not None:
        return found
    native = body.native_dict()
    out = {**native, **{k: v for k, v in body.patch.items() if k != "messages"}, **overrides}
    messages = body.patch.get("messages")
    if isinstance(messages, list) and _prompts(native.get("prompt")) is not None:
        texts = [_text(m.get("content")) for m in messages if isinstance(m, dict)]
        out["prompt"] = "\n".join(texts) if isinstance(native.get("prompt"), str) else texts
    return encoder.encode(out)


# ---------------------------------------------------------------- the wire and its chat view


class _TextChoice(msgspec.Struct):
    index: int = 0
    text: str | None = ""
    finish_reason: str | None = None


class _TextCompletion(msgspec.Struct):
    """What the gateway reads of a ``text_completion`` (answer or stream event)."""

    choices: list[_TextChoice]
    id: str = ""
    created: int = 0
    model: str = ""
    usage: Usage | None = None
    system_fingerprint: str | None = None
    error: Any = None


_answer = msgspec.json.Decoder(_TextCompletion)


def _chat_completion(t: _TextCompletion) -> ChatCompletion:
    choices = [
        Choice(c.index, ResponseMessage(content=c.text or ""), c.finish_reason) for c in t.choices
    ]
    usage = t.usage if t.usage is not None else msgspec.UNSET
    return ChatCompletion(t.id, t.created, t.model, choices, usage=usage)


def _chat_chunk(t: _TextCompletion) -> ChatCompletionChunk:
    choices = [
        ChunkChoice(c.index, Delta(content=c.text or ""), c.finish_reason) for c in t.choices
    ]
    usage = t.usage if t.usage is not None else msgspec.UNSET
    return ChatCompletionChunk(t.id, t.created, t.model, choices, usage=usage)


class CompletionsCodec:
    """The ``completions`` wire read as chat (registered below)."""

    def completion(self, raw: bytes) -> ChatCompletion:
        return _chat_completion(_answer.decode(raw))

    def usage(self, raw: bytes) -> Usage | None:
        return _answer.decode(raw).usage


register_wire(WIRE, CompletionsCodec())


def as_text_completion(chat_raw: bytes, stream: bool) -> bytes | None:
    """A chat answer or chunk (a cache hit, a middleware's rewrite) as OpenAI's
    ``text_completion``; top-level fields a middleware added (``hook_results``) are kept.
    None for a chunk with nothing to say in this format (a role-only chat chunk)."""
    try:
        chat = msgspec.json.decode(chat_raw)
    except msgspec.DecodeError as exc:
        raise UpstreamInvalid(f"the answer is not JSON ({exc})") from None
    if not isinstance(chat, dict):
        raise UpstreamInvalid("the answer is not a JSON object")
    choices = []
    for ch in chat.get("choices") or ():
        if not isinstance(ch, dict):
            continue
        part = ch.get("delta" if stream else "message")
        text = _text(part.get("content")) if isinstance(part, dict) else ""
        finish = ch.get("finish_reason")
        if stream and not text and finish is None:
            continue
        choice = {"text": text, "index": ch.get("index", 0), "logprobs": None}
        choices.append({**choice, "finish_reason": finish if stream else finish or "stop"})
    if stream and not choices and not chat.get("usage") and "hook_results" not in chat:
        return None
    head = {k: chat.get(k) for k in ("id", "created", "model")}
    rest = {k: v for k, v in chat.items() if k not in head and k not in ("object", "choices")}
    out = {**head, "object": "text_completion", "choices": choices, **rest}
    return encoder.encode(out)


def completions_frame(chunk: Chunk) -> bytes:
    if chunk.wire == WIRE:
        return b"data: " + chunk.raw + b"\n\n"
    found = as_text_completion(chunk.raw, stream=True)
    return b"" if found is None else b"data: " + found + b"\n\n"


class CompletionsStream(PassthroughStream):
    """OpenAI's completions SSE relayed as is; each event also read as chat on demand."""

    __slots__ = ("_chat",)

    def __init__(self, provider: str, chat: bool) -> None:
        super().__init__(provider)
        self._chat = chat

    def feed(self, event: SSEEvent) -> list[Chunk]:
        out = []
        for c in super().feed(event):  # checks JSON, raises on error events, reads usage
            parsed = None
            if self._chat:
                try:
                    parsed = _chat_chunk(_answer.decode(c.raw))
                except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                    raise UpstreamInvalid(
                        f"{self._provider} sent a stream event that is not a completion ({exc})"
                    ) from None
            out.append(Chunk(raw=c.raw, parsed=parsed, usage=c.usage(), wire=WIRE))
        return out


class CompletionsTranslation:
    """How the relay reads a completions answer from an OpenAI-compatible provider."""

    def __init__(self, adapter: OpenAICompatAdapter, chat: bool) -> None:
        self.adapter = adapter
        self.name = adapter.name
        self.chat = chat

    def parse_response(
        self, status: int, headers: Mapping[str, str], raw: bytes, model: str
    ) -> Completion:
        try:
            shape = _answer.decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise UpstreamInvalid(
                f"{self.name} answered with a body that is not a text completion ({exc})",
                provider=self.name,
            ) from None
        parsed = _chat_completion(shape) if self.chat else None
        return Completion(raw=raw, parsed=parsed, usage=shape.usage, wire=WIRE)

    def parse_error(self, status: int, headers: Mapping[str, str], raw: bytes) -> GatewayError:
        return self.adapter.parse_error(status, headers, raw)

    def stream_translator(self, model: str, include_usage: bool) -> CompletionsStream:
        return CompletionsStream(self.name, self.chat)


# ---------------------------------------------------------------- the door


class CompletionsDoor(BaseDoor):
    endpoint = "completions"
    routes: ClassVar[tuple[tuple[str, str], ...]] = (("POST", "/v1/completions"),)

    async def read(self, request: web.Request, limit: int) -> RequestBody:
        raw = await self.read_json(request, limit)
        h = decode_head(_head, raw)
        so = h.stream_options
        head = RequestHead(
            model=h.model,
            stream=bool(h.stream),
            include_usage=bool(so is not None and so.include_usage),
            max_output=h.max_tokens,
        )
        return RequestBody(raw, head, wire=WIRE, to_chat=to_chat)

    async def upstream(self, ctx: RequestContext, up: Upstream | None) -> Reply:
        assert up is not None
        adapter = up.adapter
        if not isinstance(adapter, OpenAICompatAdapter):
            raise InvalidRequest(
                f"provider {adapter.name!r} has no text completions endpoint "
                "(POST /v1/completions); use /v1/chat/completions",
                param="x-portkey-provider",
                code="unsupported_endpoint",
            )
        target = up.target
        overrides = {"model": ctx.model} if ctx.model != ctx.body.head.model else {}
        call = UpstreamRequest(
            url=adapter.api_url(target, ctx.model, "completions"),
            headers={"Content-Type": JSON, **adapter.account_headers(target)},
            body=native_body(ctx.body, overrides),
            stream=ctx.body.head.stream,
        )
        return await up.relay(up.prepare(call), CompletionsTranslation(adapter, ctx.reads_reply))

    async def respond(
        self, request: web.Request, ctx: RequestContext, reply: Reply, headers: dict[str, str]
    ) -> web.StreamResponse:
        overhead = self.gw.observability.overhead_header
        if isinstance(reply, CompletionReply):
            c = reply.completion
            body = c.raw if c.wire == WIRE else as_text_completion(c.raw, stream=False)
            headers[OVERHEAD_HEADER] = overhead(ctx)
            return web.Response(body=body, status=reply.status, content_type=JSON, headers=headers)
        assert isinstance(reply, StreamReply), f"completions cannot answer {type(reply).__name__}"
        return await write_sse(
            request,
            self,
            reply,
            headers,
            lambda: overhead(ctx),
            completions_frame,
            DONE,
            chat_error_frame,
        )
