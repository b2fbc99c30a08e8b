"""Fixtures for the cache tests: an embeddings mock, cache-enabled gateway settings."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from tests.cache.mock_embeddings import MockEmbeddings
from tests.servers import ServerThread


@pytest.fixture
def mock_embeddings() -> Iterator[tuple[MockEmbeddings, ServerThread]]:
    mock = MockEmbeddings()
    with ServerThread(mock.app) as server:
        yield mock, server


def chain(cache: dict[str, Any] | None = None, auth: dict[str, Any] | None = None) -> list[Any]:
    """The default chain with options for the cache (and auth)."""
    return [
        {"class": "middleware.auth:AuthMiddleware", "options": auth or {"keys_env": ""}},
        {"class": "middleware.logging:LoggingMiddleware"},
        {"class": "middleware.cache:CacheMiddleware", "options": cache or {}},
        {"class": "middleware.router:RouterMiddleware"},
    ]


def cache_config(upstream: ServerThread, mode: str = "simple", max_age: int | None = 60) -> str:
    """An inline x-portkey-config sending to the mock upstream with caching on."""
    cache: dict[str, Any] = {"mode": mode}
    if max_age is not None:
        cache["max_age"] = max_age
    return json.dumps({"provider": "openai", "custom_host": upstream.url + "/v1", "cache": cache})


REDIS_DB = 14  # the cache tests' own db on the shared Redis


@pytest.fixture
def redis_cache(redis_url: str) -> Iterator[dict[str, str]]:
    """Options for a Redis-backed cache in a key prefix of its own, deleted afterwards."""
    url = f"{redis_url}/{REDIS_DB}"
    prefix = f"test-cache:{uuid.uuid4().hex[:12]}:"
    yield {"backend": "redis", "redis_url": url, "redis_prefix": prefix}
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=prefix + "*"))
    if keys:
        client.delete(*keys)
    client.close()
