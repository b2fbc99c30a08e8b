"""One structured log line per request, written when the request really ends.

For a stream that is after its last chunk (or when the client goes away), so the line has
the time to first byte, the usage from the final chunk and the true outcome. Exactly one
outcome is logged: a response or an error, never both. Credentials are never handed to the
logger; prompt and answer bodies are not logged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import msgspec
import structlog
from msgspec import UNSET, UnsetType

from proxy.context import RequestContext, three_places
from proxy.errors import GatewayError
from proxy.logsetup import LogLine, json_line_writer
from proxy.pipeline import Next
from proxy.redact import redact_values
from proxy.reply import BodyReply, Chunk, CompletionReply, Reply, StreamReply
from proxy.schema import Usage


class AccessLine(LogLine, kw_only=True, omit_defaults=True, gc=False):
    """The access line's fields, in the order they are written; those left UNSET are not."""

    request_id: str
    trace_id: str
    provider: str | None
    model: str | None
    status: int
    latency_ms: float
    upstream_ms: float
    overhead_ms: float
    stream: bool
    endpoint: str
    ttfb_ms: float | UnsetType = UNSET
    prompt_tokens: int | UnsetType = UNSET
    completion_tokens: int | UnsetType = UNSET
    total_tokens: int | UnsetType = UNSET
    usage_estimated: bool | UnsetType = UNSET
    cost_usd: float | UnsetType = UNSET
    error_type: str | UnsetType = UNSET
    attempts: int | UnsetType = UNSET
    targets: list[str] | UnsetType = UNSET
    principal: str | UnsetType = UNSET
    cache_status: str | UnsetType = UNSET
    metadata: Any = UNSET
    guardrails: list[dict[str, str]] | UnsetType = UNSET
    request_messages: Any = UNSET  # observability.log_bodies
    response_text: Any = UNSET
    event: str | UnsetType = UNSET
    level: str | UnsetType = UNSET
    timestamp: str | UnsetType = UNSET


class LoggingOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    event: str = "request"
    log_metadata: bool = True


class LoggingMiddleware:
    Options = LoggingOptions

    def __init__(self, options: LoggingOptions | None = None) -> None:
        self.options = options or LoggingOptions()
        self.log: Any = structlog.get_logger("gateway.access")
        self.write: Callable[[dict[str, Any] | LogLine, tuple[str, ...]], None] | None = None

    async def startup(self, gateway: object) -> None:
        # a concrete bound logger: the lazy proxy costs an attribute hop on every line
        self.log = structlog.get_logger("gateway.access").bind()
        # JSON lines: written directly, the same line without structlog's per-call walk
        self.write = json_line_writer()

    async def __call__(self, ctx: RequestContext, call_next: Next) -> Reply:
        try:
            reply = await call_next(ctx)
        except GatewayError as exc:
            self.emit(ctx, exc.status, exc.type)
            raise
        except asyncio.CancelledError:
            self.emit(ctx, 499, "client_closed")
            raise
        if isinstance(reply, StreamReply):
            return reply.watch(_LineAtEnd(self, ctx))
        if isinstance(reply, BodyReply):
            self.emit(ctx, reply.status, None, reply.usage)
            return reply
        assert isinstance(reply, CompletionReply)
        self.emit(ctx, reply.status, None, reply.completion.usage())
        return reply

    def emit(
        self, ctx: RequestContext, status: int, error: str | None, usage: Usage | None = None
    ) -> None:
        ctx.status = status
        ctx.error = error
        if usage is None:  # settled (or estimated, for a stream) by observability, or read
            # by the relay from a usage event the client did not ask for
            usage = ctx.usage if isinstance(ctx.usage, Usage) else ctx.upstream_usage
        latency = ctx.elapsed_ms()
        upstream = ctx.upstream_ms
        overhead = ctx.overhead_ms
        line = AccessLine(
            request_id=ctx.request_id,
            trace_id=ctx.trace_id,
            provider=ctx.provider,
            model=ctx.model,
            status=status,
            latency_ms=three_places(latency),
            upstream_ms=three_places(upstream),
            overhead_ms=three_places(overhead if overhead is not None else latency - upstream),
            stream=ctx.stream,
            endpoint=ctx.endpoint,
            event=self.options.event,
        )
        if ctx.ttfb is not None:
            line.ttfb_ms = three_places(ctx.ttfb * 1000.0)
        if usage is not None:
            line.prompt_tokens = usage.prompt_tokens
            line.completion_tokens = usage.completion_tokens
            line.total_tokens = usage.total_tokens
            if ctx.usage_estimated:
                line.usage_estimated = True
        if ctx.cost is not None:
            line.cost_usd = ctx.cost
        if error is not None:
            line.error_type = error
        if ctx.attempts > 1:
            line.attempts = ctx.attempts
        if ctx.targets_tried:
            line.targets = ctx.targets_tried
        if ctx.principal is not None:
            line.principal = ctx.principal
        if ctx.cache_status is not None:
            line.cache_status = ctx.cache_status
        if self.options.log_metadata and ctx.metadata:
            line.metadata = ctx.metadata
        if ctx.guardrail_verdicts:
            line.guardrails = [{"id": g, "verdict": v} for g, v in ctx.guardrail_verdicts]
        if ctx.state and (bodies := ctx.state.get("bodies")):  # observability.log_bodies
            line.request_messages = bodies.get("request_messages", UNSET)
            line.response_text = bodies.get("response_text", UNSET)
        ctx.usage = usage
        # the request's own keys are redacted wherever the client put them (proxy/redact.py)
        if self.write is not None:
            self.write(line, ctx.secrets)
            return
        fields = line.fields()
        del fields["event"]
        if secrets := ctx.secrets:
            fields = {k: redact_values(v, secrets) for k, v in fields.items()}
        self.log.info(self.options.event, **fields)


class _LineAtEnd:
    """A stream's line, written when it ends: after its last chunk, or when it fails or the
    client leaves (with the time to first byte and the usage its last chunk carried)."""

    __slots__ = ("ctx", "last", "mw")

    def __init__(self, mw: LoggingMiddleware, ctx: RequestContext) -> None:
        self.mw = mw
        self.ctx = ctx
        self.last: Chunk | None = None

    def chunk(self, chunk: Chunk) -> None:
        if self.last is None:
            self.ctx.first_chunk_sent()
        self.last = chunk

    def end(self, status: int, error: str | None) -> None:
        last = self.last
        self.mw.emit(self.ctx, status, error, last.usage() if last is not None else None)
