"""Gemini's SSE stream (``:streamGenerateContent?alt=sse``) -> ``chat.completion.chunk``s.

Each SSE ``data`` is a whole ``GenerateContentResponse`` holding the new piece of each
candidate. Text parts arrive as deltas; a ``functionCall`` part arrives whole, so it becomes
one tool-call start (id, name) and one arguments chunk, with an index that counts the
candidate's calls. ``usageMetadata`` is cumulative: the last one is the usage chunk sent at the
end when the client asked for ``include_usage``.
"""

from __future__ import annotations

from proxy.errors import UpstreamError
from proxy.providers.common import ChunkFactory
from proxy.providers.google import native as g
from proxy.providers.google.errors import stream_error
from proxy.providers.google.response import (
    Signatures,
    decode,
    finish_reason,
    thought_text,
    to_tool_call,
    usage,
    visible_text,
)
from proxy.reply import Chunk
from proxy.sse import SSEEvent


class _Candidate:
    __slots__ = ("calls", "finished", "signatures")

    def __init__(self, host: str) -> None:
        self.calls = 0
        self.finished = False
        self.signatures = Signatures(host)


class GeminiStream:
    def __init__(self, model: str, include_usage: bool, provider: str) -> None:
        self.chunks = ChunkFactory(model)
        self.include_usage = include_usage
        self.provider = provider
        self.candidates: dict[int, _Candidate] = {}
        self.usage: g.UsageMetadata | None = None
        self.blocked = False

    def feed(self, event: SSEEvent) -> list[Chunk]:
        data = event.data.strip()
        if not data or data == b"[DONE]":
            return []
        resp = decode(data, self.provider)
        if resp.error is not None:
            raise stream_error(resp.error, self.provider)
        if resp.usage_metadata is not None:
            self.usage = resp.usage_metadata
        out: list[Chunk] = []
        for cand in resp.candidates:
            out.extend(self.candidate(cand))
        fb = resp.prompt_feedback
        if not resp.candidates and fb is not None and fb.block_reason and not self.blocked:
            self.blocked = True
            out.append(self.chunks.role(0))
            out.append(self.chunks.finish("content_filter", 0))
        return out

    def candidate(self, cand: g.Candidate) -> list[Chunk]:
        idx = cand.index
        state = self.candidates.get(idx)
        out: list[Chunk] = []
        if state is None:
            state = self.candidates[idx] = _Candidate(self.provider)
            out.append(self.chunks.role(idx))
        parts = cand.content.parts if cand.content is not None else []
        for part in parts:
            state.signatures.see(part)
            thought = thought_text(part)
            if thought:
                out.append(self.chunks.reasoning(thought, idx))
            text = visible_text(part)
            if text:
                out.append(self.chunks.text(text, idx))
            call = to_tool_call(part)
            if call is not None:
                n = state.calls
                state.calls += 1
                out.append(self.chunks.tool_call_start(n, call.id, call.function.name, idx))
                out.append(self.chunks.tool_args(n, call.function.arguments, idx))
        if cand.finish_reason and not state.finished:
            state.finished = True
            token = state.signatures.token()
            if token is not None:
                out.append(self.chunks.opaque(token, idx))
            out.append(self.chunks.finish(finish_reason(cand.finish_reason, state.calls > 0), idx))
        return out

    def finish(self) -> list[Chunk]:
        if not self.blocked and (
            not self.candidates or not all(c.finished for c in self.candidates.values())
        ):
            raise UpstreamError(
                f"{self.provider} stream ended before its finishReason",
                status=502,
                code="upstream_stream_truncated",
                provider=self.provider,
            )
        u = usage(self.usage)
        if self.include_usage and u is not None:
            return [self.chunks.usage(u)]
        return []
