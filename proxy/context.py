"""RequestContext: the one object carried through the whole chain for one request."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, NamedTuple

from proxy.body import RequestBody, RequestHead
from proxy.schema import ChatRequest, Usage

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from multidict import CIMultiDictProxy

    from proxy.gateway import Gateway
    from proxy.quota.policy import KeyPolicy
    from proxy.reply import Reply
    from proxy.routing.config import GatewayConfig
    from proxy.target import Target

    # (ctx, option index of the leaf, the upstream call) -> the attempt's reply
    AttemptHook = Callable[
        ["RequestContext", str, Callable[[], Awaitable[Reply]]], Awaitable[Reply]
    ]


__all__ = ["Attempt", "RequestBody", "RequestContext", "RequestHead"]


class _Late:
    """Functions of modules that import this one (or the providers, which do), looked up
    on first use: an import statement in a property costs ~0.8 us on every request."""

    request_secrets: Callable[[CIMultiDictProxy[str]], tuple[str, ...]] | None = None
    request_config: Callable[[RequestContext, Gateway], tuple[Any, bool]] | None = None

    def secrets_of(self) -> Callable[[CIMultiDictProxy[str]], tuple[str, ...]]:
        if self.request_secrets is None:
            from proxy.redact import request_secrets

            self.request_secrets = request_secrets
        return self.request_secrets

    def config_of(self) -> Callable[[RequestContext, Gateway], tuple[Any, bool]]:
        if self.request_config is None:
            from proxy.routing.resolve import request_config

            self.request_config = request_config
        return self.request_config


_late = _Late()


class Attempt(NamedTuple):
    """One step of the router's walk through a config (read by the console's detail view
    and health charts): a target tried, skipped by its breaker, or unusable."""

    option: str  # the option index, e.g. "config.targets[1]"
    config: str  # the settings config id, or "inline"
    provider: str | None
    status: int | None  # None: not called (circuit open)
    outcome: str  # "ok", the error type, "circuit_open" or "unusable"
    ms: float


_UNRESOLVED = object()


class RequestContext:
    """Per-request state shared by the middlewares. Holds data, never callables (one
    exception: ``attempt_hook``, which a middleware before the router sets to wrap each
    upstream attempt, e.g. guardrails on nested config targets)."""

    __slots__ = (
        "_config",
        "_secrets",
        "attempt_hook",
        "attempts",
        "auth_header",
        "body",
        "bound_target",
        "cache_status",
        "config_inline",
        "cost",
        "endpoint",
        "error",
        "gateway",
        "guardrail_verdicts",
        "headers",
        "hook_results",
        "metadata",
        "model",
        "overhead_ms",
        "policy",
        "principal",
        "provider",
        "reads_reply",
        "request_id",
        "response_headers",
        "start",
        "state",
        "status",
        "stream",
        "target",
        "targets_tried",
        "trace_headers",
        "trace_id",
        "trail",
        "ttfb",
        "upstream_ms",
        "upstream_usage",
        "usage",
        "usage_estimated",
    )

    def __init__(
        self,
        request_id: str,
        trace_id: str,
        headers: CIMultiDictProxy[str],
        body: RequestBody,
        gateway: Gateway | None = None,
        endpoint: str = "chat",
    ) -> None:
        self.start = time.perf_counter()
        self.gateway = gateway
        self.endpoint = endpoint  # which front door's API: chat, messages, embeddings, ...
        self.request_id = request_id
        self.trace_id = trace_id
        self.headers = headers
        self.body = body
        self.stream = body.head.stream
        self.model = body.head.model
        self.provider: str | None = None
        self.metadata: dict[str, Any] = {}
        self.principal: str | None = None  # gateway key name when auth is on
        self.auth_header: str | None = None  # header that carried the gateway key
        # the gateway key's policy (limits, team, allowed targets): the terminal step
        # checks each attempt's target against it, the ledger records its key and team
        self.policy: KeyPolicy | None = None
        self._config: GatewayConfig | object | None = _UNRESOLVED
        self._secrets: tuple[str, ...] | None = None
        self.config_inline = False  # the client sent the config JSON itself (untrusted)
        self.target: Target | None = None
        # the target routing resolved and bind() passed: the terminal step binds any other
        self.bound_target: Target | None = None
        self.targets_tried: list[str] = []
        self.trail: list[Attempt] = []  # the router's attempts with their outcomes
        self.attempts = 0
        self.attempt_hook: AttemptHook | None = None  # the router calls it around each attempt
        self.response_headers: dict[str, str] = {}
        self.status: int | None = None
        self.error: str | None = None  # error type, for logs
        self.ttfb: float | None = None  # seconds from start to first chunk sent
        self.upstream_ms: float = 0.0
        self.usage: Any = None
        self.usage_estimated = False  # usage counted by the gateway, not reported upstream
        # a stream's usage event the relay read and did not relay (the gateway asked the
        # provider for it, the client did not): what stream accounting settles on
        self.upstream_usage: Usage | None = None
        self.cost: float | None = None  # USD, from the price table
        self.overhead_ms: float | None = None  # gateway time, less upstream (x-gateway-overhead-ms)
        self.trace_headers: dict[str, str] | None = None  # traceparent for the upstream call
        self.cache_status: str | None = None
        # a middleware that reads the answer's content (output guardrails, cache store)
        # sets it before the upstream call: a native stream is then translated to chat
        self.reads_reply = False
        # (guardrail, "pass" | "fail" | "deny") per synchronous guardrail run, for the
        # metrics and the log line; the guardrail is a settings id or "inline" (bounded)
        self.guardrail_verdicts: list[tuple[str, str]] = []
        # (phase, results) per synchronous guardrail run, results shaped as Portkey's
        # hook_results; the guardrails middleware appends, the console reads
        self.hook_results: list[tuple[str, list[dict[str, Any]]]] = []
        self.state: dict[str, Any] = {}  # free slot for user middlewares

    @property
    def secrets(self) -> tuple[str, ...]:
        """The credential values this request carried (proxy/redact.py), read once."""
        if self._secrets is None:
            self._secrets = _late.secrets_of()(self.headers)
        return self._secrets

    @property
    def config(self) -> GatewayConfig | None:
        """The routing config (``x-portkey-config`` or the settings' default), resolved on
        first use: by then authentication has run, so an unauthenticated caller learns
        nothing about the configs a gateway holds."""
        found = self._config
        if found is _UNRESOLVED:
            found = None
            if self.gateway is not None:
                found, self.config_inline = _late.config_of()(self, self.gateway)
            self._config = found
        return found  # type: ignore[return-value]

    @config.setter
    def config(self, value: GatewayConfig | None) -> None:
        self._config = value

    @property
    def request(self) -> ChatRequest:
        return self.body.request

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.start) * 1000.0

    def first_chunk_sent(self) -> None:
        """Records ``ttfb`` at a stream's first chunk (later calls keep the first time):
        whichever stream watcher sees it first (the access line, observability)."""
        if self.ttfb is None:
            self.ttfb = time.perf_counter() - self.start


def three_places(value: float) -> float:
    """``round(value, 3)`` for log and audit fields, a quarter of its cost (round() with
    digits goes through a decimal conversion; this is two float operations)."""
    return int(value * 1000.0 + (0.5 if value >= 0.0 else -0.5)) / 1000.0
