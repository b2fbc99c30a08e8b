"""Bounded caches for state that clients can key: a guardrail in an inline config names its
own JWKS URL and its own hosts, so every such table is an LRU with a fixed size."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Lru(Generic[K, V]):
    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[K, V] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: K) -> V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def setdefault(self, key: K, make: Callable[[], V]) -> V:
        value = self.get(key)
        if value is None:
            value = make()
            self.put(key, value)
        return value


class TtlLru(Generic[K, V]):
    """An LRU whose entries also expire."""

    def __init__(self, size: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._lru: Lru[K, tuple[float, V]] = Lru(size)
        self.clock = clock

    def __len__(self) -> int:
        return len(self._lru)

    def get(self, key: K) -> V | None:
        found = self._lru.get(key)
        if found is None or found[0] <= self.clock():
            return None
        return found[1]

    def put(self, key: K, value: V, ttl: float) -> None:
        self._lru.put(key, (self.clock() + ttl, value))


class JwksEntry:
    """One JWKS URL: the lock that makes concurrent checks fetch it once, and the keys."""

    __slots__ = ("fetched_at", "jwks", "lock")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.fetched_at = 0.0
        self.jwks: dict[str, Any] | None = None
