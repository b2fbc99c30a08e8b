"""The console's state in one worker: the ring of recent requests, the health stats, the
live viewers.

``record`` runs on the request path, once per request, from ``Observability.finish``: it
keeps the request's values in one tuple and wakes the live feeds only if one is waiting.
Every ``FOLD_BATCH`` requests, or when anyone reads, ``fold`` turns the batch into ``Row``s
in a bounded deque and adds them to the health buckets. Nothing is encoded on the request
path; each live feed reads the ring from its own cursor, coalesces what arrived, and
encodes it in its own task. A feed that falls behind by more than the ring skips what it missed (and
says how many), so no viewer can make the gateway hold more than the ring.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from proxy.console.record import MAX_FIELD, Entry, Masker, Row, cut, retries_of, verdict_of
from proxy.console.stats import Stats
from proxy.schema import Usage

if TYPE_CHECKING:
    from proxy.context import RequestContext
    from proxy.settings import ConsoleSettings

INDEX_HEADER = "x-portkey-last-used-option-index"
FOLD_BATCH = 64


class Console:
    def __init__(self, settings: ConsoleSettings, workers: int = 1) -> None:
        self.settings = settings
        self.workers = workers
        self.pid = os.getpid()  # built in the worker itself (create_app runs after the fork)
        self.ring: deque[Entry] = deque(maxlen=settings.ring_size)
        self.seq = 0  # requests folded into the ring
        # recorded, not yet folded: at most FOLD_BATCH tuples of plain values
        self.pending: list[tuple[Any, ...]] = []
        self.stats = Stats()
        self.viewers = 0
        self._changed: asyncio.Event | None = None  # exists only while a feed waits
        self._masker: Masker | None = None
        self.capture = settings.capture_bodies
        self.fed = False  # the observability middleware is in a chain (set by the app)

    @property
    def masker(self) -> Masker:
        if self._masker is None:
            self._masker = Masker()
        return self._masker

    # ------------------------------------------------------------------ request path

    def record(
        self,
        ctx: RequestContext,
        status: int,
        error: str | None,
        ttfb: float | None,
        answer: bytes | str | None = None,
    ) -> None:
        """Keep the request's values (one tuple: no rounding, cutting or stats here); they
        become a row when a batch is folded, by a reader or every ``FOLD_BATCH`` requests."""
        request_body = answer_body = None
        if self.capture:  # masked before it is kept at all
            limit = self.settings.body_limit
            request_body = self.masker.body(ctx.body.raw, limit)
            answer_body = self.masker.body(answer, limit)
        pending = self.pending
        pending.append(
            (
                time.time(), ctx.request_id, ctx.trace_id, ctx.endpoint, status,
                time.perf_counter() - ctx.start, ctx.provider, ctx.model, error, ctx.stream,
                ttfb, ctx.usage, ctx.usage_estimated, ctx.cost, ctx.cache_status, ctx.attempts,
                ctx.trail, ctx.response_headers.get(INDEX_HEADER), ctx.principal,
                ctx.hook_results,
                request_body, answer_body,
            )
        )  # fmt: skip
        if len(pending) >= FOLD_BATCH:
            self.fold()
        changed = self._changed
        if changed is not None:  # a live feed waits: wake it (it folds and encodes)
            self._changed = None
            changed.set()

    def fold(self) -> None:
        """Turn what was recorded into rows in the ring and counts in the health buckets.
        One tight loop per batch costs less than the same work spread over requests."""
        pending = self.pending
        if not pending:
            return
        self.pending = []
        ring, stats, seq = self.ring, self.stats, self.seq
        for (now, rid, trace, endpoint, status, latency, provider, model, error, stream, ttfb,
             usage, estimated, cost, cache, attempts, trail, index, principal, hooks,
             request_body, answer_body) in pending:  # fmt: skip
            seq += 1
            tokens = (
                (usage.prompt_tokens, usage.completion_tokens) if isinstance(usage, Usage) else None
            )
            latency = round(latency * 1e3, 3)  # seconds -> ms
            ttfb_ms = None if ttfb is None else round(ttfb * 1e3, 3)
            row = Row(
                seq, now, rid, cut(trace) or "", endpoint, status, latency, provider, cut(model),
                error, stream, ttfb_ms,
                None if tokens is None else tokens[0], None if tokens is None else tokens[1],
                estimated, cost, cache, attempts, retries_of(trail) if trail else 0, index,
                principal, verdict_of(hooks) if hooks else None,
            )  # fmt: skip
            # an empty list would be one more object for the collector to track per entry
            ring.append(Entry(row, trail or (), hooks or (), request_body, answer_body))
            stats.request(now, provider or "(none)", status, latency, ttfb_ms, tokens, cost, cache)
            for a in trail:
                ms = -1.0 if a.outcome == "circuit_open" else a.ms
                stats.attempt(now, f"{a.config}/{a.option}", a.provider, a.outcome == "ok", ms)
        self.seq = seq

    # ------------------------------------------------------------------ readers (fold first)

    async def wait(self, cursor: int) -> None:
        """Until a request newer than ``cursor`` is recorded."""
        if self.pending or self.seq != cursor:
            return
        if self._changed is None:
            self._changed = asyncio.Event()
        await self._changed.wait()

    def since(self, cursor: int, limit: int) -> tuple[list[Entry], int]:
        """Entries after ``cursor`` (the newest ``limit`` of them) and how many were skipped
        (overwritten in the ring, or past the limit)."""
        self.fold()
        new = self.seq - cursor
        if new <= 0:
            return [], 0
        held = min(new, len(self.ring), limit)
        entries = list(itertools.islice(reversed(self.ring), held))
        entries.reverse()
        return entries, new - held

    def newest(self) -> Iterator[Entry]:
        self.fold()
        found: Iterator[Entry] = reversed(self.ring)  # typeshed's reversed() is Any here
        return found

    def find(self, request_id: str) -> Entry | None:
        for entry in self.newest():
            if entry.row.id == request_id:
                return entry
        return None

    def health(self, now: float, window_s: int) -> dict[str, Any]:
        self.fold()
        return self.stats.snapshot(now, window_s)

    def info(self) -> dict[str, Any]:
        self.fold()
        return {
            "pid": self.pid,
            "workers": self.workers,
            "ring_size": self.settings.ring_size,
            "held": len(self.ring),
            "recorded": self.seq,
            "viewers": self.viewers,
            "capture_bodies": self.capture,
            "body_limit": self.settings.body_limit,
            "fed": self.fed,
            "max_field": MAX_FIELD,
        }
