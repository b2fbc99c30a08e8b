"""The in-process limiter: the Redis limiter's semantics for one process (the embedded
default, and where a key that fails open counts while Redis is down).

Everything runs between two awaits, so each ``reserve`` is atomic on the event loop.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque

from proxy.quota.limiter import Ask, Decision, Failed, Snapshot


class _Key:
    __slots__ = ("budgets", "held", "leases", "requests", "tokens", "total")

    def __init__(self) -> None:
        self.requests: deque[int] = deque()  # ms times, oldest first
        self.tokens: OrderedDict[str, tuple[int, int]] = OrderedDict()  # rid -> (ms, n)
        self.total = 0
        self.leases: dict[str, int] = {}  # rid -> expiry (ms)
        self.budgets: dict[str, tuple[int, float | None]] = {}  # bucket -> (micros, expiry)
        self.held: dict[str, tuple[int, int]] = {}  # open reservations: rid -> (micros, until)


def _now_ms() -> int:
    return int(time.time() * 1000)


class MemoryLimiter:
    def __init__(self, window_ms: int = 60_000, lease_ms: int = 900_000) -> None:
        self.window_ms = window_ms
        self.lease_ms = lease_ms
        self.keys: dict[str, _Key] = {}

    def _key(self, key: str) -> _Key:
        k = self.keys.get(key)
        if k is None:
            k = self.keys[key] = _Key()
        return k

    def _expire(self, k: _Key, now: int) -> None:
        edge = now - self.window_ms
        reqs = k.requests
        while reqs and reqs[0] <= edge:
            reqs.popleft()
        toks = k.tokens
        while toks:
            rid, (at, n) = next(iter(toks.items()))
            if at > edge:
                break
            del toks[rid]
            k.total -= n
        if k.leases:
            for rid in [r for r, exp in k.leases.items() if exp <= now]:
                del k.leases[rid]
        if len(k.held) > 1000:  # reservations nobody settled (a bug): forgotten in time
            for rid in [r for r, (_, until) in k.held.items() if until <= now]:
                del k.held[rid]

    def _spent(self, k: _Key, bucket: str) -> int:
        found = k.budgets.get(bucket)
        if found is None:
            return 0
        micros, expiry = found
        if expiry is not None and time.time() >= expiry:
            del k.budgets[bucket]
            return 0
        return micros

    async def reserve(self, ask: Ask) -> Decision:
        now = _now_ms()
        k = self._key(ask.key)
        self._expire(k, now)
        win = self.window_ms
        failed: list[tuple[Failed, int]] = []
        if ask.rpm and len(k.requests) >= ask.rpm:
            failed.append(("rpm", k.requests[0] + win - now))
        if ask.tpm and k.total + ask.tokens > ask.tpm:
            failed.append(("tpm", self._tokens_free_at(k, ask, now)))
        if ask.parallel and len(k.leases) >= ask.parallel:
            failed.append(("parallel", 1000))
        spent = self._spent(k, ask.bucket) if ask.budget >= 0 else 0
        if ask.budget >= 0 and spent + ask.micros > ask.budget:
            failed.append(("budget", -1))
        if failed:
            return _refused(failed, ask, k, now, win, spent)
        if ask.rpm:
            k.requests.append(now)
        if ask.tpm:
            k.tokens[ask.rid] = (now, ask.tokens)
            k.total += ask.tokens
        if ask.parallel:
            k.leases[ask.rid] = now + self.lease_ms
        if ask.budget >= 0:
            spent += ask.micros
            expiry = time.time() + ask.bucket_ttl if ask.bucket_ttl else None
            k.budgets[ask.bucket] = (spent, expiry)
        if ask.tpm or ask.parallel or ask.budget >= 0:
            k.held[ask.rid] = (ask.micros, now + win + self.lease_ms)
        return Decision(
            None,
            max(0, ask.rpm - len(k.requests)),
            (k.requests[0] + win - now) if k.requests else 0,
            max(0, ask.tpm - k.total),
            _oldest_tokens(k, now, win),
            0,
            spent,
        )

    def _tokens_free_at(self, k: _Key, ask: Ask, now: int) -> int:
        if ask.tokens > ask.tpm:
            return -1  # this request alone is over the limit: never
        need = k.total + ask.tokens - ask.tpm
        for at, n in k.tokens.values():
            need -= n
            if need <= 0:
                return at + self.window_ms - now
        return self.window_ms

    async def settle(self, ask: Ask, tokens: int, micros: int) -> None:
        self.settle_now(ask, tokens, micros)

    def settle_now(self, ask: Ask, tokens: int, micros: int) -> None:
        k = self.keys.get(ask.key)
        held = k.held.pop(ask.rid, None) if k is not None else None
        if k is None or held is None:  # never reserved here, or settled already
            return
        found = k.tokens.get(ask.rid)
        if found is not None:  # still in the window: the estimate becomes the real count
            k.tokens[ask.rid] = (found[0], tokens)
            k.total = max(0, k.total + tokens - found[1])
        k.leases.pop(ask.rid, None)
        if ask.budget >= 0 and micros != held[0]:
            entry = k.budgets.get(ask.bucket)
            if entry is not None:
                k.budgets[ask.bucket] = (max(0, entry[0] + micros - held[0]), entry[1])

    async def snapshot(self, key: str, bucket: str) -> Snapshot:
        k = self._key(key)
        self._expire(k, _now_ms())
        return Snapshot(len(k.requests), k.total, len(k.leases), self._spent(k, bucket))

    async def raise_spent(self, key: str, bucket: str, micros: int, ttl: int) -> int:
        k = self._key(key)
        current = self._spent(k, bucket)
        if micros > current:
            k.budgets[bucket] = (micros, time.time() + ttl if ttl else None)
            return micros
        return current

    async def warm(self) -> None:
        return None

    async def close(self) -> None:
        return None


def _oldest_tokens(k: _Key, now: int, win: int) -> int:
    if not k.tokens:
        return 0
    return next(iter(k.tokens.values()))[0] + win - now


def _refused(
    failed: list[tuple[Failed, int]], ask: Ask, k: _Key, now: int, win: int, spent: int
) -> Decision:
    # the budget names the refusal first (waiting a minute will not help), then the rest
    # in the order checked; the client may retry when every refusing limit has room
    retry = -1 if any(ms < 0 for _, ms in failed) else max(ms for _, ms in failed)
    return Decision(
        failed[-1][0] if failed[-1][0] == "budget" else failed[0][0],
        max(0, ask.rpm - len(k.requests)),
        (k.requests[0] + win - now) if k.requests else 0,
        max(0, ask.tpm - k.total),
        _oldest_tokens(k, now, win),
        retry,
        spent,
    )
