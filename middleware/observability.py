"""Observes each request's outcome for metrics, cost and the audit sink.

Placed early (right after logging), it sees the final outcome of the request, whatever the
router, cache or guardrails did below it. It settles usage (the provider's, or estimated for
a stream that carried none) and cost onto the context before the logging middleware above
it writes the line. When tracing is off, a client's ``traceparent`` is passed upstream
unchanged.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from proxy.context import RequestContext
from proxy.errors import GatewayError
from proxy.observability.usage_estimate import StreamUsage
from proxy.pipeline import Next
from proxy.reply import BodyReply, Chunk, CompletionReply, Reply, StreamReply
from proxy.schema import Usage, text_of

if TYPE_CHECKING:
    from proxy.gateway import Gateway
    from proxy.observability.observer import Observability


class ObservabilityMiddleware:
    def __init__(self) -> None:
        self.obs: Observability | None = None
        self.passthrough_trace = True
        self.bodies = False
        self.answers = False  # the console captures bodies: keep the answer for finish()

    async def startup(self, gateway: Gateway) -> None:
        self.obs = gateway.observability
        self.passthrough_trace = self.obs.tracing is None
        self.bodies = self.obs.settings.log_bodies
        self.answers = self.obs.wants_answer
        if self.obs.console is not None:
            self.obs.console.fed = True

    async def __call__(self, ctx: RequestContext, call_next: Next) -> Reply:
        obs = self.obs
        assert obs is not None, "ObservabilityMiddleware.startup was not called"
        if self.passthrough_trace:
            tp = ctx.headers.get("traceparent")
            if tp:
                ctx.trace_headers = {"traceparent": tp}
                ts = ctx.headers.get("tracestate")
                if ts:
                    ctx.trace_headers["tracestate"] = ts
        m = obs.metrics
        if m is not None:
            m.requests_now.inc()
        if self.answers:  # the console keeps the answer's text: events, one by one
            ctx.reads_reply = True
        if self.bodies:
            ctx.reads_reply = True
            ctx.state["bodies"] = {"request_messages": ctx.body.as_dict().get("messages")}
        try:
            reply = await call_next(ctx)
        except GatewayError as exc:
            self._end(ctx, exc.status, exc.type, None, None)
            raise
        except asyncio.CancelledError:
            self._end(ctx, 499, "client_closed", None, None)
            raise
        except Exception:  # a bug below: the handler answers 500; keep the gauges right
            self._end(ctx, 500, "internal_error", None, None)
            raise
        if isinstance(reply, StreamReply):
            if m is not None:
                m.streams_now.inc()
            return reply.watch(_SettleAtEnd(self, ctx))
        if isinstance(reply, BodyReply):
            self._end(ctx, reply.status, None, reply.usage, None)
            return reply
        assert isinstance(reply, CompletionReply)
        usage = reply.completion.usage()
        if self.bodies:
            ctx.state["bodies"]["response_text"] = _answer_text(reply)
        answer = reply.completion.raw if self.answers else None
        self._end(ctx, reply.status, None, usage, None, answer)
        return reply

    def _end(
        self,
        ctx: RequestContext,
        status: int,
        error: str | None,
        usage: Usage | None,
        ttfb: float | None,
        answer: bytes | str | None = None,
    ) -> None:
        obs = self.obs
        assert obs is not None
        if usage is not None:
            ctx.usage = usage
            obs.price(ctx, usage)
        if obs.metrics is not None:
            obs.metrics.requests_now.dec()
        obs.finish(ctx, status, error, ttfb, answer)


class _SettleAtEnd:
    """A stream's usage (reported, else estimated from the text that went by), cost,
    metrics and records, settled when it ends, before the access line is written."""

    __slots__ = ("counter", "ctx", "feed", "mw")

    def __init__(self, mw: ObservabilityMiddleware, ctx: RequestContext) -> None:
        self.mw = mw
        self.ctx = ctx
        self.counter = StreamUsage(keep_text=mw.bodies or mw.answers)
        self.feed = self.counter.feed

    def chunk(self, chunk: Chunk) -> None:
        self.ctx.first_chunk_sent()
        self.feed(chunk)

    def end(self, status: int, error: str | None) -> None:
        mw, ctx, counter = self.mw, self.ctx, self.counter
        obs = mw.obs
        if obs is not None and obs.metrics is not None:
            obs.metrics.streams_now.dec()
        usage: Usage | None = None
        reported = counter.reported is not None or ctx.upstream_usage is not None
        if error is None or reported or counter.chars:
            usage, ctx.usage_estimated = counter.result_for(ctx)
        text = "".join(counter.text) if mw.bodies or mw.answers else None
        if mw.bodies:
            ctx.state["bodies"]["response_text"] = text
        mw._end(ctx, status, error, usage, ctx.ttfb, text)


def _answer_text(reply: CompletionReply) -> str:
    try:
        return "".join(text_of(c.message.content) for c in reply.completion.parsed.choices)
    except Exception:  # an odd body is relayed as is; the log line just lacks its text
        return ""
