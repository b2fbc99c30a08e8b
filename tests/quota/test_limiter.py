"""One semantics suite for both limiters (in process and Redis/Lua): exact counts,
all-or-nothing reservations, settles that replace estimates, leases that expire."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from proxy.quota.limiter import Ask, Limiter
from tests.quota.conftest import LEASE_MS, WINDOW_MS


def ask(key: str, **kw: int | str) -> Ask:
    return Ask(key, uuid.uuid4().hex, **kw)  # type: ignore[arg-type]


async def test_rpm_is_exact_and_a_refusal_reserves_nothing(limiter: Limiter) -> None:
    granted = [await limiter.reserve(ask("k", rpm=5)) for _ in range(5)]
    assert all(d.ok for d in granted)
    assert [d.req_remaining for d in granted] == [4, 3, 2, 1, 0]
    for _ in range(3):
        d = await limiter.reserve(ask("k", rpm=5))
        assert d.failed == "rpm" and 0 < d.retry_ms <= WINDOW_MS
        assert d.req_remaining == 0
    assert (await limiter.snapshot("k", "total")).requests == 5


async def test_the_window_slides(limiter: Limiter) -> None:
    assert (await limiter.reserve(ask("k", rpm=2))).ok
    await asyncio.sleep(WINDOW_MS / 2000)
    assert (await limiter.reserve(ask("k", rpm=2))).ok
    assert not (await limiter.reserve(ask("k", rpm=2))).ok
    await asyncio.sleep(WINDOW_MS / 2000 + 0.05)  # the first left the window, not the second
    assert (await limiter.reserve(ask("k", rpm=2))).ok
    assert not (await limiter.reserve(ask("k", rpm=2))).ok


async def test_concurrent_reservations_grant_exactly_the_limit(limiter: Limiter) -> None:
    results = await asyncio.gather(*(limiter.reserve(ask("k", rpm=50)) for _ in range(200)))
    assert sum(d.ok for d in results) == 50
    assert {d.failed for d in results if not d.ok} == {"rpm"}


async def test_tpm_counts_estimates_until_settled(limiter: Limiter) -> None:
    asks = [ask("k", tpm=100, tokens=30) for _ in range(4)]
    assert [(await limiter.reserve(a)).ok for a in asks] == [True, True, True, False]
    d = await limiter.reserve(asks[3])
    assert d.failed == "tpm" and d.tok_remaining == 10 and 0 < d.retry_ms <= WINDOW_MS
    await limiter.settle(asks[0], 5, 0)  # the real usage was far below the estimate
    d = await limiter.reserve(asks[3])
    assert d.ok and d.tok_remaining == 100 - 5 - 30 - 30 - 30
    assert (await limiter.snapshot("k", "total")).tokens == 95


async def test_a_request_over_the_token_limit_alone_never_fits(limiter: Limiter) -> None:
    d = await limiter.reserve(ask("k", tpm=100, tokens=101))
    assert d.failed == "tpm" and d.retry_ms == -1


async def test_tokens_leave_the_window(limiter: Limiter) -> None:
    a = ask("k", tpm=100, tokens=80)
    assert (await limiter.reserve(a)).ok
    assert not (await limiter.reserve(ask("k", tpm=100, tokens=30))).ok
    await asyncio.sleep(WINDOW_MS / 1000 + 0.05)
    assert (await limiter.reserve(ask("k", tpm=100, tokens=30))).ok
    await limiter.settle(a, 200, 0)  # settled after its window: nothing goes negative
    snap = await limiter.snapshot("k", "total")
    assert snap.tokens == 30


async def test_parallel_leases_end_at_settle_or_expiry(limiter: Limiter) -> None:
    a, b = ask("k", parallel=2), ask("k", parallel=2)
    assert (await limiter.reserve(a)).ok and (await limiter.reserve(b)).ok
    d = await limiter.reserve(ask("k", parallel=2))
    assert d.failed == "parallel" and d.retry_ms > 0
    await limiter.settle(a, 0, 0)
    assert (await limiter.reserve(ask("k", parallel=2))).ok
    assert not (await limiter.reserve(ask("k", parallel=2))).ok
    await asyncio.sleep(LEASE_MS / 1000 + 0.05)  # a crashed replica's leases run out
    assert (await limiter.snapshot("k", "total")).in_flight == 0
    assert (await limiter.reserve(ask("k", parallel=2))).ok


async def test_budget_reserves_the_estimate_and_settles_to_the_real_cost(
    limiter: Limiter,
) -> None:
    def spend(micros: int) -> Ask:
        return ask("k", budget=1000, micros=micros, bucket="m2030-01", bucket_ttl=3600)

    a, b = spend(400), spend(400)
    assert (await limiter.reserve(a)).ok and (await limiter.reserve(b)).ok
    d = await limiter.reserve(spend(400))
    assert d.failed == "budget" and d.retry_ms == -1 and d.spent_micros == 800
    await limiter.settle(a, 0, 100)
    d = await limiter.reserve(spend(400))
    assert d.ok and d.spent_micros == 900
    assert (await limiter.snapshot("k", "m2030-01")).spent_micros == 900
    assert (await limiter.snapshot("k", "m2030-02")).spent_micros == 0  # another period


async def test_all_or_nothing(limiter: Limiter) -> None:
    d = await limiter.reserve(ask("k", rpm=10, tpm=1000, tokens=10, parallel=5, budget=0,
                                  micros=1))  # fmt: skip
    assert d.failed == "budget"
    snap = await limiter.snapshot("k", "total")
    assert (snap.requests, snap.tokens, snap.in_flight, snap.spent_micros) == (0, 0, 0, 0)


async def test_keys_do_not_share_counters(limiter: Limiter) -> None:
    assert (await limiter.reserve(ask("a", rpm=1))).ok
    assert (await limiter.reserve(ask("b", rpm=1))).ok
    assert not (await limiter.reserve(ask("a", rpm=1))).ok


async def test_raise_spent_never_lowers(limiter: Limiter) -> None:
    assert await limiter.raise_spent("k", "d2030-01-01", 500, 60) == 500
    assert await limiter.raise_spent("k", "d2030-01-01", 200, 60) == 500
    assert (await limiter.snapshot("k", "d2030-01-01")).spent_micros == 500


@pytest.mark.parametrize("n", [3])
async def test_settle_twice_or_unknown_is_harmless(limiter: Limiter, n: int) -> None:
    a = ask("k", rpm=n, tpm=100, tokens=10, parallel=n)
    assert (await limiter.reserve(a)).ok
    await limiter.settle(a, 7, 0)
    await limiter.settle(a, 7, 0)
    await limiter.settle(ask("k", tpm=100), 50, 0)  # never reserved
    snap = await limiter.snapshot("k", "total")
    assert (snap.requests, snap.tokens, snap.in_flight) == (1, 7, 0)


async def test_a_settle_only_undoes_a_reservation_it_holds(limiter: Limiter) -> None:
    """Settling twice, or an ask the store never reserved (a timed-out call), changes
    nothing: no counter inflates, none goes below what was really reserved."""
    a = ask("k", budget=1000, micros=300, bucket="total")
    assert (await limiter.reserve(a)).ok
    await limiter.settle(a, 0, 100)
    await limiter.settle(a, 0, 0)
    await limiter.settle(ask("k", budget=1000, micros=900, bucket="total"), 0, 0)
    assert (await limiter.snapshot("k", "total")).spent_micros == 100
