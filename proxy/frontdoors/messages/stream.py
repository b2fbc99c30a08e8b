"""A chat stream as Anthropic's event sequence (one ``MessagesEncoder`` per stream).

The sequence Anthropic documents, which its SDKs and Claude Code parse:
``message_start``, ``ping``, then per content block ``content_block_start`` /
``content_block_delta``* / ``content_block_stop`` (thinking: ``thinking_delta``; text:
``text_delta``; tool_use: ``input_json_delta`` carrying each argument fragment as it came,
the first fragment included even when it rides in the chunk that names the call), then
``message_delta`` (``stop_reason``, usage) and ``message_stop``. Blocks never overlap: a
new one closes the open one. The finish reason closes the last block at once; the
``message_delta`` waits for the end of the stream, since usage comes after the finish.
"""

from __future__ import annotations

from typing import Any

import msgspec

from proxy.frontdoors.messages.encode import message_id, stop_reason, usage_of
from proxy.reply import Chunk
from proxy.schema import ChatCompletionChunk, FunctionCallDelta, ToolCallDelta, Usage

_encoder = msgspec.json.Encoder()


def event(name: str, data: Any) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + _encoder.encode(data) + b"\n\n"


def native_frame(chunk: Chunk) -> bytes:
    """A native Messages event, relayed as the upstream sent it."""
    return b"event: " + (chunk.event or "message").encode() + b"\ndata: " + chunk.raw + b"\n\n"


class MessagesEncoder:
    __slots__ = (
        "calls",
        "finish",
        "index",
        "kind",
        "model",
        "native",
        "started",
        "tools",
        "usage",
    )

    def __init__(self, model: str) -> None:
        self.model = model
        self.started = False
        self.index = -1  # the open block's index (-1: none open)
        self.kind: str | None = None  # the open block's kind: text, thinking, tool_use
        self.tools: dict[int, int] = {}  # chat tool call index -> block index
        self.calls = 0
        self.finish: str | None = None
        self.usage: Usage | None = None
        self.native = False  # relaying a native stream: its own events close it

    def frame(self, chunk: Chunk) -> bytes:
        """The events for one chunk (native ones pass through unchanged)."""
        if chunk.wire == "anthropic":
            self.native = True
            return native_frame(chunk)
        return self.feed(chunk.parsed)

    def feed(self, c: ChatCompletionChunk) -> bytes:
        out: list[bytes] = []
        if not self.started:
            self._start(c.id, c.model, c.usage, out)
        if isinstance(c.usage, Usage):
            self.usage = c.usage
        for choice in c.choices:
            if choice.index != 0:
                continue  # /v1/messages asks for one answer
            d = choice.delta
            if isinstance(d.reasoning_content, str) and d.reasoning_content:
                self._delta(
                    "thinking", {"type": "thinking_delta", "thinking": d.reasoning_content}, out
                )
            if isinstance(d.content, str) and d.content:
                self._delta("text", {"type": "text_delta", "text": d.content}, out)
            if isinstance(d.refusal, str) and d.refusal:
                self._delta("text", {"type": "text_delta", "text": d.refusal}, out)
                self.finish = "content_filter"
            for tc in d.tool_calls or ():
                self._tool(tc, out)
            if isinstance(d.reasoning_opaque, str) and d.reasoning_opaque:
                # the provider's state (it comes last, whole) in a thinking block's
                # signature, which clients send back as is (docs/reasoning.md)
                self._open("thinking", {"type": "thinking", "thinking": "", "signature": ""}, out)
                sig = {"type": "signature_delta", "signature": d.reasoning_opaque}
                self._delta("thinking", sig, out)
            if choice.finish_reason:
                self.finish = self.finish or choice.finish_reason
                self._close(out)
        return b"".join(out)

    def end(self) -> bytes:
        """The closing events of a stream that ended cleanly."""
        if self.native and not self.started:
            return b""
        out: list[bytes] = []
        if not self.started:
            self._start("", self.model, None, out)
        self._close(out)
        u = usage_of(self.usage)
        delta = {"stop_reason": stop_reason(self.finish, self.calls > 0), "stop_sequence": None}
        out.append(event("message_delta", {"type": "message_delta", "delta": delta, "usage": u}))
        out.append(event("message_stop", {"type": "message_stop"}))
        return b"".join(out)

    # ------------------------------------------------------------ blocks

    def _start(self, cid: str, model: str, usage: Any, out: list[bytes]) -> None:
        self.started = True
        message: dict[str, Any] = {
            "id": message_id(cid or "gateway"),
            "type": "message",
            "role": "assistant",
            "model": model or self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage_of(usage) if isinstance(usage, Usage) else usage_of(None),
        }
        out.append(event("message_start", {"type": "message_start", "message": message}))
        out.append(event("ping", {"type": "ping"}))

    def _open(self, kind: str, block: dict[str, Any], out: list[bytes]) -> None:
        self._close(out)
        self.index += 1
        self.kind = kind
        start = {"type": "content_block_start", "index": self.index, "content_block": block}
        out.append(event("content_block_start", start))

    def _close(self, out: list[bytes]) -> None:
        if self.kind is not None:
            out.append(
                event("content_block_stop", {"type": "content_block_stop", "index": self.index})
            )
            self.kind = None

    def _delta(self, kind: str, delta: dict[str, Any], out: list[bytes], index: int = -1) -> None:
        if index < 0:
            if self.kind != kind:
                empty = {"type": kind, kind: ""}
                if kind == "thinking":
                    empty["signature"] = ""  # no provider but Anthropic signs its reasoning
                self._open(kind, empty, out)
            index = self.index
        body = {"type": "content_block_delta", "index": index, "delta": delta}
        out.append(event("content_block_delta", body))

    def _tool(self, tc: ToolCallDelta, out: list[bytes]) -> None:
        fn = tc.function if isinstance(tc.function, FunctionCallDelta) else None
        block = self.tools.get(tc.index)
        if block is None:
            self.calls += 1
            name = fn.name if fn is not None and isinstance(fn.name, str) else ""
            call_id = tc.id if isinstance(tc.id, str) and tc.id else f"toolu_gw_{self.calls}"
            start = {"type": "tool_use", "id": call_id, "name": name, "input": {}}
            self._open("tool_use", start, out)
            block = self.tools[tc.index] = self.index
        args = fn.arguments if fn is not None and isinstance(fn.arguments, str) else ""
        if args:
            # a fragment of a call whose block is already closed (a provider that
            # interleaves calls) still goes to that call's index: the SDKs accumulate by it
            delta = {"type": "input_json_delta", "partial_json": args}
            self._delta("tool_use", delta, out, index=block)
