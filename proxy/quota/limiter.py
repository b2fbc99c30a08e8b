"""The limiter contract: one atomic check-and-reserve, one settle.

Both implementations (``MemoryLimiter`` in process, ``RedisLimiter`` with Lua scripts)
keep the same four counters per key and run the same shared test suite:

- requests: a sliding-window log (each request's id at its time). Exact: no burst across
  a window boundary doubles the rate (a fixed window would), and nothing refills during a
  burst (a token bucket would).
- tokens: a sliding window of reservations (id -> tokens at its time, a running total);
  a reservation is the estimate until settled to the real usage.
- parallel: leases (id -> expiry). A lease ends at settle, or after ``lease_ms`` if the
  replica holding it died: a crashed process cannot hold capacity for ever.
- budget: integer micro-USD per period bucket, estimated cost at reserve, real at settle.

``reserve`` checks every limit and reserves all or nothing. A refused request leaves no
trace. Windows use the store's clock (Redis ``TIME``), so replicas agree.
"""

from __future__ import annotations

from typing import Literal, Protocol

Failed = Literal["rpm", "tpm", "parallel", "budget"]


class Decision:
    """What ``reserve`` found: allowed or which limit refused, and the header values."""

    __slots__ = (
        "failed",
        "req_remaining",
        "req_reset_ms",
        "retry_ms",
        "spent_micros",
        "tok_remaining",
        "tok_reset_ms",
    )

    def __init__(
        self,
        failed: Failed | None,
        req_remaining: int,
        req_reset_ms: int,
        tok_remaining: int,
        tok_reset_ms: int,
        retry_ms: int,
        spent_micros: int,
    ) -> None:
        self.failed = failed
        self.req_remaining = req_remaining
        self.req_reset_ms = req_reset_ms  # until the oldest counted request leaves
        self.tok_remaining = tok_remaining
        self.tok_reset_ms = tok_reset_ms  # until the oldest counted tokens leave
        self.retry_ms = retry_ms  # refused: when the refusing limits have room (-1: never)
        self.spent_micros = spent_micros  # the budget bucket after this request

    @property
    def ok(self) -> bool:
        return self.failed is None

    def __repr__(self) -> str:
        return f"Decision(failed={self.failed!r}, retry_ms={self.retry_ms})"


class Ask:
    """One reservation request: the key's limits and this request's estimate."""

    __slots__ = (
        "bucket",
        "bucket_ttl",
        "budget",
        "key",
        "micros",
        "parallel",
        "rid",
        "rpm",
        "tokens",
        "tpm",
    )

    def __init__(
        self,
        key: str,
        rid: str,
        *,
        rpm: int = 0,
        tpm: int = 0,
        parallel: int = 0,
        budget: int = -1,
        tokens: int = 0,
        micros: int = 0,
        bucket: str = "total",
        bucket_ttl: int = 0,
    ) -> None:
        self.key = key  # the policy id: whose counters
        self.rid = rid  # this request's id (unique)
        self.rpm = rpm  # 0: no limit
        self.tpm = tpm
        self.parallel = parallel
        self.budget = budget  # micro-USD; -1: no budget
        self.tokens = tokens  # estimated input + output tokens
        self.micros = micros  # estimated cost
        self.bucket = bucket  # the budget's period bucket (policy.period_bucket)
        self.bucket_ttl = bucket_ttl  # seconds the bucket's counter is kept; 0: for ever


class Snapshot:
    """A key's counters now (admin usage), without reserving anything."""

    __slots__ = ("in_flight", "requests", "spent_micros", "tokens")

    def __init__(self, requests: int, tokens: int, in_flight: int, spent_micros: int) -> None:
        self.requests = requests
        self.tokens = tokens
        self.in_flight = in_flight
        self.spent_micros = spent_micros


class LimiterDown(Exception):
    """The shared store cannot be reached (the caller applies the key's ``redis_down``).
    ``maybe_done``: the call timed out, so the store may have run it all the same."""

    def __init__(self, message: str, maybe_done: bool = False) -> None:
        super().__init__(message)
        self.maybe_done = maybe_done


class Limiter(Protocol):
    window_ms: int
    lease_ms: int

    async def reserve(self, ask: Ask) -> Decision:
        """Check every limit of ``ask`` and reserve all or nothing (raises LimiterDown)."""
        ...

    async def settle(self, ask: Ask, tokens: int, micros: int) -> None:
        """Replace the estimate by the real ``tokens`` and cost, end the lease."""
        ...

    async def snapshot(self, key: str, bucket: str) -> Snapshot: ...

    async def raise_spent(self, key: str, bucket: str, micros: int, ttl: int) -> int:
        """Raise a budget bucket to at least ``micros`` (rebuild); the new value."""
        ...

    async def warm(self) -> None:
        """Before traffic: open connections, load scripts (never raises)."""
        ...

    async def close(self) -> None: ...
