"""Health numbers for the console: per provider and per config target, in 10-second buckets.

Each finished request adds to the current bucket of its provider's series (and each router
attempt to its target's): counts, errors, tokens, cost, cache lookups, and latency and TTFB
as log-scale histograms (4 bins per octave), so p50/p95 over any window are read from summed
bins (within about 9%) and buckets of several workers could be merged by adding them. Memory
is bounded: 30 buckets (5 minutes) per series and at most ``MAX_SERIES`` series per kind;
past it new names count as "other" (target names come from clients' inline configs).
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

BUCKET_S = 10
BUCKETS = 30  # five minutes of history
MAX_SERIES = 200
_BINS_PER_OCTAVE = 4
_BASE_MS = 0.25
_NBINS = 100  # 0.25 ms * 2**(99/4): past 10 minutes


def bin_of(ms: float) -> int:
    if ms <= _BASE_MS:
        return 0
    return min(_NBINS - 1, int(math.log2(ms / _BASE_MS) * _BINS_PER_OCTAVE) + 1)


def bin_value(b: int) -> float:
    """The geometric middle of a bin, in ms."""
    if b == 0:
        return _BASE_MS
    return _BASE_MS * 2 ** ((b - 0.5) / _BINS_PER_OCTAVE)


def quantile(hist: dict[int, int], q: float) -> float | None:
    total = sum(hist.values())
    if not total:
        return None
    rank = q * total
    seen = 0
    for b in sorted(hist):
        seen += hist[b]
        if seen >= rank:
            return round(bin_value(b), 3)
    return round(bin_value(max(hist)), 3)  # pragma: no cover - rank <= total


class Bucket:
    __slots__ = (
        "cache_hits", "cache_lookups", "cost", "errors", "lat", "n", "t", "tok_in", "tok_out",
        "ttfb",
    )  # fmt: skip

    def __init__(self, t: int) -> None:
        self.t = t  # start, in seconds since the epoch
        self.n = 0
        self.errors = 0
        self.cache_hits = 0
        self.cache_lookups = 0
        self.tok_in = 0
        self.tok_out = 0
        self.cost = 0.0
        self.lat: dict[int, int] = {}
        self.ttfb: dict[int, int] = {}


class Series:
    __slots__ = ("breaker", "buckets", "provider")

    def __init__(self, provider: str | None = None) -> None:
        self.buckets: deque[Bucket] = deque(maxlen=BUCKETS)
        self.provider = provider
        self.breaker: str | None = None  # target series: last state seen by the router

    def at(self, t: int) -> Bucket:
        buckets = self.buckets
        if buckets and buckets[-1].t == t:
            return buckets[-1]
        b = Bucket(t)
        buckets.append(b)
        return b


class Stats:
    def __init__(self) -> None:
        self.providers: dict[str, Series] = {}
        self.targets: dict[str, Series] = {}

    @staticmethod
    def _series(table: dict[str, Series], name: str, provider: str | None = None) -> Series:
        s = table.get(name)
        if s is None:
            if len(table) >= MAX_SERIES:
                name = "other"
                s = table.get(name)
            if s is None:
                s = table[name] = Series(provider)
        return s

    def request(
        self,
        now: float,
        provider: str,
        status: int,
        latency_ms: float,
        ttfb_ms: float | None,
        tokens: tuple[int, int] | None,
        cost: float | None,
        cache: str | None,
    ) -> None:
        b = self._series(self.providers, provider).at(int(now) // BUCKET_S * BUCKET_S)
        b.n += 1
        if status >= 400:
            b.errors += 1
        k = bin_of(latency_ms)
        b.lat[k] = b.lat.get(k, 0) + 1
        if ttfb_ms is not None:
            k = bin_of(ttfb_ms)
            b.ttfb[k] = b.ttfb.get(k, 0) + 1
        if tokens is not None:
            b.tok_in += tokens[0]
            b.tok_out += tokens[1]
        if cost:
            b.cost += cost
        if cache is not None and cache != "DISABLED":
            b.cache_lookups += 1
            if cache.endswith("HIT"):
                b.cache_hits += 1

    def attempt(self, now: float, target: str, provider: str | None, ok: bool, ms: float) -> None:
        """One router step: a call (``ok`` or not) or a skip (``ms`` < 0: circuit open)."""
        s = self._series(self.targets, target, provider)
        if ms < 0:
            s.breaker = "open"
            return
        s.breaker = "closed"  # let through
        b = s.at(int(now) // BUCKET_S * BUCKET_S)
        b.n += 1
        if not ok:
            b.errors += 1
        k = bin_of(ms)
        b.lat[k] = b.lat.get(k, 0) + 1

    def snapshot(self, now: float, window_s: int) -> dict[str, Any]:
        end = int(now) // BUCKET_S * BUCKET_S
        start = end - (min(window_s, BUCKETS * BUCKET_S) // BUCKET_S - 1) * BUCKET_S
        return {
            "bucket_s": BUCKET_S,
            "start": start,
            "end": end + BUCKET_S,
            "providers": {k: _describe(s, start, end) for k, s in sorted(self.providers.items())},
            "targets": {k: _describe(s, start, end) for k, s in sorted(self.targets.items())},
        }


def _describe(s: Series, start: int, end: int) -> dict[str, Any]:
    by_t = {b.t: b for b in s.buckets if start <= b.t <= end}
    points: list[list[Any]] = []
    lat: dict[int, int] = {}
    ttfb: dict[int, int] = {}
    n = errors = hits = lookups = tok_in = tok_out = 0
    cost = 0.0
    for t in range(start, end + 1, BUCKET_S):
        b = by_t.get(t)
        if b is None:
            points.append([t, 0, 0, None, None, None])
            continue
        points.append(
            [t, b.n, b.errors, quantile(b.lat, 0.5), quantile(b.lat, 0.95), quantile(b.ttfb, 0.5)]
        )
        n += b.n
        errors += b.errors
        hits += b.cache_hits
        lookups += b.cache_lookups
        tok_in += b.tok_in
        tok_out += b.tok_out
        cost += b.cost
        for k, v in b.lat.items():
            lat[k] = lat.get(k, 0) + v
        for k, v in b.ttfb.items():
            ttfb[k] = ttfb.get(k, 0) + v
    seconds = end + BUCKET_S - start
    return {
        "provider": s.provider,
        "breaker": s.breaker,
        # [bucket start, requests, errors, p50 ms, p95 ms, TTFB p50 ms]
        "points": points,
        "requests": n,
        "rps": round(n / seconds, 3),
        "error_rate": round(errors / n, 4) if n else None,
        "p50_ms": quantile(lat, 0.5),
        "p95_ms": quantile(lat, 0.95),
        "ttfb_p50_ms": quantile(ttfb, 0.5),
        "ttfb_p95_ms": quantile(ttfb, 0.95),
        "tokens_in": tok_in,
        "tokens_out": tok_out,
        "cost_usd": round(cost, 8),
        "cache_hit_ratio": round(hits / lookups, 4) if lookups else None,
    }
