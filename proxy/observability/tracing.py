"""OpenTelemetry traces: one span per request, a child per middleware and per upstream attempt.

Off unless ``observability.otel_endpoint`` is set (OTLP/HTTP) or ``otel_exporter`` is
"memory". The wrapping happens once, when the chain is built, so a gateway without tracing
runs the plain chain at no cost. A client's W3C ``traceparent`` (and ``tracestate``) is the
parent of the request span; each attempt's span context is sent upstream as
``traceparent``. Attribute names follow the OpenTelemetry GenAI semantic conventions.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from proxy import __version__
from proxy.context import RequestContext
from proxy.errors import GatewayError
from proxy.observability.settings import ObservabilitySettings
from proxy.pipeline import Middleware, Next
from proxy.reply import Chunk, Reply, StreamReply

OPERATION = "chat"


def _span_name(ctx: RequestContext) -> str:
    return f"{OPERATION} {ctx.model}" if ctx.model else OPERATION


def _end(span: Span, ctx: RequestContext, status: int, error: str | None) -> None:
    """Outcome attributes, then end the span."""
    attrs: dict[str, Any] = {"http.response.status_code": status}
    if ctx.provider:
        attrs["gen_ai.system"] = ctx.provider
    usage = ctx.usage
    if usage is not None:
        attrs["gen_ai.usage.input_tokens"] = usage.prompt_tokens
        attrs["gen_ai.usage.output_tokens"] = usage.completion_tokens
    if ctx.cost is not None:
        attrs["gateway.cost_usd"] = ctx.cost
    if ctx.usage_estimated:
        attrs["gateway.usage_estimated"] = True
    if ctx.cache_status:
        attrs["gateway.cache_status"] = ctx.cache_status
    if ctx.attempts:
        attrs["gateway.attempts"] = ctx.attempts
    if error is not None:
        attrs["error.type"] = error
    span.set_attributes(attrs)
    if status >= 500:
        span.set_status(Status(StatusCode.ERROR, error))
    span.end()


class Tracing:
    def __init__(self, s: ObservabilitySettings) -> None:
        resource = Resource.create({"service.name": s.otel_service_name})
        sampler = ParentBased(TraceIdRatioBased(s.otel_sample_ratio))
        self.provider = TracerProvider(resource=resource, sampler=sampler)
        self.exporter: SpanExporter
        if s.otel_exporter == "memory":
            self.exporter = InMemorySpanExporter()
            self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        else:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            self.exporter = OTLPSpanExporter(
                endpoint=s.otel_endpoint, headers=s.otel_headers or None, timeout=10
            )
            # batches are exported from a background thread, never on the request path
            self.provider.add_span_processor(BatchSpanProcessor(self.exporter))
        self.tracer = self.provider.get_tracer("llm-gateway", __version__)
        self.propagator = TraceContextTextMapPropagator()

    def chain(self, middlewares: Sequence[Middleware], terminal: Next) -> Next:
        handler: Next = _Attempt(self, terminal)
        for mw in reversed(middlewares):
            handler = _Step(self, mw, handler)
        return _Root(self, handler)

    async def shutdown(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Flushes queued spans: blocking HTTP, so off the event loop, and bounded (an
        unreachable collector must not hold up the process's exit)."""
        flush = asyncio.get_running_loop().run_in_executor(None, self.provider.shutdown)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(flush, timeout)


class _Root:
    """The request span, parented by the client's traceparent when it sent one."""

    __slots__ = ("next", "t")

    def __init__(self, t: Tracing, nxt: Next) -> None:
        self.t = t
        self.next = nxt

    async def __call__(self, ctx: RequestContext) -> Reply:
        t = self.t
        parent = t.propagator.extract(ctx.headers)
        attrs: dict[str, Any] = {
            "gen_ai.operation.name": OPERATION,
            "gen_ai.request.model": ctx.model,
            "gateway.request_id": ctx.request_id,
            "portkey.trace_id": ctx.trace_id,
            "gateway.stream": ctx.stream,
        }
        span = t.tracer.start_span(
            _span_name(ctx), context=parent, kind=SpanKind.SERVER, attributes=attrs
        )
        try:
            with trace.use_span(
                span, end_on_exit=False, record_exception=False, set_status_on_exception=False
            ):
                reply = await self.next(ctx)
        except GatewayError as exc:
            _end(span, ctx, exc.status, exc.type)
            raise
        except asyncio.CancelledError:
            _end(span, ctx, 499, "client_closed")
            raise
        except BaseException as exc:
            _end(span, ctx, 500, type(exc).__name__)
            raise
        if isinstance(reply, StreamReply):
            return reply.watch(_SpanAtEnd(span, ctx))
        _end(span, ctx, reply.status, None)
        return reply


class _SpanAtEnd:
    """Ends a stream's server span when the stream ends (status and error as logged)."""

    __slots__ = ("ctx", "span")

    def __init__(self, span: Span, ctx: RequestContext) -> None:
        self.span, self.ctx = span, ctx

    def chunk(self, chunk: Chunk) -> None:
        pass

    def end(self, status: int, error: str | None) -> None:
        _end(self.span, self.ctx, status, error)


class _Step:
    """One middleware's span: its own work and everything it awaits below it."""

    __slots__ = ("mw", "name", "next", "t")

    def __init__(self, t: Tracing, mw: Middleware, nxt: Next) -> None:
        self.t = t
        self.mw = mw
        self.next = nxt
        self.name = f"middleware {type(mw).__name__}"

    async def __call__(self, ctx: RequestContext) -> Reply:
        with self.t.tracer.start_as_current_span(
            self.name, record_exception=False, set_status_on_exception=False
        ) as span:
            try:
                return await self.mw(ctx, self.next)
            except GatewayError as exc:
                span.set_attribute("error.type", exc.type)
                raise


class _Attempt:
    """One upstream attempt (the pinned translate -> relay end), a CLIENT span."""

    __slots__ = ("next", "t")

    def __init__(self, t: Tracing, nxt: Next) -> None:
        self.t = t
        self.next = nxt

    async def __call__(self, ctx: RequestContext) -> Reply:
        t = self.t
        attrs: dict[str, Any] = {
            "gen_ai.operation.name": OPERATION,
            "gen_ai.request.model": ctx.model,
            "gateway.attempt": ctx.attempts,
        }
        if ctx.provider:
            attrs["gen_ai.system"] = ctx.provider
        if ctx.targets_tried:
            attrs["gateway.target_index"] = ctx.targets_tried[-1]
        span = t.tracer.start_span(_span_name(ctx), kind=SpanKind.CLIENT, attributes=attrs)
        carrier: dict[str, str] = {}
        t.propagator.inject(carrier, context=trace.set_span_in_context(span))
        ctx.trace_headers = carrier or None  # the relay sends them upstream
        upstream_before = ctx.upstream_ms
        try:
            reply = await self.next(ctx)
        except GatewayError as exc:
            _end_attempt(span, ctx, upstream_before, exc.status, exc.type)
            raise
        except BaseException as exc:
            _end_attempt(span, ctx, upstream_before, 499, type(exc).__name__)
            raise
        if isinstance(reply, StreamReply):
            return reply.watch(_AttemptSpanAtEnd(span, ctx, upstream_before))
        _end_attempt(span, ctx, upstream_before, reply.status, None)
        return reply


def _end_attempt(
    span: Span, ctx: RequestContext, upstream_before: float, status: int, error: str | None
) -> None:
    span.set_attribute("http.response.status_code", status)
    span.set_attribute("gateway.upstream_ms", round(ctx.upstream_ms - upstream_before, 3))
    if error is not None:
        span.set_attribute("error.type", error)
        span.set_status(Status(StatusCode.ERROR, error))
    span.end()


class _AttemptSpanAtEnd:
    """Ends an attempt's client span when its stream ends."""

    __slots__ = ("before", "ctx", "span")

    def __init__(self, span: Span, ctx: RequestContext, upstream_before: float) -> None:
        self.span, self.ctx, self.before = span, ctx, upstream_before

    def chunk(self, chunk: Chunk) -> None:
        pass

    def end(self, status: int, error: str | None) -> None:
        _end_attempt(self.span, self.ctx, self.before, status, error)
