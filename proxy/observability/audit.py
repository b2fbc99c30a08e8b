"""Audit sink: one JSON record per request, to a rotated JSON-lines file or a webhook.

The request path only does ``put_nowait`` on a bounded queue; a background task batches the
records and writes them (file writes in one worker thread, webhook POSTs on their own
session, with a timeout). When the queue is full or a write fails, records are dropped and
counted (``gateway_audit_dropped_total``): a slow or failing sink never slows a request.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import aiohttp
import msgspec
import structlog

from proxy.observability.settings import AuditSettings

log = structlog.get_logger("gateway.audit")
_STOP = object()


def _encode(record: dict[str, Any]) -> bytes:
    ts = record.get("ts")
    if isinstance(ts, float):
        record["ts"] = datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")
    return msgspec.json.encode(record, enc_hook=str)


class RotatingFile:
    """Appends bytes; past ``max_bytes`` the file becomes ``.1`` (``.1`` -> ``.2`` ...)."""

    def __init__(self, path: str, max_bytes: int, backups: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.backups = backups
        self._fh: Any = None
        self._size = 0

    def write(self, data: bytes) -> None:
        if self._fh is None:
            self._fh = open(self.path, "ab")  # noqa: SIM115 - kept open across batches
            self._size = self._fh.tell()
        if self._size and self._size + len(data) > self.max_bytes:
            self._rotate()
        self._fh.write(data)
        self._fh.flush()
        self._size += len(data)

    def _rotate(self) -> None:
        self._fh.close()
        if self.backups > 0:
            for i in range(self.backups - 1, 0, -1):
                src = f"{self.path}.{i}"
                if os.path.exists(src):
                    os.replace(src, f"{self.path}.{i + 1}")
            os.replace(self.path, f"{self.path}.1")
        else:
            os.remove(self.path)
        self._fh = open(self.path, "ab")  # noqa: SIM115
        self._size = 0

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


class AuditSink:
    def __init__(self, s: AuditSettings, on_drop: Callable[[int], None] | None = None) -> None:
        self.s = s
        self.on_drop = on_drop
        self.dropped = 0
        self.written = 0
        self.queue: asyncio.Queue[Any] | None = None
        self._task: asyncio.Task[None] | None = None
        self._file = RotatingFile(s.file, s.max_bytes, s.backups) if s.file else None
        self._thread: ThreadPoolExecutor | None = None
        self._session: aiohttp.ClientSession | None = None

    def submit(self, record: dict[str, Any]) -> None:
        """Never blocks: a full (or not yet started) queue drops the record."""
        q = self.queue
        if q is None:
            self._drop(1)
            return
        try:
            q.put_nowait(record)
        except asyncio.QueueFull:
            self._drop(1)

    def _drop(self, n: int) -> None:
        self.dropped += n
        if self.on_drop is not None:
            self.on_drop(n)

    async def start(self) -> None:
        self.queue = asyncio.Queue(self.s.queue_size)
        if self._file is not None:
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="audit-file")
        if self.s.webhook:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.s.timeout)
            )
        self._task = asyncio.create_task(self._run(), name="audit-sink")

    async def stop(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Flush what is queued (bounded by ``timeout``), then close."""
        if self._task is not None and self.queue is not None:
            try:
                async with asyncio.timeout(timeout):
                    await self.queue.put(_STOP)
                    await self._task
            except TimeoutError:
                self._task.cancel()
        self.queue = None
        if self._session is not None:
            await self._session.close()
        if self._thread is not None:
            self._thread.submit(self._file.close if self._file else lambda: None)
            self._thread.shutdown(wait=True)

    async def _run(self) -> None:
        q = self.queue
        assert q is not None
        loop = asyncio.get_running_loop()
        stopping = False
        while not stopping:
            item = await q.get()
            if item is _STOP:
                return
            batch = [item]
            deadline = loop.time() + self.s.flush_interval
            while len(batch) < self.s.batch_size:
                try:
                    item = q.get_nowait()
                except asyncio.QueueEmpty:
                    left = deadline - loop.time()
                    if left <= 0:
                        break
                    try:
                        item = await asyncio.wait_for(q.get(), left)
                    except TimeoutError:
                        break
                if item is _STOP:
                    stopping = True
                    break
                batch.append(item)
            await self._write(batch)

    async def _write(self, batch: list[dict[str, Any]]) -> None:
        lines = [_encode(r) for r in batch]
        ok = True
        if self._file is not None and self._thread is not None:
            data = b"\n".join(lines) + b"\n"
            loop = asyncio.get_running_loop()
            try:
                await loop.run_in_executor(self._thread, self._file.write, data)
            except OSError as exc:
                ok = False
                log.warning("audit file write failed", error=str(exc))
        if self._session is not None and self.s.webhook:
            body = b"[" + b",".join(lines) + b"]"
            headers = {"content-type": "application/json", **self.s.webhook_headers}
            try:
                async with self._session.post(self.s.webhook, data=body, headers=headers) as r:
                    if r.status >= 300:
                        ok = False
                        log.warning("audit webhook refused a batch", status=r.status)
            except (aiohttp.ClientError, TimeoutError) as exc:
                ok = False
                log.warning("audit webhook failed", error=type(exc).__name__)
        if ok:
            self.written += len(batch)
        else:
            self._drop(len(batch))
