"""One top-level ``redis.url`` is the shared state of every feature that spans replicas:
the cache and the circuit breakers use it when their own options name no Redis."""

from __future__ import annotations

from middleware.cache import CacheMiddleware
from middleware.router import RouterMiddleware
from proxy.routing.breaker_redis import RedisBreakerStore
from tests.conftest import openai_client
from tests.quota.helpers import gateway_of


def test_cache_and_breakers_follow_the_top_level_redis(make_gateway, mock_openai, redis_prefix):
    mock, upstream = mock_openai
    url, prefix = redis_prefix
    raw = {
        "redis": {"url": url, "prefix": prefix},
        "middleware": [
            {
                "class": "middleware.cache:CacheMiddleware",
                "options": {"default_mode": "simple", "redis_prefix": prefix + "cache:"},
            },
            {
                "class": "middleware.router:RouterMiddleware",
                "options": {"circuit_breaker": {"key_prefix": prefix + "cb:"}},
            },
        ],
    }
    a, b = make_gateway(raw), make_gateway(raw)  # two replicas
    for gw in (a, b):
        mws = gateway_of(gw).middlewares
        cache = next(m for m in mws if isinstance(m, CacheMiddleware))
        router = next(m for m in mws if isinstance(m, RouterMiddleware))
        assert cache.store is cache._redis is not None
        assert isinstance(router.engine.store, RedisBreakerStore)
    msg = [{"role": "user", "content": "shared?"}]
    first = openai_client(a, upstream).chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=msg
    )
    assert first.headers["x-portkey-cache-status"] == "MISS"
    second = openai_client(b, upstream).chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=msg
    )
    assert second.headers["x-portkey-cache-status"] == "HIT"  # the other replica's answer
    assert mock.calls == 1


def test_without_redis_everything_stays_in_process(make_gateway) -> None:
    gw = make_gateway({})
    mws = gateway_of(gw).middlewares
    cache = next(m for m in mws if isinstance(m, CacheMiddleware))
    assert cache._redis is None
    assert gateway_of(gw).quota.limiter is gateway_of(gw).quota.local
