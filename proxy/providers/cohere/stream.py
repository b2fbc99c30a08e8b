"""Chat API v2 SSE events -> ``chat.completion.chunk``s.

Event order (the streaming guide and the API reference's examples): ``message-start``; then
``content-start`` / ``content-delta``* / ``content-end`` for text and thinking, or
``tool-plan-delta``* and per call ``tool-call-start`` / ``tool-call-delta``* /
``tool-call-end``; ``citation-*`` may come anywhere; ``message-end`` carries the finish
reason, the usage and, when the generation failed, an ``error``. Then ``data: [DONE]`` may
follow. The type is read from each event's data (the ``event:`` line repeats it).

Tool calls get OpenAI indices 0.. in the order they start, whatever Cohere's index is. The
tool plan is streamed as content (as the non-streamed answer gives it). A stream that ends
without ``message-end`` is cut short: a 502, never a silent end.
"""

from __future__ import annotations

from typing import Any

import msgspec

from proxy.errors import UpstreamError, UpstreamInvalid
from proxy.providers.cohere.native import (
    KNOWN_TYPES,
    CallEvent,
    ContentEvent,
    KnownEvent,
    MessageEnd,
    MessageStart,
    ToolCallDelta,
    ToolCallStart,
    ToolPlanDelta,
    Usage,
    event_decoder,
    type_decoder,
)
from proxy.providers.cohere.response import ERROR, finish_reason, generation_failed, usage
from proxy.providers.common import ChunkFactory
from proxy.reply import Chunk
from proxy.schema import ChatCompletionChunk, ChunkChoice, Delta
from proxy.sse import SSEEvent

DONE = b"[DONE]"
MAX_TOOL_CALLS = 1024  # per answer; each one costs state here, so hostile streams are bounded


def _invalid(message: str) -> UpstreamInvalid:
    return UpstreamInvalid(f"cohere sent {message}", provider="cohere")


class CohereStream:
    def __init__(self, model: str, include_usage: bool) -> None:
        self.chunks = ChunkFactory(model)
        self.include_usage = include_usage
        self.started = False
        self.ended = False
        self.calls: dict[int, int] = {}  # Cohere tool-call index -> OpenAI tool index
        self.args_sent: dict[int, bool] = {}

    def feed(self, event: SSEEvent) -> list[Chunk]:
        data = event.data.strip()
        if data == DONE or not data or self.ended:
            return []
        try:
            ev = event_decoder.decode(data)  # a known event: one pass
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return self._other(data, exc)
        return self._dispatch(ev)

    def _other(self, data: bytes, failure: Exception) -> list[Chunk]:
        """Not a known event: a kind added later (skipped), or a broken one (502)."""
        try:
            head = type_decoder.decode(data)
        except (msgspec.DecodeError, msgspec.ValidationError):
            raise _invalid(f"an event that is not JSON ({failure})") from None
        if not head.type:
            raise self._untyped(head.message)
        if head.type in KNOWN_TYPES:
            raise _invalid(f"a malformed {head.type} event ({failure})")
        return []  # citations, debug, and event kinds added after this was written

    def _untyped(self, message: Any) -> Exception:
        """An event without a type: an error object sent in the stream's place, or junk."""
        if isinstance(message, str) and message:
            return UpstreamError(
                f"cohere error: {message}", status=502, code="upstream_error", provider="cohere"
            )
        return _invalid("an event without a type")

    def _dispatch(self, ev: KnownEvent) -> list[Chunk]:
        if isinstance(ev, MessageStart):
            if ev.id:
                self.chunks.id = ev.id
            return self._begin()
        if isinstance(ev, ContentEvent):
            return self._content(ev)
        if isinstance(ev, ToolPlanDelta):
            plan = ev.delta.message.tool_plan if ev.delta and ev.delta.message else ""
            return self._text(plan)
        if isinstance(ev, ToolCallStart):
            return self._call_start(ev)
        if isinstance(ev, ToolCallDelta):
            return self._call_delta(ev)
        if isinstance(ev, MessageEnd):
            return self._end(ev)
        return self._call_end(ev)

    def _begin(self) -> list[Chunk]:
        """The role chunk, once, before anything else (even without message-start)."""
        if self.started:
            return []
        self.started = True
        return [self.chunks.role()]

    def _text(self, text: str) -> list[Chunk]:
        return [*self._begin(), self.chunks.text(text)] if text else []

    def _content(self, ev: ContentEvent) -> list[Chunk]:
        content = ev.delta.message.content if ev.delta and ev.delta.message else None
        if content is None:
            return []
        out = self._text(content.text)
        if content.thinking:
            out = [*self._begin(), *out, self._reasoning(content.thinking)]
        return out

    def _reasoning(self, text: str) -> Chunk:
        """Thinking as ``reasoning_content`` (DeepSeek's field, which the gateway uses)."""
        c = self.chunks
        delta = Delta(reasoning_content=text)
        return Chunk(
            parsed=ChatCompletionChunk(
                id=c.id, created=c.created, model=c.model, choices=[ChunkChoice(0, delta)]
            )
        )

    def _call_start(self, ev: CallEvent) -> list[Chunk]:
        call = ev.delta.message.tool_calls if ev.delta and ev.delta.message else None
        fn = call.function if call is not None else None
        if call is None or fn is None or not call.id or not fn.name:
            raise _invalid("a tool-call-start without the call's id and name")
        if ev.index in self.calls or len(self.calls) >= MAX_TOOL_CALLS:
            raise _invalid(f"a repeated or excess tool-call-start (index {ev.index})")
        tool = len(self.calls)
        self.calls[ev.index] = tool
        self.args_sent[tool] = bool(fn.arguments)
        out = [*self._begin(), self.chunks.tool_call_start(tool, call.id, fn.name)]
        if fn.arguments:
            out.append(self.chunks.tool_args(tool, fn.arguments))
        return out

    def _call_delta(self, ev: CallEvent) -> list[Chunk]:
        tool = self.calls.get(ev.index)
        if tool is None:
            raise _invalid(f"a tool-call-delta for a call that never started (index {ev.index})")
        call = ev.delta.message.tool_calls if ev.delta and ev.delta.message else None
        args = call.function.arguments if call is not None and call.function else ""
        if not args:
            return []
        self.args_sent[tool] = True
        return [self.chunks.tool_args(tool, args)]

    def _call_end(self, ev: CallEvent) -> list[Chunk]:
        tool = self.calls.get(ev.index)
        if tool is None or self.args_sent[tool]:
            return []
        # a call without arguments streamed no JSON; OpenAI clients expect an object
        self.args_sent[tool] = True
        return [self.chunks.tool_args(tool, "{}")]

    def _end(self, ev: MessageEnd) -> list[Chunk]:
        self.ended = True
        d = ev.delta
        if d is not None and (d.error or d.finish_reason == ERROR):
            raise generation_failed(d.error)
        out = self._begin()
        out.append(self.chunks.finish(finish_reason(d.finish_reason if d else None)))
        if self.include_usage:
            u: Usage | None = d.usage if d is not None else None
            out.append(self.chunks.usage(usage(u)))
        return out

    def finish(self) -> list[Chunk]:
        if not self.ended:
            raise UpstreamError(
                "cohere stream ended before message-end",
                status=502,
                code="upstream_stream_truncated",
                provider="cohere",
            )
        return []
