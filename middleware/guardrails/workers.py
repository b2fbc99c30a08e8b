"""The guardrails' own threads, for work too big for the event loop (long RE2 searches,
and backtracking ones with a timeout).

Small and bounded: a flood of heavy checks queues here, and past ``max_queued`` a check
fails at once, instead of piling into asyncio's default executor, whose threads also run
``getaddrinfo`` on asyncio's loop. The work handed over must release the GIL (RE2 and
``regex`` with ``concurrent=True`` do; jsonschema-rs does not), or the loop stalls anyway.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

THREADS = 4
MAX_QUEUED = 64


class NotChecked(Exception):
    """The work was not done (too big for its budget, or the pool is full): a check that
    meets this fails, since "not checked" is not "passed"."""


class WorkerPool:
    def __init__(self, threads: int = THREADS, max_queued: int = MAX_QUEUED) -> None:
        self.threads = threads
        self.max_queued = max_queued
        self.pending = 0  # touched on the event loop only
        self._executor: ThreadPoolExecutor | None = None

    async def run(self, fn: Callable[[], Any]) -> Any:
        if self.pending >= self.max_queued:
            raise NotChecked("too many heavy guardrail checks waiting")
        if self._executor is None:  # on first use: most gateways never need it
            self._executor = ThreadPoolExecutor(self.threads, thread_name_prefix="guardrails")
        self.pending += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn)
        finally:
            self.pending -= 1

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
