"""Circuit breakers per target (Portkey's documented ``cb_config``).

Each target of a fallback or load-balance node has a breaker, keyed by its config and its
option index (``config.targets[1]``). Counting starts with the first outcome and covers one
``cooldown_interval``; within it the circuit opens when ``failure_threshold`` failures are
reached, or when at least ``minimum_requests`` outcomes hold ``failure_threshold_percentage``
percent failures. An open target is skipped; after the cool-down one request is let through
as a probe (half-open): success closes the circuit, failure opens it again. When every
target of a node is open the breaker is bypassed. State lives in this process
(``MemoryBreakerStore``) or in Redis (``proxy.routing.breaker_redis``) for many replicas.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from proxy.routing.config import CircuitBreakerConfig

Verdict = Literal["closed", "open", "probe"]


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    threshold: int  # 0: no count threshold
    percentage: float  # 0: no rate threshold
    cooldown_ms: int
    minimum_requests: int
    codes: frozenset[int] | None  # None: any status >= 500

    @classmethod
    def of(cls, cb: CircuitBreakerConfig) -> BreakerPolicy:
        codes = cb.failure_status_codes
        return cls(
            threshold=cb.failure_threshold or 0,
            percentage=cb.failure_threshold_percentage or 0.0,
            cooldown_ms=cb.cooldown_interval,
            minimum_requests=cb.minimum_requests,
            codes=frozenset(codes) if codes is not None else None,
        )

    def is_failure(self, status: int, transport: bool) -> bool:
        """Connection failures and timeouts always count; other errors by status."""
        if transport:
            return True
        if self.codes is None:
            return status >= 500
        return status in self.codes

    def trips(self, failures: int, total: int) -> bool:
        if self.threshold and failures >= self.threshold:
            return True
        return bool(
            self.percentage
            and total >= self.minimum_requests
            and failures * 100.0 >= self.percentage * total
        )


class BreakerStore(Protocol):
    async def check(self, key: str, policy: BreakerPolicy) -> Verdict:
        """Closed: go. Open: skip. Probe: go, this request is the half-open probe."""
        ...

    async def record(self, key: str, policy: BreakerPolicy, failed: bool) -> None: ...

    async def close(self) -> None: ...


class _State:
    __slots__ = ("expires", "failures", "opened_at", "probe_until", "total", "window_start")

    def __init__(self, now: float) -> None:
        self.failures = 0
        self.total = 0
        self.window_start = now
        self.opened_at: float | None = None
        self.probe_until = 0.0
        self.expires = now


class MemoryBreakerStore:
    """Breaker state in this process (one event loop: no locking needed).

    Idle breakers expire after three cool-downs, as in Redis, and the table is bounded:
    inline configs come from clients, and each new one would otherwise add keys forever.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = 10_000) -> None:
        self.states: dict[str, _State] = {}
        self.now = clock
        self.max_keys = max_keys

    async def check(self, key: str, policy: BreakerPolicy) -> Verdict:
        st = self.states.get(key)
        if st is None or st.opened_at is None:
            return "closed"
        now = self.now()
        if now >= st.expires:
            del self.states[key]
            return "closed"
        cooldown = policy.cooldown_ms / 1000.0
        if now < st.opened_at + cooldown or now < st.probe_until:
            return "open"
        st.probe_until = now + cooldown  # one probe at a time; a lost probe frees the slot
        return "probe"

    async def record(self, key: str, policy: BreakerPolicy, failed: bool) -> None:
        now = self.now()
        cooldown = policy.cooldown_ms / 1000.0
        st = self.states.get(key)
        if st is None or now >= st.expires:
            st = self.states[key] = _State(now)
        st.expires = now + 3 * cooldown
        if len(self.states) > self.max_keys:
            self._evict(now)
        if st.opened_at is not None:
            if now >= st.opened_at + cooldown:  # the half-open probe's outcome
                if failed:
                    st.opened_at, st.probe_until = now, 0.0
                else:
                    del self.states[key]
            return  # a straggler sent before the circuit opened changes nothing
        if now - st.window_start > cooldown:
            st.failures, st.total, st.window_start = 0, 0, now
        st.total += 1
        st.failures += failed
        if policy.trips(st.failures, st.total):
            st.opened_at = now

    def _evict(self, now: float) -> None:
        for k in [k for k, st in self.states.items() if now >= st.expires]:
            del self.states[k]
        while len(self.states) > self.max_keys:  # still full: the oldest go first
            del self.states[next(iter(self.states))]

    async def close(self) -> None:
        self.states.clear()
