"""Semantic matching: embed the request's text and find the nearest stored entry.

Vectors are kept per bucket (same destination, model, parameters and earlier turns; see
``key.semantic_key``) and compared by cosine similarity: every vector is stored normalised,
so one matrix product scores a whole bucket. In memory they live in numpy arrays; with Redis,
in one hash per bucket that is read whole and scanned (linear in the bucket's size, which is
bounded by ``max_vectors_per_bucket``). A vector points at an exact entry; if that entry has
expired or been evicted the match counts as a miss and the vector is dropped.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt
import structlog

from proxy.errors import GatewayError
from proxy.routing.resolve import settings_target, slug_target
from proxy.target import Target
from proxy.terminal.embeddings import embed_texts

if TYPE_CHECKING:
    from middleware.cache.redis_backend import RedisStore
    from proxy.gateway import Gateway

Vector = npt.NDArray[np.float32]
EMBED_BACKOFF_SECONDS = 5.0


def normalise(values: list[float]) -> Vector | None:
    vec = np.asarray(values, dtype=np.float32)
    norm = float(np.linalg.norm(vec))
    if vec.ndim != 1 or not vec.size or norm == 0.0 or not np.isfinite(norm):
        return None
    return vec / norm


class VectorIndex(Protocol):
    async def add(self, bucket: str, key: str, vec: Vector, ttl: int) -> None: ...

    async def nearest(self, bucket: str, vec: Vector) -> tuple[str, float] | None: ...

    async def drop(self, bucket: str, key: str) -> None: ...


class _Bucket:
    __slots__ = ("_matrix", "expires", "keys", "rows")

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.rows: list[Vector] = []
        self.expires: list[float] = []
        self._matrix: Vector | None = None

    def matrix(self) -> Vector:
        if self._matrix is None:  # stacked lazily: adds are cheap, searches reuse it
            self._matrix = np.vstack(self.rows)
        return self._matrix

    def remove(self, i: int) -> None:
        del self.keys[i], self.rows[i], self.expires[i]
        self._matrix = None

    def append(self, key: str, vec: Vector, expires: float) -> None:
        if key in self.keys:
            self.remove(self.keys.index(key))
        self.keys.append(key)
        self.rows.append(vec)
        self.expires.append(expires)
        self._matrix = None


class MemoryIndex:
    """numpy vectors in process, at most ``max_vectors`` of them (oldest buckets go first)."""

    def __init__(self, max_vectors: int, per_bucket: int) -> None:
        self.max_vectors = max_vectors
        self.per_bucket = per_bucket
        self.count = 0
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    async def add(self, bucket: str, key: str, vec: Vector, ttl: int) -> None:
        b = self._buckets.get(bucket)
        if b is None:
            b = self._buckets[bucket] = _Bucket()
        self._buckets.move_to_end(bucket)
        before = len(b.keys)
        b.append(key, vec, time.monotonic() + ttl)
        if len(b.keys) > self.per_bucket:
            b.remove(0)
        self.count += len(b.keys) - before
        while self.count > self.max_vectors:
            oldest = next(iter(self._buckets.values()))
            oldest.remove(0)
            self.count -= 1
            if not oldest.keys:
                self._buckets.popitem(last=False)

    async def nearest(self, bucket: str, vec: Vector) -> tuple[str, float] | None:
        b = self._buckets.get(bucket)
        if b is None:
            return None
        now = time.monotonic()
        for i in range(len(b.keys) - 1, -1, -1):
            if b.expires[i] <= now:
                b.remove(i)
                self.count -= 1
        if not b.keys:
            del self._buckets[bucket]
            return None
        m = b.matrix()
        if m.shape[1] != vec.shape[0]:
            return None  # another embedding model filled this bucket
        scores = m @ vec
        i = int(np.argmax(scores))
        return b.keys[i], float(scores[i])

    async def drop(self, bucket: str, key: str) -> None:
        b = self._buckets.get(bucket)
        if b is not None and key in b.keys:
            b.remove(b.keys.index(key))
            self.count -= 1


class RedisIndex:
    """Vectors in Redis (float32 bytes in a hash per bucket), scanned with numpy."""

    def __init__(self, store: RedisStore, per_bucket: int) -> None:
        self.store = store
        self.per_bucket = per_bucket

    async def add(self, bucket: str, key: str, vec: Vector, ttl: int) -> None:
        data = vec.astype(np.float32).tobytes()
        await self.store.vec_add(bucket, key, data, ttl, self.per_bucket)

    async def nearest(self, bucket: str, vec: Vector) -> tuple[str, float] | None:
        found = await self.store.vec_all(bucket)
        width = vec.shape[0] * 4
        keys = [k for k, v in found.items() if len(v) == width]
        if not keys:
            return None
        m = np.frombuffer(b"".join(found[k] for k in keys), dtype=np.float32)
        scores = m.reshape(len(keys), vec.shape[0]) @ vec
        i = int(np.argmax(scores))
        return keys[i], float(scores[i])

    async def drop(self, bucket: str, key: str) -> None:
        await self.store.vec_drop(bucket, key)


class Embedder:
    """Embeds text through the gateway's own embeddings path (adapters, pooled session)."""

    def __init__(
        self,
        *,
        slug: str | None,
        provider: str,
        base_url: str | None,
        api_key: str | None,
        model: str,
        timeout: float,
    ) -> None:
        self.slug = slug
        self.provider = provider
        self.base_url = base_url
        self.api_key = api_key
        self.model = model
        self.timeout = timeout
        self.gw: Gateway | None = None
        self.target: Target | None = None
        self.log = structlog.get_logger("gateway.cache")
        self._skip_until = 0.0

    def startup(self, gw: Gateway) -> None:
        self.gw = gw
        if self.slug is not None:
            self.target = slug_target(self.slug, gw, {})
        else:  # the middleware's options: the operator's
            self.target = settings_target(
                provider=self.provider, api_key=self.api_key, custom_host=self.base_url
            )

    async def embed(self, text: str) -> Vector | None:
        """The normalised vector, or None (logged) when the embeddings call fails."""
        assert self.gw is not None and self.target is not None, "Embedder.startup not called"
        if time.monotonic() < self._skip_until:
            return None  # a failing embeddings provider must not slow every request down
        try:
            [values] = await embed_texts(self.gw, self.target, self.model, [text], self.timeout)
        except GatewayError as exc:
            self.log.warning(
                "semantic cache: embedding failed",
                provider=self.target.provider,
                status=exc.status,
                error_type=exc.type,
                code=exc.code,
            )
            self._skip_until = time.monotonic() + EMBED_BACKOFF_SECONDS
            return None
        return normalise(values)
