"""Quota: the gateway's limiter with its failure policy and the settle bookkeeping.

``reserve`` estimates the request (prompt tokens counted, the output bound reserved, the
cost from the price table), asks the limiter and turns a refusal into the 429. When the
shared store is down, the key's ``redis_down`` decides: ``open`` counts in this process
(and logs loudly), ``closed`` answers 503.

Every granted reservation is a ``Lease`` held here until it is settled with the real
usage. Settling runs in a task (the answer is not delayed by a Redis round trip); the tasks
and any lease still open are finished on shut-down (after the drain), so a rollout loses
no spend and leaves no phantom reservation. A lease nobody settled (a bug) is settled with
its estimate once ``limits.lease_seconds`` has passed.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import TYPE_CHECKING

import structlog

from proxy.errors import GatewayError
from proxy.quota.headers import refusal
from proxy.quota.limiter import Ask, Decision, Limiter, LimiterDown
from proxy.quota.memory import MemoryLimiter
from proxy.quota.policy import KeyPolicy, Period, period_bucket
from proxy.quota.settings import LimitsSettings

if TYPE_CHECKING:
    from proxy.settings import RedisSettings

log = structlog.get_logger("gateway.quota")
_LOUD_EVERY = 5.0  # seconds between "limiter store down" errors in the log
_SETTLE_TRIES = 3


def read_timeout(redis: RedisSettings) -> float:
    """Seconds the limiter and the key store wait on Redis."""
    return max(1.0, 4 * redis.timeout)


class Lease:
    """One granted reservation, open until settled."""

    __slots__ = ("ask", "at", "quota", "settled")

    def __init__(self, quota: Quota, ask: Ask) -> None:
        self.quota = quota
        self.ask = ask
        self.at = time.monotonic()
        self.settled = False

    def settle(self, tokens: int, micros: int) -> None:
        """The real usage (tokens in + out, micro-USD); once, later calls do nothing."""
        if not self.settled:
            self.settled = True
            self.quota._settle(self, tokens, micros)


class Quota:
    def __init__(self, limits: LimitsSettings, redis: RedisSettings) -> None:
        window = int(limits.window_seconds * 1000)
        lease = int(limits.lease_seconds * 1000)
        self.local = MemoryLimiter(window, lease)  # the embedded default, and fail-open
        self.limiter: Limiter = self.local
        self.shared = redis.url is not None
        if redis.url is not None:
            from proxy.quota.redis_lua import RedisLimiter

            # a saturated process reads replies (and finishes connects) late: that must not
            # be taken for an outage (a dead Redis refuses connections at once anyway)
            wait = read_timeout(redis)
            self.limiter = RedisLimiter(redis.url, redis.prefix, wait, window, lease, wait)
        self.limits = limits
        self.open: dict[int, Lease] = {}  # id(lease) -> lease, until settled
        self.local_asks: set[str] = set()  # rids counted locally while the store was down
        self.maybe_shared: set[str] = set()  # ... whose reservation timed out: maybe made
        self.tasks: set[asyncio.Task[None]] = set()
        self._buckets: dict[str, tuple[str, float]] = {}  # period -> (bucket, ends)
        self._loud = 0.0
        self._sweeper: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        await self.limiter.warm()
        self._sweeper = asyncio.create_task(self._sweep())

    async def stop(self, within: float = 10.0) -> None:
        """Settle what is still open (with its estimate), then wait for every settle."""
        if self._sweeper is not None:
            self._sweeper.cancel()
        for lease in list(self.open.values()):
            lease.settle(lease.ask.tokens, lease.ask.micros)
        if self.tasks:
            await asyncio.wait(set(self.tasks), timeout=within)
        await self.limiter.close()

    async def _sweep(self) -> None:
        bound = self.limits.lease_seconds
        while True:
            await asyncio.sleep(min(30.0, bound))
            cutoff = time.monotonic() - bound
            stale = [lease for lease in self.open.values() if lease.at < cutoff]
            for lease in stale:
                log.warning("reservation never settled; settled with its estimate",
                            key=lease.ask.key)  # fmt: skip
                lease.settle(lease.ask.tokens, lease.ask.micros)

    # ------------------------------------------------------------------ per request

    def _bucket(self, period: Period, now: float) -> tuple[str, int]:
        """(bucket id, seconds its counter is kept), computed once per bucket."""
        found = self._buckets.get(period)
        if found is not None and now < found[1]:
            return found[0], math.ceil(found[1] - now) + 86400
        bucket, ends = period_bucket(period, now)
        if ends is None:
            return bucket, 0
        self._buckets[period] = (bucket, ends)
        # kept a day past its period: late settles still land
        return bucket, math.ceil(ends - now) + 86400

    def ask(self, policy: KeyPolicy, rid: str, tokens: int, micros: int) -> Ask:
        bucket, ttl = "total", 0
        if policy.budget_micros >= 0:
            bucket, ttl = self._bucket(policy.budget_period, time.time())
        return Ask(
            policy.id,
            rid,
            rpm=policy.rpm,
            tpm=policy.tpm,
            parallel=policy.max_parallel,
            budget=policy.budget_micros,
            tokens=tokens if policy.tpm or policy.budget_micros >= 0 else 0,
            micros=micros if policy.budget_micros >= 0 else 0,
            bucket=bucket,
            bucket_ttl=ttl,
        )

    async def reserve(self, policy: KeyPolicy, ask: Ask) -> tuple[Decision, Lease]:
        """The decision and its lease; raises the 429 (or 503 when failing closed)."""
        try:
            decision = await self.limiter.reserve(ask)
        except LimiterDown as exc:
            decision = await self._down(policy, ask, exc)
        if not decision.ok:
            ends = None
            if decision.failed == "budget":
                ends = period_bucket(policy.budget_period, time.time())[1]
            raise refusal(policy, decision, ends)
        lease = Lease(self, ask)
        self.open[id(lease)] = lease
        return decision, lease

    async def _down(self, policy: KeyPolicy, ask: Ask, exc: LimiterDown) -> Decision:
        why = str(exc)
        now = time.monotonic()
        if now - self._loud >= _LOUD_EVERY:
            self._loud = now
            log.error(
                "limiter store unreachable: keys with redis_down=open are counted in this "
                "process only, keys with redis_down=closed get 503",
                error=why,
            )
        if policy.redis_down == "closed":
            raise GatewayError(
                "the gateway cannot check this key's limits right now; retry shortly",
                status=503,
                code="limiter_unavailable",
                headers={"retry-after": "1"},
            )
        self.local_asks.add(ask.rid)
        if exc.maybe_done:
            self.maybe_shared.add(ask.rid)
        return await self.local.reserve(ask)

    def _settle(self, lease: Lease, tokens: int, micros: int) -> None:
        self.open.pop(id(lease), None)
        if self.limiter is self.local:  # in process: done now, no task needed
            self.local.settle_now(lease.ask, tokens, micros)
            return
        task = asyncio.get_running_loop().create_task(self._settle_task(lease.ask, tokens, micros))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _settle_task(self, ask: Ask, tokens: int, micros: int) -> None:
        if ask.rid in self.local_asks:
            self.local_asks.discard(ask.rid)
            await self.local.settle(ask, tokens, micros)
            if ask.rid not in self.maybe_shared:
                return
            # the store may hold this reservation too: settling it there is a no-op if not
            self.maybe_shared.discard(ask.rid)
        for attempt in range(_SETTLE_TRIES):
            try:
                await self.limiter.settle(ask, tokens, micros)
                return
            except LimiterDown as exc:
                if attempt == _SETTLE_TRIES - 1:
                    # the reservation expires with its window and lease; a budget keeps
                    # the estimate (over-counting is the safe side)
                    log.error("settle failed; the estimate stays counted", key=ask.key,
                              error=str(exc))  # fmt: skip
                    return
                await asyncio.sleep(1.0 + attempt)
            except Exception:
                log.exception("settle failed", key=ask.key)
                return
