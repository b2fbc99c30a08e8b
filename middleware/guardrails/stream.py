"""Output guardrails on streams.

Two modes, chosen per request:

* **buffered** (a deny guardrail applies): the whole stream is read first, the checks run on
  the assembled answer, then the chunks are replayed (or re-chunked, when a mutator changed
  the text) or the request ends in 446. The client sees nothing until the checks pass: time to
  first token becomes the full generation time. That is the price of being able to deny.
* **observed** (no deny guardrail): chunks flow as they arrive. Redacting mutators rewrite the
  text on the way, holding back a short tail (``detect.HOLD`` characters) so a value split
  across chunks (``jane.doe@exa`` + ``mple.com``) is redacted whole; the tail is released at
  the choice's finish chunk. The other checks run on the assembled text at the end, and their
  results are logged.

With ``x-portkey-strict-open-ai-compliance: false`` the results also ride on the last chunk
as ``hook_results`` (held back by one chunk so it can be amended), as Portkey does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import msgspec
from msgspec import UNSET

from middleware.guardrails.checks.base import CheckContext, StreamRewriter
from middleware.guardrails.denied import HOOKS_SOFT_FAIL_STATUS, GuardrailDenied, hook_results
from middleware.guardrails.detect import HOLD
from middleware.guardrails.documents import ResponseDocument
from middleware.guardrails.registry import Guardrail
from middleware.guardrails.runner import run_all
from proxy.context import RequestContext
from proxy.convert import StreamAssembler, completion_to_chunks
from proxy.errors import GatewayError
from proxy.reply import Chunk, StreamReply, aclose
from proxy.schema import ChatCompletion, ChatCompletionChunk, ChunkChoice, Delta, encoder

Results = list[dict[str, Any]]


class ChunkRedactor:
    """Applies stream rewriters to each choice's delta text, holding undecided tails."""

    def __init__(self, rewriters: list[StreamRewriter]) -> None:
        self.rewriters = rewriters
        self.prefix = "".join(r.prefix for r in rewriters)
        self.pending: dict[int, str] = {}
        # length of a choice's pending text when the rewriters last held all of it: until
        # HOLD more characters arrive, holding it all again is safe and costs no scan (a
        # long match growing one token at a time would otherwise rescan it per chunk)
        self.held_all: dict[int, int] = {}
        self.started: set[int] = set()
        self.template: ChatCompletionChunk | None = None

    def _rewrite(self, text: str) -> str:
        for r in self.rewriters:
            text = r.rewrite(text)
        return text

    def _release(self, idx: int, text: str, final: bool) -> str:
        pend = self.pending.pop(idx, "") + text
        if final:
            cut = len(pend)
            self.held_all.pop(idx, None)
        elif len(pend) - self.held_all.get(idx, -HOLD) < HOLD:
            cut = 0  # held it all HOLD characters ago: still safe to hold, no rescan
        else:
            cut = min(r.hold_from(pend) for r in self.rewriters)
            if cut == 0:
                self.held_all[idx] = len(pend)
            else:
                self.held_all.pop(idx, None)
        if cut < len(pend):
            self.pending[idx] = pend[cut:]
        out = self._rewrite(pend[:cut]) if cut else ""
        if idx not in self.started:
            self.started.add(idx)
            out = self.prefix + out
        return out

    def feed(self, chunk: Chunk) -> Chunk:
        parsed = chunk.parsed
        self.template = parsed
        changed = False
        for choice in parsed.choices:
            d = choice.delta
            text = d.content if isinstance(d.content, str) else ""
            final = choice.finish_reason is not None
            # an answer without text (tool calls) gets no prefix, as in the non-stream case
            if text or (final and choice.index in self.pending):
                d.content = self._release(choice.index, text, final)
                changed = True
        if changed:
            chunk.replace(parsed)
        return chunk

    def flush(self) -> list[Chunk]:
        """Held text of choices that never sent a finish chunk (a truncated stream)."""
        if not self.pending or self.template is None:
            return []
        t = self.template
        choices = [
            ChunkChoice(idx, Delta(content=self._release(idx, "", True)))
            for idx in sorted(self.pending)
        ]
        return [
            Chunk(
                parsed=ChatCompletionChunk(
                    id=t.id, created=t.created, model=t.model, choices=choices, usage=UNSET
                )
            )
        ]


def with_hook_results(chunk: Chunk, before: Results, after: Results) -> Chunk:
    body = msgspec.json.decode(chunk.chat_bytes())
    if isinstance(body, dict):
        body["hook_results"] = hook_results(before, after)
    return Chunk(raw=encoder.encode(body))


class StreamGuard:
    """Wraps one stream reply; ``spawn`` and ``report`` come from the middleware."""

    def __init__(
        self,
        ctx: RequestContext,
        cx_factory: Callable[[ResponseDocument], CheckContext],
        sync: list[Guardrail],
        detached: list[Guardrail],
        before: Results,
        report: Callable[[RequestContext, str, list[Guardrail], Results], None],
        spawn: Callable[[Coroutine[Any, Any, None]], None],
        max_chars: int,
    ) -> None:
        self.ctx = ctx
        self.max_chars = max_chars  # buffered text beyond this is not held (nor checked)
        self.cx_factory = cx_factory
        self.sync = sync
        self.detached = detached
        self.before = before
        self.report = report
        self.spawn = spawn
        self.inline_results = (
            ctx.headers.get("x-portkey-strict-open-ai-compliance", "").lower() == "false"
        )

    def wrap(self, reply: StreamReply) -> StreamReply:
        if any(g.deny for g in self.sync):
            return reply.wrap(lambda chunks: self._buffered(reply, chunks))
        return reply.wrap(lambda chunks: self._observed(chunks))

    async def _check(
        self, asm: StreamAssembler, guardrails: list[Guardrail], truncated: bool = False
    ) -> tuple[ResponseDocument, Results]:
        doc = ResponseDocument(msgspec.to_builtins(asm.result()))
        doc.truncated = truncated
        results = await run_all(guardrails, self.cx_factory(doc))
        self.report(self.ctx, "output", guardrails, results)
        return doc, results

    def _detach(self, asm: StreamAssembler) -> None:
        if self.detached:
            self.spawn(self._check_detached(asm, self.detached))

    async def _check_detached(self, asm: StreamAssembler, guardrails: list[Guardrail]) -> None:
        await self._check(asm, guardrails)

    async def _buffered(
        self, reply: StreamReply, chunks: AsyncIterator[Chunk]
    ) -> AsyncIterator[Chunk]:
        held: list[Chunk] = []
        asm = StreamAssembler()
        limit = self.max_chars
        size = 0
        overflow = False
        try:
            async for ch in chunks:
                parsed = ch.parsed
                asm.add(parsed)
                held.append(ch)
                size += sum(len(c.delta.content or "") for c in parsed.choices)
                if size > limit:  # memory stays bounded: decide on what we have
                    overflow = True
                    break
        except BaseException:
            await aclose(chunks)
            raise
        if not overflow:
            await aclose(chunks)
        try:
            async for ch in self._decide(reply, asm, held, overflow):
                yield ch
            if overflow:  # not denied: the rest passes through unchecked
                async for ch in chunks:
                    yield ch
        finally:
            await aclose(chunks)

    async def _decide(
        self, reply: StreamReply, asm: StreamAssembler, held: list[Chunk], overflow: bool
    ) -> AsyncIterator[Chunk]:
        doc, after = await self._check(asm, self.sync, truncated=overflow)
        if any(r["deny"] for r in after):
            raise GuardrailDenied(self.before, after)
        if any(not r["verdict"] for r in self.before + after):
            reply.status = HOOKS_SOFT_FAIL_STATUS
        self._detach(asm)
        out = held
        if doc.changed and not overflow:
            try:
                rewritten = msgspec.convert(doc.body, ChatCompletion)
            except msgspec.ValidationError:
                raise GatewayError(
                    "an output guardrail rewrote the answer into an invalid completion",
                    status=502,
                    code="invalid_guardrail_rewrite",
                ) from None
            out = completion_to_chunks(rewritten, asm.usage is not None)
        if self.inline_results and out:
            out[-1] = with_hook_results(out[-1], self.before, after)
        for ch in out:
            yield ch

    async def _observed(self, chunks: AsyncIterator[Chunk]) -> AsyncIterator[Chunk]:
        rewriters = [
            r
            for g in self.sync
            for c in g.checks
            if c.impl.mutator and (r := c.impl.stream_rewriter())
        ]
        redactor = ChunkRedactor(rewriters) if rewriters else None
        asm = StreamAssembler()
        last: Chunk | None = None  # held back by one when results ride on the last chunk
        tail: list[Chunk] = []
        try:
            async for ch in chunks:
                asm.add(ch.parsed)  # the checks see the text as the model wrote it
                if redactor is not None:
                    ch = redactor.feed(ch)
                if self.inline_results:
                    if last is not None:
                        # the next one out (ch) waits for the chunk after it: "more in
                        # hand" only if ch had that, else the writer would hold this one
                        last.flush = ch.flush
                        yield last
                    last = ch
                else:
                    yield ch
            tail = redactor.flush() if redactor is not None else []
        except GatewayError:
            if last is not None:  # the upstream failed after it: it still goes out
                held, last = last, None
                held.flush = True
                yield held
            raise
        finally:
            await aclose(chunks)
        for ch in tail:
            if self.inline_results:
                if last is not None:
                    yield last
                last = ch
            else:
                yield ch
        self._detach(asm)
        if not self.sync:
            if last is not None:
                yield with_hook_results(last, self.before, []) if self.inline_results else last
            return
        if not self.inline_results:
            # results are only logged: do not hold [DONE] back for them
            self.spawn(self._check_detached(asm, self.sync))
            return
        _, after = await self._check(asm, self.sync)
        if last is not None:
            yield with_hook_results(last, self.before, after)
