"""The pure pieces: query operators, weighted draws, retry hints, breaker transitions."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import pytest

from proxy.routing.breaker import BreakerPolicy, MemoryBreakerStore
from proxy.routing.conditions import check_query, matches
from proxy.routing.config import CircuitBreakerConfig, Retry
from proxy.routing.retry import Backoff, BackoffOptions, RetryPlan, retry_after
from proxy.routing.strategy import pick_weighted

DATA = {
    "metadata": {"plan": "paid", "region": "eu-west", "tier": "3"},
    "params": {"model": "gpt-4o", "temperature": 0.8, "messages": [{"role": "user"}]},
    "url": {"pathname": "/v1/chat/completions"},
}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"metadata.plan": "paid"}, True),
        ({"metadata.plan": {"$eq": "free"}}, False),
        ({"metadata.plan": {"$ne": "free"}}, True),
        ({"metadata.missing": {"$ne": "x"}}, True),
        ({"metadata.missing": {"$eq": "x"}}, False),
        ({"metadata.region": {"$in": ["eu-west", "eu-north"]}}, True),
        ({"metadata.region": {"$nin": ["eu-west"]}}, False),
        ({"metadata.missing": {"$nin": ["eu-west"]}}, True),
        ({"params.temperature": {"$gt": 0.5, "$lte": 0.8}}, True),
        ({"params.temperature": {"$lt": 0.8}}, False),
        ({"params.temperature": {"$gte": 0.8}}, True),
        ({"metadata.tier": {"$gt": 2}}, False),  # "3" is a string: no cross-type order
        ({"params.model": {"$regex": "^gpt-4"}}, True),
        ({"params.messages.0.role": "user"}, True),
        ({"url.pathname": {"$regex": "embeddings$"}}, False),
        ({"$and": [{"metadata.plan": "paid"}, {"params.model": "gpt-4o"}]}, True),
        ({"$and": [{"metadata.plan": "paid"}, {"params.model": "o1"}]}, False),
        ({"$or": [{"metadata.plan": "free"}, {"params.model": "gpt-4o"}]}, True),
        ({"$or": [{"metadata.plan": "free"}, {"params.model": "o1"}]}, False),
        ({"metadata.plan": "paid", "params.model": "o1"}, False),
    ],
)
def test_query_operators(query, expected) -> None:
    check_query(query)
    assert matches(query, DATA) is expected


@pytest.mark.parametrize(
    "query",
    [{"$xor": []}, {"a": {"$like": 1}}, {"a": {"$in": 1}}, {"a": {"$regex": "("}}, {"$or": []}],
)
def test_bad_queries_are_rejected(query) -> None:
    with pytest.raises(ValueError):
        check_query(query)


def test_weighted_draws_follow_weights_with_a_seeded_rng() -> None:
    rng = random.Random(20261123)
    weights = [0.5, 0.3, 0.2, 0.0]
    counts = Counter(pick_weighted(weights, rng) for _ in range(20_000))
    assert counts[3] == 0
    for i, w in enumerate(weights[:3]):
        assert abs(counts[i] / 20_000 - w) < 0.015, counts
    # weights need not sum to 1
    rng = random.Random(1)
    counts = Counter(pick_weighted([3, 1], rng) for _ in range(8_000))
    assert abs(counts[0] / 8_000 - 0.75) < 0.02


def test_retry_hints() -> None:
    assert retry_after({"retry-after-ms": "250"}) == 0.25
    assert retry_after({"x-ms-retry-after-ms": "1500"}) == 1.5
    assert retry_after({"retry-after": "3"}) == 3.0
    assert retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:10 GMT"}, now=1445412480) == 10.0
    assert retry_after({"retry-after": "soon"}) is None
    assert retry_after({}) is None


def test_backoff_is_full_jitter_within_budget() -> None:
    b = Backoff(BackoffOptions(base_ms=100, max_backoff_ms=400, max_wait_ms=1000), random.Random(5))
    waits = [b.next_wait(i, None) for i in range(4)]
    for i, w in enumerate(waits):
        assert w is not None
        assert 0 <= w <= min(0.4, 0.1 * 2**i)
    assert b.next_wait(0, 2.0) is None  # a hint past the budget ends retries
    plan = RetryPlan(Retry(attempts=9))
    assert plan.retries == 5
    assert plan.retries_on(429) and not plan.retries_on(400)


def test_memory_breaker_transitions() -> None:
    now = [100.0]
    store = MemoryBreakerStore(clock=lambda: now[0])
    policy = BreakerPolicy.of(CircuitBreakerConfig(failure_threshold=2, cooldown_interval=1000))

    async def run() -> None:
        assert await store.check("k", policy) == "closed"
        await store.record("k", policy, True)
        assert await store.check("k", policy) == "closed"
        await store.record("k", policy, True)
        assert await store.check("k", policy) == "open"
        now[0] += 1.0
        assert await store.check("k", policy) == "probe"
        assert await store.check("k", policy) == "open"  # one probe at a time
        await store.record("k", policy, False)
        assert await store.check("k", policy) == "closed"
        # failures spread over more than one window do not add up
        await store.record("k", policy, True)
        now[0] += 1.5
        await store.record("k", policy, True)
        assert await store.check("k", policy) == "closed"

    asyncio.run(run())


def test_breaker_policy_failures() -> None:
    p = BreakerPolicy.of(CircuitBreakerConfig(failure_threshold=1))
    assert p.is_failure(500, False) and not p.is_failure(429, False)
    assert p.is_failure(408, True)
    p = BreakerPolicy.of(CircuitBreakerConfig(failure_threshold_percentage=25, minimum_requests=4))
    assert not p.trips(1, 3) and p.trips(1, 4) and not p.trips(0, 10)


def test_memory_breaker_is_bounded_and_forgets_idle_keys() -> None:
    now = [0.0]
    store = MemoryBreakerStore(clock=lambda: now[0], max_keys=3)
    policy = BreakerPolicy.of(CircuitBreakerConfig(failure_threshold=1, cooldown_interval=1000))

    async def run() -> None:
        for i in range(5):
            await store.record(f"k{i}", policy, True)
        assert list(store.states) == ["k2", "k3", "k4"]  # the oldest went first
        assert await store.check("k4", policy) == "open"
        now[0] += 3.0  # three idle cool-downs: forgotten
        assert await store.check("k4", policy) == "closed"
        assert "k4" not in store.states

    asyncio.run(run())
