"""Semantic matching: embed the request's text and find the nearest stored entry.

Vectors are kept per bucket (same destination, model, parameters and earlier turns; see
``key.semantic_key``) and compared by cosine similarity. In memory each bucket is an HNSW
graph (``vector_memory.MemoryIndex``: logarithmic lookups, bounded in count and bytes); with
Redis, one hash per bucket that is read whole and scanned with one matrix product (linear in
the bucket's size, which is bounded by ``max_vectors_per_bucket``). A vector points at an
exact entry; if that entry has expired or been evicted the match counts as a miss and the
vector is dropped.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt
import structlog

from middleware.cache.vector_memory import MemoryIndex
from proxy.errors import GatewayError
from proxy.routing.resolve import settings_target, slug_target
from proxy.target import Target
from proxy.terminal.embeddings import embed_texts

if TYPE_CHECKING:
    from middleware.cache.redis_backend import RedisStore
    from proxy.gateway import Gateway

Vector = npt.NDArray[np.float32]
__all__ = ["MemoryIndex", "RedisIndex", "normalise"]
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
