"""Metric updates counted in plain Python and handed to prometheus-client in batches.

prometheus-client takes a lock and walks the buckets on every ``inc`` and ``observe``: a
dozen of them per request cost more than the rest of the observability layer. A tally
adds to a float or one bucket slot (``bisect``) instead, and ``flush`` passes the sums on:
one ``inc`` per counter and per touched bucket for everything since the last flush. The
numbers a scrape reads are the same; flushes happen before every scrape, every second (so
``--workers`` files stay fresh) and at shut-down.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Any


class CounterTally:
    __slots__ = ("child", "n")

    def __init__(self, child: Any) -> None:
        self.child = child
        self.n = 0.0

    def inc(self, amount: float = 1.0) -> None:
        self.n += amount

    def flush(self) -> None:
        if self.n:
            n, self.n = self.n, 0.0
            self.child.inc(n)


class HistogramTally:
    """The child's buckets mirrored: slot i counts values <= bound i (the last: +Inf)."""

    __slots__ = ("bounds", "child", "counts", "sum")

    def __init__(self, child: Any) -> None:
        self.child = child
        self.bounds: list[float] = list(child._upper_bounds[:-1])  # the last bound is +Inf
        self.counts = [0] * (len(self.bounds) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value

    def flush(self) -> None:
        if not any(self.counts):  # nothing observed since the last flush
            return
        buckets = self.child._buckets
        for i, c in enumerate(self.counts):
            if c:
                buckets[i].inc(c)
                self.counts[i] = 0
        self.child._sum.inc(self.sum)
        self.sum = 0.0


class GaugeTally:
    """A live gauge (in-flight requests): a plain integer, set on the child at a flush."""

    __slots__ = ("child", "value")

    def __init__(self, child: Any) -> None:
        self.child = child
        self.value = 0

    def inc(self) -> None:
        self.value += 1

    def dec(self) -> None:
        self.value -= 1

    def flush(self) -> None:
        self.child.set(self.value)
