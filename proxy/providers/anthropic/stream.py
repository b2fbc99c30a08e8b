"""Messages API SSE events -> ``chat.completion.chunk``s.

Event order (Anthropic's streaming reference): ``message_start``, then per content block
``content_block_start`` / ``content_block_delta``* / ``content_block_stop``, then
``message_delta`` (stop_reason, cumulative usage) and ``message_stop``; ``ping`` may come
anywhere and ``error`` ends the stream. Tool calls get OpenAI indices 0.. in the order
their ``tool_use`` blocks start, whatever the Anthropic block index is.
"""

from __future__ import annotations

from typing import Any

import msgspec

from proxy.errors import UpstreamError, UpstreamInvalid
from proxy.providers.anthropic.errors import stream_error
from proxy.providers.anthropic.native import (
    EVENT_DECODERS,
    BlockDelta,
    BlockStart,
    BlockStop,
    MessageDelta,
    MessageStart,
    Usage,
    type_decoder,
)
from proxy.providers.anthropic.response import finish_reason, kept, usage
from proxy.providers.anthropic.structured import ANSWER_TOOL
from proxy.providers.common import ChunkFactory
from proxy.providers.reasoning import Collector
from proxy.reply import Chunk
from proxy.sse import SSEEvent

_TEXT = -1  # block kinds besides a tool index
_ANSWER = -2
_IGNORED = -3
_THINKING = -4


def _event_type(data: bytes) -> str:
    try:
        return type_decoder.decode(data).type
    except (msgspec.DecodeError, msgspec.ValidationError):
        return ""


class AnthropicStream:
    """``host``: who serves Claude (anthropic, vertex-ai, bedrock): errors and the
    reasoning state carry its name."""

    def __init__(self, model: str, include_usage: bool, host: str = "anthropic") -> None:
        self.host = host
        self.state = Collector(host)
        self.chunks = ChunkFactory(model)
        self.include_usage = include_usage
        self.started = False
        self.stopped = False
        self.stop_reason: str | None = None
        self.usage = Usage()
        self.blocks: dict[int, int] = {}  # Anthropic block index -> tool index or kind
        self.args_sent: dict[int, bool] = {}
        self.tools = 0
        self.answered_by_tool = False

    def feed(self, event: SSEEvent) -> list[Chunk]:
        name = event.event or _event_type(event.data)
        if name == "error":
            raise stream_error(event.data, self.host)
        if name == "message_stop":
            return self._stop()
        decoder = EVENT_DECODERS.get(name)
        if decoder is None:  # ping, and event kinds added after this was written
            return []
        try:
            ev = decoder.decode(event.data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise UpstreamInvalid(f"{self.host} sent a malformed {name} event ({exc})") from None
        return self._dispatch(ev)

    def _dispatch(self, ev: Any) -> list[Chunk]:
        if isinstance(ev, MessageStart):
            return self._start(ev)
        if isinstance(ev, BlockStart):
            return self._block_start(ev)
        if isinstance(ev, BlockDelta):
            return self._block_delta(ev)
        if isinstance(ev, BlockStop):
            return self._block_stop(ev)
        if isinstance(ev, MessageDelta):
            self.stop_reason = ev.delta.stop_reason or self.stop_reason
            self._add_usage(ev.usage)
        return []

    def _start(self, ev: MessageStart) -> list[Chunk]:
        msg = ev.message
        if msg.id:
            self.chunks.id = msg.id
        if msg.model:
            self.chunks.model = msg.model
        self._add_usage(msg.usage)
        self.started = True
        return [self.chunks.role()]

    def _add_usage(self, u: Usage | None) -> None:
        if u is None:
            return
        for field in Usage.__struct_fields__:  # counts are cumulative: the latest wins
            value = getattr(u, field)
            if value is not None:
                setattr(self.usage, field, value)

    def _block_start(self, ev: BlockStart) -> list[Chunk]:
        block = ev.content_block
        thought = kept(block, self.tools)
        if thought is not None:
            self.blocks[ev.index] = _THINKING
            self.state.add(thought)
            return [self.chunks.reasoning(block.thinking)] if block.thinking else []
        if block.type == "text":
            self.blocks[ev.index] = _TEXT
            return [self.chunks.text(block.text)] if block.text else []
        if block.type == "tool_use" and block.name == ANSWER_TOOL:
            self.blocks[ev.index] = _ANSWER
            self.answered_by_tool = True
            return []
        if block.type == "tool_use":
            tool = self.tools
            self.tools += 1
            self.blocks[ev.index] = tool
            self.args_sent[tool] = False
            return [self.chunks.tool_call_start(tool, block.id, block.name)]
        self.blocks[ev.index] = _IGNORED  # server tools: no OpenAI field
        return []

    def _block_delta(self, ev: BlockDelta) -> list[Chunk]:
        kind = self.blocks.get(ev.index, _IGNORED)
        d = ev.delta
        if d.type == "text_delta" and kind == _TEXT and d.text:
            return [self.chunks.text(d.text)]
        if kind == _THINKING:
            self.state.extend_last(d.thinking, d.signature)
            return [self.chunks.reasoning(d.thinking)] if d.thinking else []
        if d.type == "input_json_delta" and d.partial_json:
            if kind == _ANSWER:
                return [self.chunks.text(d.partial_json)]
            if kind >= 0:
                self.args_sent[kind] = True
                return [self.chunks.tool_args(kind, d.partial_json)]
        return []  # citation deltas

    def _block_stop(self, ev: BlockStop) -> list[Chunk]:
        kind = self.blocks.get(ev.index, _IGNORED)
        if kind >= 0 and not self.args_sent[kind]:
            # a call without arguments streams no JSON; OpenAI clients expect an object
            self.args_sent[kind] = True
            return [self.chunks.tool_args(kind, "{}")]
        return []

    def _stop(self) -> list[Chunk]:
        if self.stopped:
            return []
        self.stopped = True
        token = self.state.token()
        out = [self.chunks.opaque(token)] if token is not None else []
        out.append(self.chunks.finish(finish_reason(self.stop_reason, self.answered_by_tool)))
        if self.include_usage:
            out.append(self.chunks.usage(usage(self.usage)))
        return out

    def finish(self) -> list[Chunk]:
        if not self.stopped:
            raise UpstreamError(
                f"{self.host} stream ended before message_stop",
                status=502,
                code="upstream_stream_truncated",
                provider=self.host,
            )
        return []
