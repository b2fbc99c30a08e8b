"""Fixtures for the quota tests: a limiter of each kind on its own counters."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import redis

from proxy.quota.limiter import Limiter
from proxy.quota.memory import MemoryLimiter

REDIS_DB = 13  # the quota tests' own db on the shared Redis
WINDOW_MS = 1000  # long enough that a loaded machine cannot blur the slide
LEASE_MS = 600


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[tuple[str, str]]:
    """(url, prefix) of a key space of its own, deleted afterwards."""
    url = f"{redis_url}/{REDIS_DB}"
    prefix = f"test-quota:{uuid.uuid4().hex[:12]}:"
    yield url, prefix
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=prefix + "*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(params=["memory", "redis"])
async def limiter(request: pytest.FixtureRequest) -> AsyncIterator[Limiter]:
    """The same semantics suite runs against both limiters."""
    if request.param == "memory":
        yield MemoryLimiter(WINDOW_MS, LEASE_MS)
        return
    from proxy.quota.redis_lua import RedisLimiter

    url, prefix = request.getfixturevalue("redis_prefix")
    lim = RedisLimiter(url, prefix, 5.0, WINDOW_MS, LEASE_MS)  # exactness, not latency
    yield lim
    await lim.close()
