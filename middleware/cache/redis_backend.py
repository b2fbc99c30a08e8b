"""The shared cache store: Redis (redis-py asyncio), so every replica sees the same entries.

Entries are plain keys with ``EX max_age``; semantic vectors live in one hash per bucket. A
Redis that is down or slow must never fail a request: every call has short socket timeouts
and no retries, a failure is logged (once per back-off period) and reads as a miss, and for a
second after a failure the store is not asked at all, so an outage costs nothing per request.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import redis.asyncio as aioredis
import structlog
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

T = TypeVar("T")

BACKOFF_SECONDS = 1.0


class RedisStore:
    name = "redis"

    def __init__(self, url: str, prefix: str, timeout: float) -> None:
        self.prefix = prefix
        parts = urlsplit(url)
        self.where = f"{parts.hostname}:{parts.port or 6379}"  # for logs: never the password
        self.client: aioredis.Redis = aioredis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            retry_on_timeout=False,
            health_check_interval=0,
        )
        self.log = structlog.get_logger("gateway.cache")
        self._down_until = 0.0
        self._down = False

    async def _call(self, op: str, awaitable: Awaitable[T]) -> T | None:
        try:
            result = await awaitable
        except (RedisError, OSError, TimeoutError) as exc:
            now = time.monotonic()
            if not self._down:
                self.log.warning(
                    "cache backend unavailable",
                    backend="redis",
                    at=self.where,
                    op=op,
                    error=type(exc).__name__,
                )
            self._down = True
            self._down_until = now + BACKOFF_SECONDS
            return None
        if self._down:
            self._down = False
            self.log.info("cache backend reachable again", backend="redis", at=self.where)
        return result

    def available(self) -> bool:
        return not self._down or time.monotonic() >= self._down_until

    async def get(self, key: str) -> bytes | None:
        if not self.available():
            return None
        value: Any = await self._call("get", self.client.get(self.prefix + "e:" + key))
        return value if isinstance(value, bytes) else None

    async def set(self, key: str, value: bytes, ttl: int) -> None:
        if ttl > 0 and self.available():
            await self._call("set", self.client.set(self.prefix + "e:" + key, value, ex=ttl))

    # semantic vectors: one hash per bucket, field = exact key, value = float32 bytes

    async def vec_add(self, bucket: str, key: str, vector: bytes, ttl: int, limit: int) -> None:
        if ttl <= 0 or not self.available():
            return
        name = self.prefix + "v:" + bucket
        size = await self._call("hlen", self.client.hlen(name))
        if size is None or size >= limit:
            return
        pipe = self.client.pipeline(transaction=False)
        pipe.hset(name, key, vector)
        pipe.expire(name, ttl)  # the bucket lives as long as its newest entry
        await self._call("hset", pipe.execute())

    async def vec_all(self, bucket: str) -> dict[str, bytes]:
        if not self.available():
            return {}
        found: Any = await self._call("hgetall", self.client.hgetall(self.prefix + "v:" + bucket))
        if not found:
            return {}
        return {k.decode(): v for k, v in found.items()}

    async def vec_drop(self, bucket: str, key: str) -> None:
        if self.available():
            await self._call("hdel", self.client.hdel(self.prefix + "v:" + bucket, key))

    async def close(self) -> None:
        await self.client.aclose()
