"""The console's state in one worker: the ring of recent requests, the health stats, the
live viewers.

``record`` runs on the request path, once per request, from ``Observability.finish``: it
builds one ``Row`` of plain values, appends it to a bounded deque, adds to the health
buckets, and wakes the live feeds only if one is waiting. Nothing is encoded there; each
live feed reads the ring from its own cursor, coalesces what arrived, and encodes it in
its own task. A feed that falls behind by more than the ring skips what it missed (and
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


class Console:
    def __init__(self, settings: ConsoleSettings, workers: int = 1) -> None:
        self.settings = settings
        self.workers = workers
        self.pid = os.getpid()  # built in the worker itself (create_app runs after the fork)
        self.ring: deque[Entry] = deque(maxlen=settings.ring_size)
        self.seq = 0
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
        now = time.time()
        self.seq += 1
        usage = ctx.usage
        tokens = (
            (usage.prompt_tokens, usage.completion_tokens) if isinstance(usage, Usage) else None
        )
        latency = round(ctx.elapsed_ms(), 3)
        ttfb_ms = None if ttfb is None else round(ttfb * 1e3, 3)
        trail = ctx.trail
        hooks = ctx.hook_results
        row = Row(
            self.seq,
            now,
            ctx.request_id,
            cut(ctx.trace_id) or "",
            ctx.endpoint,
            status,
            latency,
            ctx.provider,
            cut(ctx.model),
            error,
            ctx.stream,
            ttfb_ms,
            None if tokens is None else tokens[0],
            None if tokens is None else tokens[1],
            ctx.usage_estimated,
            ctx.cost,
            ctx.cache_status,
            ctx.attempts,
            retries_of(trail) if trail else 0,
            ctx.response_headers.get(INDEX_HEADER),
            ctx.principal,
            verdict_of(hooks) if hooks else None,
        )
        request_body = answer_body = None
        if self.capture:
            limit = self.settings.body_limit
            request_body = self.masker.body(ctx.body.raw, limit)
            answer_body = self.masker.body(answer, limit)
        self.ring.append(Entry(row, trail, hooks, request_body, answer_body))
        stats = self.stats
        stats.request(
            now, ctx.provider or "(none)", status, latency, ttfb_ms, tokens, ctx.cost,
            ctx.cache_status,
        )  # fmt: skip
        for a in trail:
            ms = -1.0 if a.outcome == "circuit_open" else a.ms
            stats.attempt(now, f"{a.config}/{a.option}", a.provider, a.outcome == "ok", ms)
        changed = self._changed
        if changed is not None:
            self._changed = None
            changed.set()

    # ------------------------------------------------------------------ readers

    async def wait(self, cursor: int) -> None:
        """Until a request newer than ``cursor`` is recorded."""
        if self.seq != cursor:
            return
        if self._changed is None:
            self._changed = asyncio.Event()
        await self._changed.wait()

    def since(self, cursor: int, limit: int) -> tuple[list[Entry], int]:
        """Entries after ``cursor`` (the newest ``limit`` of them) and how many were skipped
        (overwritten in the ring, or past the limit)."""
        new = self.seq - cursor
        if new <= 0:
            return [], 0
        held = min(new, len(self.ring), limit)
        entries = list(itertools.islice(reversed(self.ring), held))
        entries.reverse()
        return entries, new - held

    def newest(self) -> Iterator[Entry]:
        found: Iterator[Entry] = reversed(self.ring)  # typeshed's reversed() is Any here
        return found

    def find(self, request_id: str) -> Entry | None:
        for entry in self.newest():
            if entry.row.id == request_id:
                return entry
        return None

    def info(self) -> dict[str, Any]:
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
