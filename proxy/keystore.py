"""Gateway keys created at run time (the admin API), shared by every replica through Redis.

A key is a record (id, name, policy, timestamps) plus the SHA-256 digest of its secret; the
secret itself is generated here (``secrets.token_urlsafe``), returned once and never stored
or logged. Lookups go by digest. With ``redis.url`` set the records live in two hashes
under one hash tag (records by id, ids by digest) and a replica trusts what it read for at
most ``limits.key_cache_seconds``: a revoke or an edit holds on every replica within that.
Without Redis they live in this process (one replica, or keys made in settings only).

Settings keys are registered here too (read-only), so the admin API lists every key.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Any, Literal

import msgspec
import structlog

from proxy.errors import GatewayError
from proxy.quota.policy import KeyPolicy, Limits

log = structlog.get_logger("gateway.keys")
SECRET_PREFIX = "gwk-"  # noqa: S105 - a prefix, not a secret
_CACHE_MAX = 10_000
_DOWN_AFTER = 1.0  # seconds without asking Redis after a failure


class KeyRecord(msgspec.Struct, kw_only=True):
    id: str
    name: str
    digest: str  # sha256 of the secret, hex
    limits: Limits
    created_at: float
    updated_at: float
    revoked_at: float | None = None
    source: Literal["admin", "settings"] = "admin"


_enc = msgspec.json.Encoder()
_dec = msgspec.json.Decoder(KeyRecord)


def new_secret() -> tuple[str, str]:
    """(secret shown once, its sha256 hex)."""
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    return secret, hashlib.sha256(secret.encode()).hexdigest()


def policy_of(rec: KeyRecord) -> KeyPolicy:
    prefix = "s:" if rec.source == "settings" else "r:"
    return KeyPolicy(prefix + (rec.name if rec.source == "settings" else rec.id), rec.name,
                     rec.limits)  # fmt: skip


class KeyStoreDown(GatewayError):
    status = 503
    type = "api_error"


# KEYS 1 records hash, 2 digests hash; ARGV 1 digest -> the record's JSON or nil
_FIND = """
local id = redis.call('HGET', KEYS[2], ARGV[1])
if not id then return false end
return redis.call('HGET', KEYS[1], id)
"""


class KeyStore:
    def __init__(
        self, redis_url: str | None, prefix: str, timeout: float, cache_seconds: float
    ) -> None:
        self.cache_seconds = cache_seconds
        self.settings: dict[str, KeyRecord] = {}  # by name, registered by AuthMiddleware
        self._mem: dict[str, bytes] = {}  # id -> record JSON (no Redis)
        self._mem_digests: dict[str, str] = {}
        self._cache: dict[str, tuple[float, KeyPolicy | None]] = {}  # digest -> (until, ...)
        self._policies: dict[tuple[str, float], KeyPolicy] = {}
        self._down_until = 0.0
        self.client: Any = None
        self.shared = redis_url is not None
        if redis_url is not None:
            from proxy.redisclient import make_client

            wait = max(1.0, 4 * timeout)  # as the limiter: a busy process is not an outage
            self.client = make_client(redis_url, wait, wait)
            self._find = self.client.register_script(_FIND)
        self.k_rec = prefix + "{keys}:rec"
        self.k_dig = prefix + "{keys}:dig"

    async def close(self) -> None:
        if self.client is not None:
            await self.client.aclose()

    def register_settings(self, name: str, limits: Limits) -> None:
        now = time.time()
        self.settings.setdefault(
            name,
            KeyRecord(
                id=name,
                name=name,
                digest="",
                limits=limits,
                created_at=now,
                updated_at=now,
                source="settings",
            ),
        )

    # ------------------------------------------------------------------ lookups

    async def find(self, digest: bytes) -> KeyPolicy | None:
        """The policy of the live runtime key with this digest; None when unknown,
        revoked or (for the caller to check) expired. 503 when Redis cannot say."""
        hexd = digest.hex()
        now = time.monotonic()
        hit = self._cache.get(hexd)
        if hit is not None and hit[0] > now:
            return hit[1]
        try:
            raw = await self._get_by_digest(hexd)
        except KeyStoreDown:
            if hit is not None:  # what we knew a moment ago beats refusing every request
                return hit[1]
            raise
        policy = None
        if raw is not None:
            rec = _dec.decode(raw)
            if rec.revoked_at is None and rec.digest == hexd:
                policy = self._policy(rec)
        if len(self._cache) >= _CACHE_MAX:
            self._cache.clear()  # bounded: random keys cannot grow it
        self._cache[hexd] = (now + self.cache_seconds, policy)
        return policy

    def _policy(self, rec: KeyRecord) -> KeyPolicy:
        token = (rec.id, rec.updated_at)
        found = self._policies.get(token)
        if found is None:
            if len(self._policies) >= _CACHE_MAX:
                self._policies.clear()
            found = self._policies[token] = policy_of(rec)
        return found

    async def _call(self, awaitable: Any) -> Any:
        from redis.exceptions import RedisError

        if time.monotonic() < self._down_until:
            raise KeyStoreDown("the key store is unreachable", code="key_store_unavailable")
        try:
            return await awaitable
        except (RedisError, OSError, TimeoutError) as exc:
            self._down_until = time.monotonic() + _DOWN_AFTER
            log.error("key store unreachable", error=type(exc).__name__)
            raise KeyStoreDown(
                "the key store is unreachable", code="key_store_unavailable"
            ) from None

    async def _get_by_digest(self, hexd: str) -> bytes | None:
        if self.client is None:
            kid = self._mem_digests.get(hexd)
            return self._mem.get(kid) if kid is not None else None
        found = await self._call(self._find(keys=[self.k_rec, self.k_dig], args=[hexd]))
        return found if isinstance(found, bytes) else None

    async def get(self, kid: str) -> KeyRecord | None:
        if kid in self.settings:
            return self.settings[kid]
        if self.client is None:
            raw = self._mem.get(kid)
        else:
            raw = await self._call(self.client.hget(self.k_rec, kid))
        return _dec.decode(raw) if raw else None

    async def all(self) -> list[KeyRecord]:
        if self.client is None:
            raws: list[bytes] = list(self._mem.values())
        else:
            raws = list((await self._call(self.client.hgetall(self.k_rec))).values())
        found = sorted((_dec.decode(r) for r in raws), key=lambda r: r.created_at)
        return [*self.settings.values(), *found]

    # ------------------------------------------------------------------ changes

    async def _put(self, rec: KeyRecord, drop_digest: str | None = None) -> None:
        raw = _enc.encode(rec)
        if self.client is None:
            self._mem[rec.id] = raw
            if drop_digest:
                self._mem_digests.pop(drop_digest, None)
            if rec.revoked_at is None:
                self._mem_digests[rec.digest] = rec.id
            self._cache.clear()
            return
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(self.k_rec, rec.id, raw)
        if drop_digest:
            pipe.hdel(self.k_dig, drop_digest)
        if rec.revoked_at is None:
            pipe.hset(self.k_dig, rec.digest, rec.id)
        await self._call(pipe.execute())
        self._cache.clear()

    async def create(self, name: str, limits: Limits) -> tuple[KeyRecord, str]:
        secret, digest = new_secret()
        now = time.time()
        rec = KeyRecord(
            id="key_" + secrets.token_hex(8),
            name=name,
            digest=digest,
            limits=limits,
            created_at=now,
            updated_at=now,
        )
        await self._put(rec)
        return rec, secret

    async def update(self, rec: KeyRecord, limits: Limits) -> KeyRecord:
        new = msgspec.structs.replace(rec, limits=limits, updated_at=time.time())
        await self._put(new)
        return new

    async def rotate(self, rec: KeyRecord) -> tuple[KeyRecord, str]:
        """A new secret; the old one stops working (everywhere within the cache time)."""
        secret, digest = new_secret()
        new = msgspec.structs.replace(rec, digest=digest, updated_at=time.time())
        await self._put(new, drop_digest=rec.digest)
        return new, secret

    async def revoke(self, rec: KeyRecord) -> KeyRecord:
        now = time.time()
        new = msgspec.structs.replace(rec, revoked_at=now, updated_at=now)
        await self._put(new, drop_digest=rec.digest)
        return new
