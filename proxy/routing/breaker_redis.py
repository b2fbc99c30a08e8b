"""Circuit breaker state in Redis, so every replica sees the same breakers.

One hash per breaker (failures, total, window start, opened-at, probe slot) changed only by
Lua scripts: each check or record is one atomic round trip, and the clock is Redis's own
(``TIME``), so replicas with skewed clocks still agree. Keys expire on their own once idle.
If Redis cannot be reached the breaker fails open (requests flow, a warning is logged at
most every few seconds): a state store must never take the gateway down with it.
"""

from __future__ import annotations

import time
from typing import Any

import structlog

from proxy.routing.breaker import BreakerPolicy, Verdict

# KEYS[1] breaker hash; ARGV cooldown_ms. Returns 0 closed, 1 open, 2 probe.
_CHECK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local oa = tonumber(redis.call('HGET', KEYS[1], 'oa') or '-1')
if oa < 0 then return 0 end
local cd = tonumber(ARGV[1])
if now < oa + cd then return 1 end
local pu = tonumber(redis.call('HGET', KEYS[1], 'pu') or '0')
if now < pu then return 1 end
redis.call('HSET', KEYS[1], 'pu', now + cd)
return 2
"""

# KEYS[1] breaker hash; ARGV failed(0/1), cooldown_ms, threshold, percentage, minimum.
_RECORD = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cd = tonumber(ARGV[2])
local failed = ARGV[1] == '1'
local h = redis.call('HMGET', KEYS[1], 'f', 'n', 'ws', 'oa')
local oa = tonumber(h[4] or '-1')
if oa >= 0 then
  if now >= oa + cd then
    if failed then redis.call('HSET', KEYS[1], 'oa', now, 'pu', 0)
    else redis.call('DEL', KEYS[1]) return 0 end
  end
  redis.call('PEXPIRE', KEYS[1], cd * 3)
  return 1
end
local f = tonumber(h[1] or '0')
local n = tonumber(h[2] or '0')
local ws = tonumber(h[3] or '-1')
if ws < 0 or now - ws > cd then f = 0 n = 0 ws = now end
n = n + 1
if failed then f = f + 1 end
local thr = tonumber(ARGV[3])
local pct = tonumber(ARGV[4])
local trip = (thr > 0 and f >= thr) or (pct > 0 and n >= tonumber(ARGV[5]) and f * 100 >= pct * n)
redis.call('HSET', KEYS[1], 'f', f, 'n', n, 'ws', ws)
if trip then redis.call('HSET', KEYS[1], 'oa', now, 'pu', 0) end
redis.call('PEXPIRE', KEYS[1], cd * 3)
if trip then return 1 end
return 0
"""

_VERDICTS: tuple[Verdict, Verdict, Verdict] = ("closed", "open", "probe")
_WARN_EVERY = 10.0  # seconds between "Redis unreachable" warnings


class RedisBreakerStore:
    def __init__(self, url: str, prefix: str, timeout: float = 0.5) -> None:
        import redis.asyncio as aioredis  # optional dependency: the `redis` extra

        self.prefix = prefix
        self.client: Any = aioredis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        self._check = self.client.register_script(_CHECK)
        self._record = self.client.register_script(_RECORD)
        self.log = structlog.get_logger("gateway.router")
        self._warned = 0.0

    def _failed(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._warned >= _WARN_EVERY:
            self._warned = now
            self.log.warning("circuit breaker store unreachable", error=type(exc).__name__)

    async def check(self, key: str, policy: BreakerPolicy) -> Verdict:
        from redis.exceptions import RedisError

        try:
            code = await self._check(keys=[self.prefix + key], args=[policy.cooldown_ms])
        except (RedisError, OSError) as exc:
            self._failed(exc)
            return "closed"
        return _VERDICTS[int(code)]

    async def record(self, key: str, policy: BreakerPolicy, failed: bool) -> None:
        from redis.exceptions import RedisError

        args = [
            int(failed),
            policy.cooldown_ms,
            policy.threshold,
            policy.percentage,
            policy.minimum_requests,
        ]
        try:
            await self._record(keys=[self.prefix + key], args=args)
        except (RedisError, OSError) as exc:
            self._failed(exc)

    async def close(self) -> None:
        await self.client.aclose()
