"""The ledger writer: rows queued on the request path, written in batches by one task.

``submit`` only appends to a bounded queue (no I/O on the request path). A task writes a
batch when it is full or every ``flush_interval``. A database that is down keeps the rows
queued (retried with back-off; past ``queue_size`` new rows are dropped with an error log);
one that cannot be opened at start-up (a read-only file system, PostgreSQL not yet up)
does not stop the gateway: it is retried. ``stop`` runs after the drain on SIGTERM and
writes everything still queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from typing import TYPE_CHECKING, Any

import structlog

from proxy.ledger.settings import LedgerSettings
from proxy.ledger.store import Row, Store, open_store
from proxy.observability.pricing import cached_tokens
from proxy.schema import Usage

if TYPE_CHECKING:
    from proxy.context import RequestContext

log = structlog.get_logger("gateway.ledger")
_RETRY_MAX = 10.0  # seconds between attempts while the database is down


def row_of(ctx: RequestContext, status: int, error: str | None) -> Row:
    usage: Any = ctx.usage
    u = usage if isinstance(usage, Usage) else None
    policy = ctx.policy
    return (
        time.time(),
        ctx.request_id,
        ctx.trace_id,
        policy.id if policy is not None else None,
        policy.name if policy is not None else ctx.principal,
        policy.team if policy is not None else None,
        ctx.provider,
        _model(ctx.model),
        ctx.endpoint,
        int(ctx.stream),
        status,
        error,
        u.prompt_tokens if u else 0,
        u.completion_tokens if u else 0,
        cached_tokens(u) if u else 0,
        ctx.cost or 0.0,
        round(ctx.elapsed_ms(), 3),
        int(ctx.usage_estimated),
    )


def _model(model: str | None) -> str | None:
    """The model without a ``@slug/`` (a request refused before routing still has it),
    bounded: it is a client's string."""
    if not model:
        return None
    if model.startswith("@"):
        model = model.partition("/")[2] or model
    return model[:256]


class LedgerWriter:
    def __init__(self, s: LedgerSettings, store: Store | None = None) -> None:
        assert s.url is not None
        self.settings = s
        self.store = store or open_store(s.url, s.table)
        self.rows: deque[Row] = deque()
        self.opened = False
        self.dropped = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._wait = 0.0

    def submit(self, row: Row) -> None:
        rows = self.rows
        if len(rows) >= self.settings.queue_size:
            # the newest is dropped: the oldest may be in a batch being written right now
            self.dropped += 1
            if self.dropped % 1000 == 1:
                log.error("ledger queue full: rows dropped", dropped=self.dropped)
            return
        rows.append(row)
        if len(rows) >= self.settings.batch_size:
            self._wake.set()

    async def start(self) -> None:
        await self._open()
        self._task = asyncio.create_task(self._run())

    async def _open(self) -> bool:
        if self.opened:
            return True
        try:
            await self.store.open()
        except Exception as exc:
            log.error(
                "ledger database unavailable; rows are kept and retried",
                at=self.store.where,
                error=f"{type(exc).__name__}: {exc}"[:300],
            )
            return False
        self.opened = True
        return True

    async def _run(self) -> None:
        interval = self.settings.flush_interval
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), interval + self._wait)
            self._wake.clear()
            if not await self.flush():
                self._wait = min(_RETRY_MAX, max(1.0, self._wait * 2))
            else:
                self._wait = 0.0

    async def flush(self) -> bool:
        """Write every queued row; False when the database failed (rows kept)."""
        if not await self._open():
            return False
        size = self.settings.batch_size
        while self.rows:
            batch = [self.rows[i] for i in range(min(size, len(self.rows)))]
            try:
                await self.store.insert(batch)
            except Exception as exc:
                log.error(
                    "ledger write failed; rows are kept and retried",
                    at=self.store.where,
                    rows=len(self.rows),
                    error=f"{type(exc).__name__}: {exc}"[:300],
                )
                return False
            for _ in batch:
                self.rows.popleft()
        return True

    async def stop(self) -> None:
        """Write what is queued (retrying for up to ``shutdown_timeout``), then close."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        deadline = time.monotonic() + self.settings.shutdown_timeout
        while True:
            if await self.flush() or time.monotonic() >= deadline:
                break
            await asyncio.sleep(0.5)
        if self.rows:
            log.error("ledger rows lost on shut-down", rows=len(self.rows))
        await self.store.close()
