"""Observability: the per-gateway hub built from ``settings.observability``.

Owns the price table, the Prometheus metrics, the tracer and the audit sink; the
``ObservabilityMiddleware`` reports each request's outcome to ``finish`` and the HTTP handler
asks ``overhead_header`` for ``x-gateway-overhead-ms``. The optional packages are imported
only when the settings turn their feature on.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import msgspec
import structlog
from aiohttp import web

from proxy.context import RequestContext
from proxy.errors import NotFound
from proxy.ledger.writer import row_of
from proxy.observability.pricing import PriceTable, cost_usd
from proxy.observability.settings import ObservabilitySettings
from proxy.pipeline import Middleware, Next, SettingsError, build_chain
from proxy.redact import redact, redact_values
from proxy.schema import Usage

if TYPE_CHECKING:
    from proxy.console.hub import Console
    from proxy.ledger.writer import LedgerWriter
    from proxy.observability.audit import AuditSink
    from proxy.observability.metrics import Metrics
    from proxy.observability.tracing import Tracing

log = structlog.get_logger("gateway")
OVERHEAD_HEADER = "x-gateway-overhead-ms"


def overhead_ms(ctx: RequestContext) -> float:
    """Gateway time so far, less the time spent waiting on providers."""
    return max(0.0, ctx.elapsed_ms() - ctx.upstream_ms)


class Observability:
    def __init__(self, s: ObservabilitySettings) -> None:
        self.settings = s
        self.prices = PriceTable.from_settings(s)
        self.metrics: Metrics | None = None
        self.tracing: Tracing | None = None
        self.audit: AuditSink | None = None
        # the spend ledger (proxy/ledger/): one row per finished request, set by Gateway
        self.ledger: LedgerWriter | None = None
        self.console: Console | None = None  # set by the Gateway when the console is on
        self._flusher: asyncio.Task[None] | None = None
        if s.metrics:
            try:
                from proxy.observability.metrics import Metrics
            except ImportError:
                log.warning("metrics are off: install llm-gateway[observability]")
            else:
                self.metrics = Metrics()
        if s.tracing:
            try:
                from proxy.observability.tracing import Tracing
            except ImportError:
                raise SettingsError(
                    "observability.otel_endpoint: tracing needs llm-gateway[observability]"
                ) from None
            self.tracing = Tracing(s)
        if s.audit.enabled:
            if s.audit.batch_size < 1 or s.audit.queue_size < 1:
                raise SettingsError("observability.audit: batch_size and queue_size must be >= 1")
            if s.audit.webhook and not s.audit.webhook.startswith(("http://", "https://")):
                raise SettingsError("observability.audit.webhook: must be an http(s) URL")
            from proxy.observability.audit import AuditSink

            m = self.metrics
            self.audit = AuditSink(s.audit, m.audit_dropped.inc if m is not None else None)

    # ------------------------------------------------------------------ lifecycle

    def chain(self, middlewares: Sequence[Middleware], terminal: Next) -> Next:
        if self.tracing is not None:
            return self.tracing.chain(middlewares, terminal)
        return build_chain(middlewares, terminal)

    async def startup(self) -> None:
        if self.metrics is not None:  # tallies reach prometheus-client at least every second
            self._flusher = asyncio.get_running_loop().create_task(self._flush_every_second())
        if self.audit is not None:
            await self.audit.start()
        if self.ledger is not None:
            await self.ledger.start()

    async def _flush_every_second(self) -> None:
        assert self.metrics is not None
        while True:
            await asyncio.sleep(1.0)
            self.metrics.flush()

    async def shutdown(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            self._flusher = None
        if self.metrics is not None:
            self.metrics.flush()
        if self.ledger is not None:  # after the drain: every finished request is queued
            await self.ledger.stop()
        if self.audit is not None:
            await self.audit.stop()
        if self.tracing is not None:
            await self.tracing.shutdown()

    # ------------------------------------------------------------------ per request

    def overhead_header(self, ctx: RequestContext) -> str:
        """``x-gateway-overhead-ms`` now; also observed once in the overhead histogram."""
        ms = overhead_ms(ctx)
        if ctx.overhead_ms is None:
            ctx.overhead_ms = ms
            if self.metrics is not None:
                m = self.metrics
                m.tally(m.overhead, "true" if ctx.stream else "false").observe(ms / 1e3)
        return f"{ms:.3f}"

    def price(self, ctx: RequestContext, usage: Usage | None) -> None:
        """Sets ``ctx.cost`` (USD) when the model has a price; a cache hit costs nothing."""
        if usage is None:
            return
        usage = countable(usage)
        p = self.prices.lookup(ctx.provider, ctx.model)
        if p is not None:
            ctx.cost = 0.0 if cache_hit(ctx) else round(cost_usd(p, usage), 10)

    def finish(
        self,
        ctx: RequestContext,
        status: int,
        error: str | None,
        ttfb: float | None,
        answer: bytes | str | None = None,
    ) -> None:
        """Records one finished request (usage and cost already on ctx). ``answer``: the
        answer's bytes or a stream's text, passed only when ``wants_answer``."""
        secrets = ctx.secrets
        if secrets:  # a key the client pasted into its model, trace id or metadata
            ctx.model = redact(ctx.model, secrets) if ctx.model else ctx.model
            ctx.trace_id = redact(ctx.trace_id, secrets)
            if ctx.metadata:
                ctx.metadata = redact_values(ctx.metadata, secrets)
        m = self.metrics
        if m is not None:
            self._record(m, ctx, status, error, ttfb)
        if self.audit is not None:
            self.audit.submit(self.audit_record(ctx, status, error, ttfb))
        if self.ledger is not None:
            self.ledger.submit(row_of(ctx, status, error))
        if self.console is not None:
            self.console.record(ctx, status, error, ttfb, answer)

    @property
    def wants_answer(self) -> bool:
        """The console captures bodies: the middleware keeps the answer for ``finish``."""
        return self.console is not None and self.console.capture

    def _record(
        self, m: Metrics, ctx: RequestContext, status: int, error: str | None, ttfb: float | None
    ) -> None:
        provider, model = m.labels(ctx.provider, ctx.model)
        duration = time.perf_counter() - ctx.start
        stream = "true" if ctx.stream else "false"
        # one dict lookup for this request's label set instead of one labels() per series
        b = m.bundle(provider, model, str(status), ctx.cache_status or "none", stream, error)
        b.requests.inc()
        b.duration.observe(duration)
        b.genai_duration.observe(duration)
        if ctx.upstream_ms:
            b.upstream.observe(ctx.upstream_ms / 1e3)
        if ttfb is not None:
            b.ttfb.observe(ttfb)
            b.genai_ttft.observe(ttfb)
        usage = countable(ctx.usage) if isinstance(ctx.usage, Usage) else None
        if cache_hit(ctx):  # no provider was called: what the answer would have cost
            if isinstance(usage, Usage):
                p = self.prices.lookup(ctx.provider, ctx.model)
                if p is not None:
                    m.tally(m.cache_saved, provider, model).inc(cost_usd(p, usage))
        elif isinstance(usage, Usage):
            est = "true" if ctx.usage_estimated else "false"
            b.tokens["input", est].inc(usage.prompt_tokens)
            b.tokens["output", est].inc(usage.completion_tokens)
            b.genai_in.observe(usage.prompt_tokens)
            b.genai_out.observe(usage.completion_tokens)
        if ctx.cost:
            b.cost[()].inc(ctx.cost)
        if ctx.targets_tried:
            self._routing(m, ctx, provider)
        for name, verdict in ctx.guardrail_verdicts:  # labels bounded by the middleware
            m.tally(m.verdicts, name, verdict).inc()

    @staticmethod
    def _routing(m: Metrics, ctx: RequestContext, provider: str) -> None:
        """Retries and fallbacks from the router's trail (``config.targets[1]`` per attempt,
        ``config.targets[0]:circuit-open`` for a target its breaker skipped)."""
        tried: set[str] = set()
        config = breaker_config(ctx)
        for entry in ctx.targets_tried:
            index, _, note = entry.partition(":")
            if note == "circuit-open":
                m.set_breaker(config, index, "open")
            elif not note:
                tried.add(index)
                m.set_breaker(config, index, "closed")  # it was let through
        if len(tried) > 1:
            m.fallbacks.labels(provider).inc(len(tried) - 1)
        if ctx.attempts > len(tried) > 0:
            m.retries.labels(provider).inc(ctx.attempts - len(tried))

    def audit_record(
        self, ctx: RequestContext, status: int, error: str | None, ttfb: float | None
    ) -> dict[str, Any]:
        usage = ctx.usage
        rec: dict[str, Any] = {
            "ts": time.time(),
            "request_id": ctx.request_id,
            "trace_id": ctx.trace_id,
            "principal": ctx.principal,
            "provider": ctx.provider,
            "model": ctx.model,
            "stream": ctx.stream,
            "status": status,
            "error_type": error,
            "latency_ms": round(ctx.elapsed_ms(), 3),
            "upstream_ms": round(ctx.upstream_ms, 3),
            "overhead_ms": round(
                overhead_ms(ctx) if ctx.overhead_ms is None else ctx.overhead_ms, 3
            ),
            "ttfb_ms": None if ttfb is None else round(ttfb * 1e3, 3),
            "attempts": ctx.attempts,
            "targets": ctx.targets_tried,
            "cache_status": ctx.cache_status,
            "usage": usage if isinstance(usage, Usage) else None,
            "usage_estimated": ctx.usage_estimated,
            "cost_usd": ctx.cost,
            "metadata": ctx.metadata,
        }
        bodies = ctx.state.get("bodies")
        if bodies:
            rec.update(bodies)
        return rec

    async def metrics_handler(self, request: web.Request) -> web.StreamResponse:
        """``GET /metrics``: Prometheus text format."""
        m = self.metrics
        if m is None:
            err = NotFound(f"no route for {request.method} /metrics")  # as if not there
            return web.Response(body=err.to_json(), status=404, content_type="application/json")
        from proxy.observability.metrics import CONTENT_TYPE

        if m.multiproc is None:
            body = m.render()
        else:  # reads every worker's files: off the event loop
            body = await asyncio.get_running_loop().run_in_executor(None, m.render)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


def breaker_config(ctx: RequestContext) -> str | None:
    """Which config a breaker belongs to, for its gauge: a settings config by id, None for
    a client's inline config (whose trees, and so option indexes, are the client's)."""
    if ctx.config_inline:
        return None
    raw = ctx.headers.get("x-portkey-config")  # not inline: a settings config's id
    return raw.strip() if raw else "default_config"


def cache_hit(ctx: RequestContext) -> bool:
    """``HIT`` or ``SEMANTIC HIT`` (the cache middleware's x-portkey-cache-status)."""
    status = ctx.cache_status
    return status is not None and status.endswith("HIT")


def countable(u: Usage) -> Usage:
    """Token counts as counters and prices can take them. Usage comes from the upstream
    (an integer, says OpenAI's spec, with no minimum): a negative count would make a
    Prometheus counter raise, turning the answer into a 500, or buy a negative cost."""
    if u.prompt_tokens >= 0 and u.completion_tokens >= 0 and u.total_tokens >= 0:
        return u
    return msgspec.structs.replace(
        u,
        prompt_tokens=max(0, u.prompt_tokens),
        completion_tokens=max(0, u.completion_tokens),
        total_tokens=max(0, u.total_tokens),
    )
