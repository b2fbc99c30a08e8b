"""RequestContext: the one object carried through the whole chain for one request."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import msgspec

from proxy.schema import ChatRequest, encoder

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from multidict import CIMultiDictProxy

    from proxy.reply import Reply
    from proxy.routing.config import GatewayConfig
    from proxy.target import Target

    # (ctx, option index of the leaf, the upstream call) -> the attempt's reply
    AttemptHook = Callable[
        ["RequestContext", str, Callable[[], Awaitable[Reply]]], Awaitable[Reply]
    ]


class RequestBody:
    """The client's body: raw bytes, the typed view, and the edits made since.

    The raw bytes are the pass-through truth for OpenAI-compatible upstreams (unknown
    fields survive); the typed ``ChatRequest`` is what native adapters translate from.
    Edits go through ``set`` so both stay consistent.
    """

    __slots__ = ("_dict", "patch", "raw", "request")

    def __init__(self, raw: bytes, request: ChatRequest) -> None:
        self.raw = raw
        self.request = request
        self.patch: dict[str, Any] = {}
        self._dict: dict[str, Any] | None = None

    def set(self, **params: Any) -> None:
        """Change top-level parameters (override_params, guardrail mutators, model rewrite).

        Raises ``msgspec.ValidationError`` if the result is not a valid request.
        """
        self.patch.update(params)
        merged = msgspec.to_builtins(self.request)
        merged.update(msgspec.to_builtins(params))
        self.request = msgspec.convert(merged, ChatRequest)

    def as_dict(self) -> dict[str, Any]:
        """The client's body as a dict with every edit applied (unknown fields kept)."""
        if self._dict is None:
            self._dict = msgspec.json.decode(self.raw)
        if self.patch:
            d = dict(self._dict)
            d.update(msgspec.to_builtins(self.patch))
            return d
        return self._dict

    def passthrough_bytes(self, **overrides: Any) -> bytes:
        """Body bytes for an OpenAI-compatible upstream: the raw bytes when unchanged."""
        if not self.patch and not overrides:
            return self.raw
        d = self.as_dict()
        if overrides:
            d = {**d, **overrides}
        return encoder.encode(d)


class RequestContext:
    """Per-request state shared by the middlewares. Holds data, never callables (one
    exception: ``attempt_hook``, which a middleware before the router sets to wrap each
    upstream attempt, e.g. guardrails on nested config targets)."""

    __slots__ = (
        "attempt_hook",
        "attempts",
        "auth_header",
        "body",
        "cache_status",
        "config",
        "config_inline",
        "cost",
        "error",
        "guardrail_verdicts",
        "headers",
        "metadata",
        "model",
        "overhead_ms",
        "principal",
        "provider",
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
        "ttfb",
        "upstream_ms",
        "usage",
        "usage_estimated",
    )

    def __init__(
        self,
        request_id: str,
        trace_id: str,
        headers: CIMultiDictProxy[str],
        body: RequestBody,
    ) -> None:
        self.start = time.perf_counter()
        self.request_id = request_id
        self.trace_id = trace_id
        self.headers = headers
        self.body = body
        self.stream = bool(body.request.stream)
        self.model = body.request.model
        self.provider: str | None = None
        self.metadata: dict[str, Any] = {}
        self.principal: str | None = None  # gateway key name when auth is on
        self.auth_header: str | None = None  # header that carried the gateway key
        self.config: GatewayConfig | None = None  # resolved before the chain runs
        self.config_inline = False  # the client sent the config JSON itself (untrusted)
        self.target: Target | None = None
        self.targets_tried: list[str] = []
        self.attempts = 0
        self.attempt_hook: AttemptHook | None = None  # the router calls it around each attempt
        self.response_headers: dict[str, str] = {}
        self.status: int | None = None
        self.error: str | None = None  # error type, for logs
        self.ttfb: float | None = None  # seconds from start to first chunk sent
        self.upstream_ms: float = 0.0
        self.usage: Any = None
        self.usage_estimated = False  # usage counted by the gateway, not reported upstream
        self.cost: float | None = None  # USD, from the price table
        self.overhead_ms: float | None = None  # gateway time, less upstream (x-gateway-overhead-ms)
        self.trace_headers: dict[str, str] | None = None  # traceparent for the upstream call
        self.cache_status: str | None = None
        # (guardrail, "pass" | "fail" | "deny") per synchronous guardrail run, for the
        # metrics and the log line; the guardrail is a settings id or "inline" (bounded)
        self.guardrail_verdicts: list[tuple[str, str]] = []
        self.state: dict[str, Any] = {}  # free slot for user middlewares

    @property
    def request(self) -> ChatRequest:
        return self.body.request

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.start) * 1000.0
