"""The embedded cache store: an in-process LRU bounded by bytes, with a TTL per entry.

The default backend: one process, no server. Entries cost their value, their key and a fixed
allowance for the bookkeeping; the least recently used go first when the budget is exceeded,
and an expired entry is dropped when it is next looked at (or pushed out by the LRU).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Protocol

ENTRY_OVERHEAD = 160  # bytes of dict slot, tuple and float per entry, roughly


class Store(Protocol):
    """What the cache middleware needs from a backend. Failures degrade, never raise."""

    name: str

    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, ttl: int) -> None: ...

    async def close(self) -> None: ...


class MemoryStore:
    name = "memory"

    def __init__(self, max_bytes: int, max_entry_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.max_entry_bytes = min(max_entry_bytes, max_bytes)
        self.size = 0
        self._data: OrderedDict[str, tuple[bytes, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._data)

    async def get(self, key: str) -> bytes | None:
        item = self._data.get(key)
        if item is None:
            return None
        if item[1] <= time.monotonic():
            self._drop(key)
            return None
        self._data.move_to_end(key)
        return item[0]

    async def set(self, key: str, value: bytes, ttl: int) -> None:
        cost = len(value) + len(key) + ENTRY_OVERHEAD
        if cost > self.max_entry_bytes or ttl <= 0:
            return
        if key in self._data:
            self._drop(key)
        self._data[key] = (value, time.monotonic() + ttl)
        self.size += cost
        while self.size > self.max_bytes:
            self._drop(next(iter(self._data)))

    def _drop(self, key: str) -> None:
        value, _ = self._data.pop(key)
        self.size -= len(value) + len(key) + ENTRY_OVERHEAD

    async def close(self) -> None:
        self._data.clear()
        self.size = 0
