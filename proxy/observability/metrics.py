"""Prometheus metrics (prometheus-client), multiprocess-safe under ``--workers N``.

Names are snake_case ``gateway_*`` plus the OpenTelemetry GenAI metrics under their
Prometheus names (``gen_ai.client.token.usage`` -> ``gen_ai_client_token_usage``, with the
attribute names' dots as underscores). With ``PROMETHEUS_MULTIPROC_DIR`` set (the
supervisor sets it for ``--workers`` > 1) each process writes its values to files there and
a scrape of any worker sums them all.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, NamedTuple

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

from proxy.observability.tally import CounterTally, GaugeTally, HistogramTally

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
OVERHEAD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1)
# bucket boundaries recommended by the OpenTelemetry GenAI metrics conventions
GENAI_TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304)
GENAI_DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24)
GENAI_TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

BREAKER_STATES = {"closed": 0.0, "probe": 1.0, "half_open": 1.0, "open": 2.0}
MAX_MODELS = 500  # distinct (provider, model) label pairs; clients choose model names
MAX_BREAKER_TARGETS = 256  # settings configs' targets: few, but keep the bound explicit
OTHER = "other"
INLINE = "inline"

CONTENT_TYPE = CONTENT_TYPE_LATEST


def multiproc_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class Bundle(NamedTuple):
    requests: Any
    duration: Any
    genai_duration: Any
    upstream: Any
    ttfb: Any
    genai_ttft: Any
    genai_in: Any
    genai_out: Any
    tokens: LazyTallies  # gateway_tokens by (direction, estimated "true" | "false")
    cost: LazyTallies  # gateway_cost_usd, under the key ()


class LazyTallies(dict[tuple[str, ...], Any]):
    """One metric's tallies for a label set, by the labels that follow it, each made on
    first use: a series appears in /metrics once it has counted."""

    __slots__ = ("_make",)

    def __init__(self, make: Callable[[tuple[str, ...]], Any]) -> None:
        super().__init__()
        self._make = make

    def __missing__(self, key: tuple[str, ...]) -> Any:
        found = self[key] = self._make(key)
        return found


class Metrics:
    """Every instrument of one gateway, in its own registry (tests run several gateways)."""

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry(auto_describe=True)
        self.multiproc = multiproc_dir()
        if self.multiproc is None:
            ProcessCollector(registry=r)
        self._pairs: set[tuple[str, str]] = set()
        self._breakers: set[str] = set()
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        self._bundles: dict[tuple[str, str, str, str, str, str | None], Bundle] = {}
        self._tallies: list[Any] = []  # every tally, flushed together (label sets are bounded)
        pm = ("provider", "model")
        self.requests = Counter(
            "gateway_requests",
            "Requests by outcome",
            [*pm, "status", "cache_status", "stream"],
            registry=r,
        )
        self.duration = Histogram(
            "gateway_request_duration_seconds",
            "Whole request, until the last byte of a stream",
            pm,
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.upstream = Histogram(
            "gateway_upstream_duration_seconds",
            "Time spent waiting on providers, all attempts of a request",
            pm,
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.overhead = Histogram(
            "gateway_overhead_seconds",
            "Time spent in the gateway itself (x-gateway-overhead-ms)",
            ["stream"],
            buckets=OVERHEAD_BUCKETS,
            registry=r,
        )
        self.ttfb = Histogram(
            "gateway_ttfb_seconds",
            "Streams: time to the first chunk",
            pm,
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.tokens = Counter(
            "gateway_tokens", "Tokens by direction", [*pm, "direction", "estimated"], registry=r
        )
        self.cost = Counter("gateway_cost_usd", "Cost from the price table", pm, registry=r)
        self.cache_saved = Counter(
            "gateway_cache_saved_usd", "List price of answers served from cache", pm, registry=r
        )
        self.in_flight = Gauge(
            "gateway_in_flight_requests",
            "Requests being served",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.in_flight_streams = Gauge(
            "gateway_in_flight_streams",
            "Streams being relayed",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.retries = Counter(
            "gateway_retries", "Upstream attempts beyond the first", ["provider"], registry=r
        )
        self.fallbacks = Counter(
            "gateway_fallbacks", "Requests answered by a later target", ["provider"], registry=r
        )
        self.breaker = Gauge(
            "gateway_breaker_state",
            "Circuit breaker per target (config id:option index, or inline): 0 closed, "
            "1 half-open, 2 open",
            ["target"],
            registry=r,
            multiprocess_mode="livemax",
        )
        self.verdicts = Counter(
            "gateway_guardrail_verdicts",
            "Guardrail verdicts",
            ["guardrail", "verdict"],
            registry=r,
        )
        self.audit_dropped = Counter(
            "gateway_audit_dropped", "Audit records dropped (queue full or sink failed)", registry=r
        )
        genai = ("gen_ai_system", "gen_ai_request_model")
        self.genai_tokens = Histogram(
            "gen_ai_client_token_usage",
            "GenAI: input and output tokens per operation",
            [*genai, "gen_ai_token_type"],
            buckets=GENAI_TOKEN_BUCKETS,
            registry=r,
        )
        self.genai_duration = Histogram(
            "gen_ai_client_operation_duration_seconds",
            "GenAI: operation duration",
            [*genai, "gen_ai_operation_name", "error_type"],
            buckets=GENAI_DURATION_BUCKETS,
            registry=r,
        )
        self.genai_ttft = Histogram(
            "gen_ai_server_time_to_first_token_seconds",
            "GenAI: time to the first token of a stream",
            genai,
            buckets=GENAI_TTFT_BUCKETS,
            registry=r,
        )
        # the live gauges every request moves, looked up once
        self.requests_now = self.live(self.in_flight)
        self.streams_now = self.live(self.in_flight_streams)

    def child(self, metric: Any, *values: str) -> Any:
        """``metric.labels(*values)``, memoised: prometheus-client validates and locks on every
        ``labels()`` call (~4 µs); the label sets are bounded, so a dict lookup serves."""
        key = (id(metric), values)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*values)
        return found

    def tally(self, metric: Any, *values: str) -> Any:
        """A counter's or histogram's child as a tally (``tally.py``), memoised."""
        key = (id(metric), ("tally", *values))
        found = self._children.get(key)
        if found is None:
            child = metric.labels(*values) if values else metric
            found = HistogramTally(child) if isinstance(metric, Histogram) else CounterTally(child)
            self._children[key] = found
            self._tallies.append(found)
        return found

    def live(self, gauge: Any) -> GaugeTally:
        """A live gauge as a plain integer (``tally.py``), memoised."""
        key = (id(gauge), ("live",))
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = GaugeTally(gauge)
            self._tallies.append(found)
        return found

    def flush(self) -> None:
        """Hand everything counted since the last flush to prometheus-client."""
        for t in self._tallies:
            t.flush()

    def bundle(
        self, provider: str, model: str, status: str, cache: str, stream: str, error: str | None
    ) -> Bundle:
        """The children one finished request updates, memoised per label set."""
        key = (provider, model, status, cache, stream, error)
        found = self._bundles.get(key)
        if found is None:
            pm = (provider, model)
            found = self._bundles[key] = Bundle(
                requests=self.tally(self.requests, *pm, status, cache, stream),
                duration=self.tally(self.duration, *pm),
                genai_duration=self.tally(self.genai_duration, *pm, "chat", error or ""),
                upstream=self.tally(self.upstream, *pm),
                ttfb=self.tally(self.ttfb, *pm),
                genai_ttft=self.tally(self.genai_ttft, *pm),
                genai_in=self.tally(self.genai_tokens, *pm, "input"),
                genai_out=self.tally(self.genai_tokens, *pm, "output"),
                tokens=LazyTallies(lambda more: self.tally(self.tokens, *pm, *more)),
                cost=LazyTallies(lambda more: self.tally(self.cost, *pm, *more)),
            )
        return found

    def labels(self, provider: str | None, model: str | None) -> tuple[str, str]:
        """Bounded label values: past MAX_MODELS pairs, new models count as "other"."""
        pair = (provider or "none", model or "none")
        if pair in self._pairs:
            return pair
        if len(self._pairs) < MAX_MODELS:
            self._pairs.add(pair)
            return pair
        return pair[0], OTHER

    def set_breaker(self, config: str | None, index: str, state: str) -> None:
        """``target`` label: ``<config id>:<option index>`` for a settings config, and one
        ``inline`` series for every client's inline config (a client could otherwise mint
        a label per request). Past MAX_BREAKER_TARGETS labels, new ones read "other"."""
        value = BREAKER_STATES.get(state)
        if value is None:
            return
        target = INLINE if config is None else f"{config}:{index}"
        if target not in self._breakers:
            if len(self._breakers) >= MAX_BREAKER_TARGETS:
                target = OTHER
            self._breakers.add(target)
        self.child(self.breaker, target).set(value)

    def render(self) -> bytes:
        self.flush()
        if self.multiproc is None:
            return generate_latest(self.registry)
        fresh = CollectorRegistry()
        MultiProcessCollector(fresh, path=self.multiproc)  # type: ignore[no-untyped-call]
        return generate_latest(fresh)
