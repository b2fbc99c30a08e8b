"""Conversions between a complete answer and a stream of chunks.

Used to replay a stored answer as a stream (cache hit on a stream request), to answer a
stream request when the upstream sent JSON, and to assemble a stream into one answer
(cache store, output guardrails).
"""

from __future__ import annotations

from msgspec import UNSET

from proxy.reply import Chunk
from proxy.schema import (
    ChatCompletion,
    ChatCompletionChunk,
    Choice,
    ChunkChoice,
    Delta,
    FunctionCall,
    FunctionCallDelta,
    ResponseMessage,
    ToolCall,
    ToolCallDelta,
    Usage,
)


def completion_to_chunks(c: ChatCompletion, include_usage: bool = True) -> list[Chunk]:
    """One role chunk, then reasoning, content and tool-call chunks as the answer has
    them, the reasoning state whole, and one finish chunk per choice."""
    out: list[Chunk] = []

    def chunk(choices: list[ChunkChoice], usage: Usage | None = None) -> Chunk:
        return Chunk(
            parsed=ChatCompletionChunk(
                id=c.id,
                created=c.created,
                model=c.model,
                choices=choices,
                usage=usage if usage is not None else UNSET,
                system_fingerprint=c.system_fingerprint,
            )
        )

    for ch in c.choices:
        msg = ch.message
        out.append(chunk([ChunkChoice(ch.index, Delta(role=msg.role or "assistant", content=""))]))
        if isinstance(msg.reasoning_content, str) and msg.reasoning_content:
            out.append(
                chunk([ChunkChoice(ch.index, Delta(reasoning_content=msg.reasoning_content))])
            )
        if msg.content:
            out.append(chunk([ChunkChoice(ch.index, Delta(content=msg.content))]))
        if msg.tool_calls:
            deltas = [
                ToolCallDelta(
                    index=i,
                    id=tc.id,
                    type="function",
                    function=FunctionCallDelta(
                        name=tc.function.name, arguments=tc.function.arguments
                    ),
                )
                for i, tc in enumerate(msg.tool_calls)
            ]
            out.append(chunk([ChunkChoice(ch.index, Delta(tool_calls=deltas))]))
        if isinstance(msg.reasoning_opaque, str) and msg.reasoning_opaque:
            out.append(chunk([ChunkChoice(ch.index, Delta(reasoning_opaque=msg.reasoning_opaque))]))
        out.append(
            chunk([ChunkChoice(ch.index, Delta(), finish_reason=ch.finish_reason or "stop")])
        )
    if include_usage and isinstance(c.usage, Usage):
        out.append(chunk([], c.usage))
    return out


class StreamAssembler:
    """Feeds chunks, builds the equivalent ChatCompletion."""

    def __init__(self) -> None:
        self.id = ""
        self.created = 0
        self.model = ""
        self.system_fingerprint: str | None = None
        self.usage: Usage | None = None
        self._text: dict[int, list[str]] = {}
        self._reasoning: dict[int, list[str]] = {}
        self._opaque: dict[int, str] = {}  # sent whole, once
        self._role: dict[int, str] = {}
        self._finish: dict[int, str | None] = {}
        self._tools: dict[int, dict[int, list[str]]] = {}  # choice -> index -> [id, name, args]

    def add(self, chunk: ChatCompletionChunk) -> None:
        self.id = self.id or chunk.id
        self.created = self.created or chunk.created
        self.model = self.model or chunk.model
        if isinstance(chunk.system_fingerprint, str):
            self.system_fingerprint = chunk.system_fingerprint
        if isinstance(chunk.usage, Usage):
            self.usage = chunk.usage
        for ch in chunk.choices:
            d = ch.delta
            self._text.setdefault(ch.index, [])
            if isinstance(d.role, str):
                self._role[ch.index] = d.role
            if isinstance(d.content, str):
                self._text[ch.index].append(d.content)
            if isinstance(d.reasoning_content, str):
                self._reasoning.setdefault(ch.index, []).append(d.reasoning_content)
            if isinstance(d.reasoning_opaque, str):
                self._opaque[ch.index] = d.reasoning_opaque
            if isinstance(d.tool_calls, list):
                calls = self._tools.setdefault(ch.index, {})
                for tc in d.tool_calls:
                    slot = calls.setdefault(tc.index, ["", "", ""])
                    if isinstance(tc.id, str):
                        slot[0] = tc.id
                    if tc.function is not UNSET:
                        fn = tc.function
                        assert isinstance(fn, FunctionCallDelta)
                        if isinstance(fn.name, str):
                            slot[1] += fn.name
                        if isinstance(fn.arguments, str):
                            slot[2] += fn.arguments
            if ch.finish_reason is not None:
                self._finish[ch.index] = ch.finish_reason

    def text(self, index: int = 0) -> str:
        return "".join(self._text.get(index, []))

    def result(self) -> ChatCompletion:
        choices = []
        for idx in sorted(self._text):
            calls = self._tools.get(idx)
            tool_calls = (
                [
                    ToolCall(id=s[0], function=FunctionCall(name=s[1], arguments=s[2]))
                    for _, s in sorted(calls.items())
                ]
                if calls
                else UNSET
            )
            text = self.text(idx)
            msg = ResponseMessage(
                role=self._role.get(idx, "assistant"),
                content=text if text or not calls else None,
                tool_calls=tool_calls,
            )
            if idx in self._reasoning:
                msg.reasoning_content = "".join(self._reasoning[idx])
            if idx in self._opaque:
                msg.reasoning_opaque = self._opaque[idx]
            choices.append(Choice(idx, msg, self._finish.get(idx)))
        return ChatCompletion(
            id=self.id,
            created=self.created,
            model=self.model,
            choices=choices,
            usage=self.usage if self.usage is not None else UNSET,
            system_fingerprint=self.system_fingerprint if self.system_fingerprint else UNSET,
        )
