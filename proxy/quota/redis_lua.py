"""The limiter in Redis: one Lua script checks and reserves, one settles.

Every key of one gateway key shares the hash tag ``{<policy id>}``, so on a Redis Cluster
each script touches one slot. The clock is Redis's (``TIME``): replicas with skewed clocks
still agree on the windows. Calls have short timeouts and no retries; a failure raises
``LimiterDown`` and, for a second after it, Redis is not asked at all (so an outage costs
no time per request while the caller applies the key's ``redis_down`` choice).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import urlsplit

import structlog

from proxy.quota.limiter import Ask, Decision, Failed, LimiterDown, Snapshot
from proxy.redisclient import make_client

# KEYS: 1 requests zset, 2 tokens zset, 3 token amounts hash, 4 token total, 5 leases zset,
#       6 budget bucket, 7 open reservations hash (rid -> micros reserved: what settle undoes)
# ARGV: 1 rid, 2 rpm, 3 tpm, 4 parallel, 5 budget (-1 none), 6 tokens, 7 micros,
#       8 window ms, 9 lease ms, 10 bucket ttl s (0: none)
# -> {failed ('' ok), requests remaining, requests reset ms, tokens remaining,
#     tokens reset ms, retry ms (-1 never), spent}
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rid = ARGV[1]
local rpm, tpm, par = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local budget, est, cost = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local win, lease, ttl = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])
local edge = now - win
local failed, retry, never = {}, 0, false
local function refuse(what, ms)
  failed[#failed + 1] = what
  if ms < 0 then never = true elseif ms > retry then retry = ms end
end
local nreq, rreset = 0, 0
if rpm > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', edge)
  nreq = redis.call('ZCARD', KEYS[1])
  if nreq > 0 then
    rreset = tonumber(redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2]) + win - now
  end
  if nreq >= rpm then refuse('rpm', rreset) end
end
local total, treset = 0, 0
if tpm > 0 then
  local old = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', edge)
  total = tonumber(redis.call('GET', KEYS[4]) or '0')
  for i = 1, #old, 1000 do
    local part = {unpack(old, i, math.min(i + 999, #old))}
    for _, n in ipairs(redis.call('HMGET', KEYS[3], unpack(part))) do
      total = total - (tonumber(n) or 0)
    end
    redis.call('HDEL', KEYS[3], unpack(part))
  end
  if #old > 0 then
    redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', edge)
    if total < 0 then total = 0 end
    redis.call('SET', KEYS[4], total, 'KEEPTTL')
  end
  local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  if #first > 0 then treset = tonumber(first[2]) + win - now end
  if total + est > tpm then
    if est > tpm then refuse('tpm', -1) else
      local need, at = total + est - tpm, -1
      local live = redis.call('ZRANGE', KEYS[2], 0, 999, 'WITHSCORES')
      for i = 1, #live, 2 do
        need = need - (tonumber(redis.call('HGET', KEYS[3], live[i])) or 0)
        if need <= 0 then at = tonumber(live[i + 1]) + win - now break end
      end
      if at < 0 then at = win end
      refuse('tpm', at)
    end
  end
end
if par > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now)
  if redis.call('ZCARD', KEYS[5]) >= par then refuse('parallel', 1000) end
end
local spent = 0
if budget >= 0 then
  spent = tonumber(redis.call('GET', KEYS[6]) or '0')
  if spent + cost > budget then failed = {'budget'} never = true end
end
if #failed > 0 then
  if never then retry = -1 end
  return {failed[1], math.max(0, rpm - nreq), rreset, math.max(0, tpm - total), treset,
          retry, spent}
end
if rpm > 0 then
  redis.call('ZADD', KEYS[1], now, rid)
  redis.call('PEXPIRE', KEYS[1], win)
  nreq = nreq + 1
  if rreset == 0 then rreset = win end
end
if tpm > 0 then
  redis.call('ZADD', KEYS[2], now, rid)
  redis.call('HSET', KEYS[3], rid, est)
  total = total + est
  redis.call('SET', KEYS[4], total)
  for k = 2, 4 do redis.call('PEXPIRE', KEYS[k], win + lease) end
  if treset == 0 then treset = win end
end
if par > 0 then
  redis.call('ZADD', KEYS[5], now + lease, rid)
  redis.call('PEXPIRE', KEYS[5], lease)
end
if budget >= 0 then
  spent = redis.call('INCRBY', KEYS[6], cost)
  if ttl > 0 then redis.call('EXPIRE', KEYS[6], ttl) end
end
if tpm > 0 or par > 0 or budget >= 0 then
  redis.call('HSET', KEYS[7], rid, cost)
  redis.call('PEXPIRE', KEYS[7], win + lease)
end
return {'', math.max(0, rpm - nreq), rreset, math.max(0, tpm - total), treset, 0, spent}
"""

# KEYS as above; ARGV: 1 rid, 2 real tokens, 3 real cost (micros). Only a reservation
# this store holds is settled, once: settling again, or one never made here, does nothing.
_SETTLE = """
local rid = ARGV[1]
local held = redis.call('HGET', KEYS[7], rid)
if not held then return 0 end
redis.call('HDEL', KEYS[7], rid)
local old = redis.call('HGET', KEYS[3], rid)
if old then
  local new = tonumber(ARGV[2])
  redis.call('HSET', KEYS[3], rid, new)
  local total = tonumber(redis.call('GET', KEYS[4]) or '0') + new - tonumber(old)
  if total < 0 then total = 0 end
  redis.call('SET', KEYS[4], total, 'KEEPTTL')
end
redis.call('ZREM', KEYS[5], rid)
local d = tonumber(ARGV[3]) - tonumber(held)
if d ~= 0 and redis.call('EXISTS', KEYS[6]) == 1 then
  if redis.call('INCRBY', KEYS[6], d) < 0 then redis.call('SET', KEYS[6], 0, 'KEEPTTL') end
end
return 1
"""

# KEYS[1] budget bucket; ARGV 1 micros, 2 ttl s -> the bucket's value
_RAISE = """
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
local want = tonumber(ARGV[1])
if want > cur then
  redis.call('SET', KEYS[1], want)
  if tonumber(ARGV[2]) > 0 then redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2])) end
  return want
end
return cur
"""

BACKOFF_SECONDS = 1.0
log = structlog.get_logger("gateway.quota")
_SUFFIXES = ("rq", "tk", "ta", "tt", "pl")  # then the budget bucket, then "rv"


class RedisLimiter:
    def __init__(
        self,
        url: str,
        prefix: str,
        timeout: float,
        window_ms: int = 60_000,
        lease_ms: int = 900_000,
        connect_timeout: float | None = None,
    ) -> None:
        self.window_ms = window_ms
        self.lease_ms = lease_ms
        self.prefix = prefix + "q:"
        parts = urlsplit(url)
        self.where = f"{parts.hostname}:{parts.port or 6379}"  # for logs: never the password
        self.client: Any = make_client(url, timeout, connect_timeout)
        self._reserve = self.client.register_script(_RESERVE)
        self._settle = self.client.register_script(_SETTLE)
        self._raise = self.client.register_script(_RAISE)
        self._down_until = 0.0

    def keys(self, key: str, bucket: str) -> list[str]:
        base = f"{self.prefix}{{{key}}}:"
        return [base + s for s in _SUFFIXES] + [base + "b:" + bucket, base + "rv"]

    async def _run(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        from redis.exceptions import RedisError
        from redis.exceptions import TimeoutError as RedisTimeout

        if time.monotonic() < self._down_until:
            raise LimiterDown(f"redis at {self.where} failed less than a second ago")
        try:
            return await script(keys=keys, args=args)
        except (RedisError, OSError, TimeoutError) as exc:
            self._down_until = time.monotonic() + BACKOFF_SECONDS
            maybe = isinstance(exc, (TimeoutError, RedisTimeout))
            raise LimiterDown(f"redis at {self.where}: {type(exc).__name__}", maybe) from None

    async def reserve(self, ask: Ask) -> Decision:
        args = [
            ask.rid,
            ask.rpm,
            ask.tpm,
            ask.parallel,
            ask.budget,
            ask.tokens,
            ask.micros,
            self.window_ms,
            self.lease_ms,
            ask.bucket_ttl,
        ]
        r = await self._run(self._reserve, self.keys(ask.key, ask.bucket), args)
        failed = r[0].decode() if isinstance(r[0], bytes) else str(r[0])
        what: Failed | None = failed if failed in ("rpm", "tpm", "parallel", "budget") else None  # type: ignore[assignment]
        return Decision(what, int(r[1]), int(r[2]), int(r[3]), int(r[4]), int(r[5]), int(r[6]))

    async def settle(self, ask: Ask, tokens: int, micros: int) -> None:
        args = [ask.rid, tokens, micros if ask.budget >= 0 else 0]
        await self._run(self._settle, self.keys(ask.key, ask.bucket), args)

    async def snapshot(self, key: str, bucket: str) -> Snapshot:
        from redis.exceptions import RedisError

        k = self.keys(key, bucket)
        now = int(time.time() * 1000)
        pipe = self.client.pipeline(transaction=False)
        pipe.zcount(k[0], now - self.window_ms, "+inf")
        pipe.get(k[3])
        pipe.zcount(k[4], now, "+inf")
        pipe.get(k[5])
        try:
            reqs, total, leases, spent = await pipe.execute()
        except (RedisError, OSError, TimeoutError) as exc:
            raise LimiterDown(f"redis at {self.where}: {type(exc).__name__}") from None
        return Snapshot(int(reqs), int(total or 0), int(leases), int(spent or 0))

    async def raise_spent(self, key: str, bucket: str, micros: int, ttl: int) -> int:
        k = self.keys(key, bucket)[5]
        return int(await self._run(self._raise, [k], [micros, ttl]))

    async def warm(self, connections: int = 8) -> None:
        """Open a few pooled connections and load the scripts before traffic: a burst on
        a cold process would otherwise open dozens at once."""
        from redis.exceptions import RedisError

        try:
            await asyncio.gather(*(self.client.ping() for _ in range(connections)))
            await self.client.script_load(_RESERVE)
            await self.client.script_load(_SETTLE)
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning(
                "limiter store not reachable at start-up", at=self.where, error=type(exc).__name__
            )

    async def close(self) -> None:
        await self.client.aclose()
