"""One way to open the Redis client of a feature that must not stall requests.

Short timeouts, no retries (the caller decides what an outage means), and a
blocking pool: under a burst, requests wait briefly for a connection instead of failing
(redis-py's default pool raises past 100 connections).
"""

from __future__ import annotations

from typing import Any

POOL_SIZE = 64


def make_client(url: str, timeout: float, connect_timeout: float | None = None) -> Any:
    """``timeout``: per call; ``connect_timeout`` (default: the same) to open a connection:
    a dead host is found out fast, while a busy event loop reading a live one is not
    mistaken for an outage."""
    import redis.asyncio as aioredis  # optional dependency: the `redis` extra
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=POOL_SIZE,
        timeout=max(1.0, timeout * 4),  # waiting for a free connection
        socket_timeout=timeout,
        socket_connect_timeout=connect_timeout or timeout,
        retry=Retry(NoBackoff(), 0),
        retry_on_timeout=False,
        health_check_interval=0,
    )
    return aioredis.Redis(connection_pool=pool)
