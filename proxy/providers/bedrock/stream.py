"""ConverseStream events -> OpenAI chat.completion.chunk, one translator per stream.

Event order: messageStart, then per content block contentBlockStart (tool use only),
contentBlockDelta*, contentBlockStop; then messageStop (stopReason) and metadata (usage).
Tool calls get OpenAI indices 0, 1, ... in the order their blocks start, whatever Bedrock's
contentBlockIndex is; the forced JSON tool's input is streamed as content. Reasoning
blocks (no contentBlockStart: their first delta opens them) stream as
``reasoning_content``; their signatures and redacted content are kept for the turn's
``reasoning_opaque``, sent once before the finish.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from proxy.errors import UpstreamError, UpstreamInvalid
from proxy.providers.bedrock import native as nv
from proxy.providers.bedrock.errors import stream_error
from proxy.providers.bedrock.eventstream import Frame
from proxy.providers.bedrock.extras import HOST
from proxy.providers.bedrock.request import JSON_TOOL
from proxy.providers.bedrock.response import finish_reason, usage_of
from proxy.providers.common import ChunkFactory
from proxy.providers.reasoning import Block, Collector
from proxy.reply import Chunk

_JSON_BLOCK = -1  # marks the content block of the forced JSON tool


class ConverseStreamTranslator:
    def __init__(self, model: str, include_usage: bool) -> None:
        self.chunks = ChunkFactory(model)
        self.include_usage = include_usage
        self.started = False
        self.stopped = False
        self.blocks: dict[int, int] = {}  # contentBlockIndex -> tool index (or _JSON_BLOCK)
        self.state = Collector(HOST)
        self.reasoning_block = -1  # contentBlockIndex of the reasoning block being read
        self.handlers: dict[str, Callable[[bytes], list[Chunk]]] = {
            "messageStart": self._message_start,
            "contentBlockStart": self._block_start,
            "contentBlockDelta": self._block_delta,
            "messageStop": self._message_stop,
            "metadata": self._metadata,
        }

    def feed(self, frame: Frame) -> list[Chunk]:
        if frame.message_type != "event":
            raise stream_error(frame)
        handler = self.handlers.get(frame.event_type)
        if handler is None:  # contentBlockStop and events added to the API later
            return []
        try:
            return handler(frame.payload)
        except (msgspec.DecodeError, msgspec.ValidationError):
            raise UpstreamInvalid(
                f"bedrock sent an unreadable {frame.event_type} event", provider="bedrock"
            ) from None

    def finish(self) -> list[Chunk]:
        if not self.stopped:
            raise UpstreamError(
                "bedrock stream ended before its messageStop event",
                status=502,
                code="upstream_stream_truncated",
                provider="bedrock",
            )
        return []

    def _begin(self, out: list[Chunk]) -> list[Chunk]:
        if not self.started:
            self.started = True
            out.insert(0, self.chunks.role())
        return out

    def _message_start(self, payload: bytes) -> list[Chunk]:
        nv.message_start_decoder.decode(payload)
        return self._begin([])

    def _block_start(self, payload: bytes) -> list[Chunk]:
        ev = nv.block_start_decoder.decode(payload)
        use = ev.start.tool_use
        if not isinstance(use, nv.ToolUseStart):
            return self._begin([])
        if use.name == JSON_TOOL:
            self.blocks[ev.content_block_index] = _JSON_BLOCK
            return self._begin([])
        index = sum(1 for i in self.blocks.values() if i != _JSON_BLOCK)
        self.blocks[ev.content_block_index] = index
        return self._begin([self.chunks.tool_call_start(index, use.tool_use_id, use.name)])

    def _block_delta(self, payload: bytes) -> list[Chunk]:
        ev = nv.block_delta_decoder.decode(payload)
        d = ev.delta
        out: list[Chunk] = []
        if isinstance(d.reasoning_content, nv.ReasoningDelta):
            out.extend(self._reasoning(ev.content_block_index, d.reasoning_content))
        elif isinstance(d.text, str) and d.text:
            out.append(self.chunks.text(d.text))
        elif isinstance(d.tool_use, nv.ToolUseDelta) and d.tool_use.input:
            index = self.blocks.get(ev.content_block_index)
            if index == _JSON_BLOCK:
                out.append(self.chunks.text(d.tool_use.input))
            elif index is not None:
                out.append(self.chunks.tool_args(index, d.tool_use.input))
        return self._begin(out)  # delta kinds added later: nothing to say in Chat Completions

    def _reasoning(self, index: int, d: nv.ReasoningDelta) -> list[Chunk]:
        calls = sum(1 for i in self.blocks.values() if i != _JSON_BLOCK)
        if d.redacted_content:
            self.state.add(Block(kind="redacted", data=d.redacted_content, at=calls))
            return []
        if index != self.reasoning_block:
            self.reasoning_block = index
            self.state.add(Block(kind="thinking", at=calls))
        self.state.extend_last(d.text, d.signature)
        return [self.chunks.reasoning(d.text)] if d.text else []

    def _message_stop(self, payload: bytes) -> list[Chunk]:
        ev = nv.message_stop_decoder.decode(payload)
        self.stopped = True
        has_calls = any(i != _JSON_BLOCK for i in self.blocks.values())
        token = self.state.token()
        out = [self.chunks.opaque(token)] if token is not None else []
        out.append(self.chunks.finish(finish_reason(ev.stop_reason, has_calls)))
        return self._begin(out)

    def _metadata(self, payload: bytes) -> list[Chunk]:
        ev = nv.metadata_decoder.decode(payload)
        if self.include_usage and isinstance(ev.usage, nv.TokenUsage):
            return [self.chunks.usage(usage_of(ev.usage))]
        return []
