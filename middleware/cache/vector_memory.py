"""The semantic cache's in-process vector index: one HNSW graph per bucket (usearch).

A linear scan of a bucket costs its whole matrix on every lookup (100k x 1536 float32 is
614 MB of memory traffic); an HNSW graph finds the nearest entry in a few hundred
microseconds and takes one vector in about as long. Vectors are stored as int8 for cosine
similarity, so a score is approximate to about one hundredth — enough to compare against a
threshold like 0.95 (docs/caching.md). usearch holds the GIL while it works, so a thread
would not keep the loop free; each operation is bounded instead (logarithmic in the bucket).

Bounds: ``max_vectors`` in all, ``per_bucket`` per bucket, ``max_bytes`` of vector memory
(``vector_bytes`` each); the oldest vector goes first. Membership and eviction are
dictionary operations.
"""

from __future__ import annotations

import time
from collections import OrderedDict

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float32]


def _new_index(ndim: int) -> object:
    from usearch.index import Index  # numpy-only deployments never load it

    return Index(
        ndim=ndim, metric="cos", dtype="i8", connectivity=16, expansion_add=32, expansion_search=96
    )


def vector_bytes(ndim: int) -> int:
    """What one vector costs in a graph: int8 components, two levels' worth of neighbour
    links (connectivity 16, 8-byte labels) and bookkeeping. Counted per vector, because the
    index's own figure includes capacity reserved ahead (megabytes for a one-entry bucket)."""
    return ndim + 2 * 16 * 8 + 64


class _Bucket:
    __slots__ = ("expires", "index", "labels", "ndim", "order")

    def __init__(self, ndim: int) -> None:
        self.ndim = ndim
        self.index: object = _new_index(ndim)
        self.labels: dict[str, int] = {}  # entry key -> graph label
        self.expires: dict[int, tuple[str, float]] = {}  # label -> (key, expiry)
        self.order: OrderedDict[str, None] = OrderedDict()  # oldest first


class MemoryIndex:
    """Vectors in process, one graph per bucket, bounded in count and bytes."""

    def __init__(self, max_vectors: int, per_bucket: int, max_bytes: int = 1 << 30) -> None:
        self.max_vectors = max_vectors
        self.per_bucket = per_bucket
        self.max_bytes = max_bytes
        self.count = 0
        self.bytes = 0
        self._next = 0
        self._buckets: dict[str, _Bucket] = {}
        self._order: OrderedDict[tuple[str, str], None] = (
            OrderedDict()
        )  # every vector, oldest first

    async def add(self, bucket: str, key: str, vec: Vector, ttl: int) -> None:
        b = self._buckets.get(bucket)
        if b is None or b.ndim != vec.shape[0]:  # a new bucket, or another embedding model
            if b is not None:
                self._drop_bucket(bucket)
            b = self._buckets[bucket] = _Bucket(vec.shape[0])
        if key in b.labels:
            self._remove(bucket, b, key)
        label = self._next
        self._next += 1
        b.index.add(label, vec)  # type: ignore[attr-defined]
        b.labels[key] = label
        b.expires[label] = (key, time.monotonic() + ttl)
        b.order[key] = None
        self._order[(bucket, key)] = None
        self.count += 1
        self.bytes += vector_bytes(b.ndim)
        while len(b.labels) > self.per_bucket:
            self._remove(bucket, b, next(iter(b.order)))
        while self._order and (self.count > self.max_vectors or self.bytes > self.max_bytes):
            old_bucket, old_key = next(iter(self._order))
            self._remove(old_bucket, self._buckets[old_bucket], old_key)

    async def nearest(self, bucket: str, vec: Vector) -> tuple[str, float] | None:
        b = self._buckets.get(bucket)
        if b is None or b.ndim != vec.shape[0] or not b.labels:
            return None
        now = time.monotonic()
        for _ in range(3):  # expired entries found are removed, then the search is redone
            found = b.index.search(vec, 4)  # type: ignore[attr-defined]
            stale = False
            for label, distance in zip(found.keys, found.distances, strict=True):
                key, expires = b.expires.get(int(label), ("", 0.0))
                if not key:
                    continue
                if expires <= now:
                    self._remove(bucket, b, key)
                    stale = True
                    continue
                return key, 1.0 - float(distance)
            if not stale or not b.labels:
                return None
        return None

    async def drop(self, bucket: str, key: str) -> None:
        b = self._buckets.get(bucket)
        if b is not None and key in b.labels:
            self._remove(bucket, b, key)

    def _remove(self, bucket: str, b: _Bucket, key: str) -> None:
        label = b.labels.pop(key)
        b.expires.pop(label, None)
        b.order.pop(key, None)
        self._order.pop((bucket, key), None)
        b.index.remove(label)  # type: ignore[attr-defined]
        self.count -= 1
        self.bytes -= vector_bytes(b.ndim)
        if not b.labels:
            del self._buckets[bucket]

    def _drop_bucket(self, bucket: str) -> None:
        b = self._buckets.pop(bucket)
        for key in b.order:
            self._order.pop((bucket, key), None)
        self.count -= len(b.labels)
        self.bytes -= len(b.labels) * vector_bytes(b.ndim)
