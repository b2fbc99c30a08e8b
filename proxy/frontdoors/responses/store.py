"""The gateway's store of the responses it made itself (translated to another provider).

An entry is the Response object as the client got it, the input items of its request (for
``/input_items``) and the conversation in chat form (everything but the ``instructions``,
which OpenAI does not carry over), with the answer at its end: what
``previous_response_id`` continues. Entries are keyed by a digest of the caller's scope and
the id, so a caller who is not the one that made a response finds nothing under its id,
exactly as for an id that never existed.

Memory (default): one process's, bounded by entries and bytes, least recently used first.
Redis: shared by replicas; each entry expires after the TTL and Redis's own memory policy
bounds the rest. A Redis that fails is not asked again for a second; a read then is a 503
(the gateway cannot tell "gone" from "unreachable"), a write is skipped with a log line:
the answer still reaches the client, it just cannot be continued.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections import OrderedDict
from collections.abc import Awaitable
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

import msgspec
import structlog

from proxy.errors import GatewayError
from proxy.frontdoors.responses.settings import ResponsesSettings, StoreChoice

T = TypeVar("T")

ID_PREFIX = "resp_gw"  # OpenAI's ids are resp_ + hex: "g" and "w" never start theirs
BACKOFF_SECONDS = 1.0
ENTRY_OVERHEAD = 200  # bytes of bookkeeping per memory entry, roughly

log = structlog.get_logger("gateway.responses")


def new_id() -> str:
    return ID_PREFIX + os.urandom(16).hex()  # 128 random bits: not guessable


def is_ours(response_id: str) -> bool:
    return response_id.startswith(ID_PREFIX)


def entry_key(scope: str, response_id: str) -> str:
    """Where a caller's response lives: neither the scope nor the id can be read back."""
    return hashlib.sha256(f"{scope}\0{response_id}".encode()).hexdigest()


class StoreUnavailable(GatewayError):
    status = 503
    type = "api_error"

    def __init__(self) -> None:
        super().__init__(
            "the gateway's response store is unavailable; retry shortly",
            code="response_store_unavailable",
        )


class Entry(msgspec.Struct, kw_only=True):
    response: msgspec.Raw  # the Response object as the client got it
    input_items: msgspec.Raw  # list of the request's input items, ids added
    history: msgspec.Raw  # list of chat messages: the conversation so far, answer included


_entry = msgspec.json.Decoder(Entry)
_encoder = msgspec.json.Encoder()


def encode_entry(response: bytes, input_items: list[Any], history: list[Any]) -> bytes:
    return _encoder.encode(
        Entry(
            response=msgspec.Raw(response),
            input_items=msgspec.Raw(_encoder.encode(input_items)),
            history=msgspec.Raw(_encoder.encode(history)),
        )
    )


def decode_entry(raw: bytes) -> Entry | None:
    """None for anything unreadable (another version's entry, a corrupted value)."""
    try:
        return _entry.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


class Store(Protocol):
    async def get(self, key: str) -> bytes | None:
        """The entry, None when there is none; StoreUnavailable when it cannot be told."""
        ...

    async def put(self, key: str, value: bytes) -> bool:
        """Keep an entry for the TTL; False when it was not kept (too large, outage)."""
        ...

    async def delete(self, key: str) -> bool:
        """True when there was an entry; StoreUnavailable when it cannot be told."""
        ...

    async def close(self) -> None: ...


class MemoryStore:
    def __init__(self, o: ResponsesSettings) -> None:
        self.ttl = o.ttl_seconds
        self.max_entries = o.max_entries
        self.max_bytes = o.max_bytes
        self.max_entry_bytes = o.max_entry_bytes
        self.size = 0
        self._data: OrderedDict[str, tuple[bytes, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._data)

    async def get(self, key: str) -> bytes | None:
        item = self._data.get(key)
        if item is None:
            return None
        if item[1] <= time.monotonic():
            self._drop(key)
            return None
        self._data.move_to_end(key)
        return item[0]

    async def put(self, key: str, value: bytes) -> bool:
        if len(value) > self.max_entry_bytes:
            return False
        if key in self._data:
            self._drop(key)
        self._data[key] = (value, time.monotonic() + self.ttl)
        self.size += len(value) + ENTRY_OVERHEAD
        while self.size > self.max_bytes or len(self._data) > self.max_entries:
            self._drop(next(iter(self._data)))
        return True

    async def delete(self, key: str) -> bool:
        found = await self.get(key) is not None
        if found:
            self._drop(key)
        return found

    def _drop(self, key: str) -> None:
        value, _ = self._data.pop(key)
        self.size -= len(value) + ENTRY_OVERHEAD

    async def close(self) -> None:
        self._data.clear()
        self.size = 0


class RedisStore:
    def __init__(self, o: ResponsesSettings, url: str, timeout: float, prefix: str) -> None:
        import redis.asyncio as aioredis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        self.prefix = prefix
        self.ttl = o.ttl_seconds
        self.max_entry_bytes = o.max_entry_bytes
        parts = urlsplit(url)
        self.where = f"{parts.hostname}:{parts.port or 6379}"  # for logs: never the password
        self.client: Any = aioredis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            retry_on_timeout=False,
            health_check_interval=0,
        )
        self._down_until = 0.0
        self._down = False

    async def _call(self, op: str, awaitable: Awaitable[T]) -> T:
        from redis.exceptions import RedisError

        if self._down and time.monotonic() < self._down_until:
            if hasattr(awaitable, "close"):
                awaitable.close()  # a coroutine never awaited would warn
            raise StoreUnavailable()
        try:
            result = await awaitable
        except (RedisError, OSError, TimeoutError) as exc:
            if not self._down:
                log.warning(
                    "response store unavailable",
                    backend="redis",
                    at=self.where,
                    op=op,
                    error=type(exc).__name__,
                )
            self._down = True
            self._down_until = time.monotonic() + BACKOFF_SECONDS
            raise StoreUnavailable() from None
        if self._down:
            self._down = False
            log.info("response store reachable again", backend="redis", at=self.where)
        return result

    async def get(self, key: str) -> bytes | None:
        value = await self._call("get", self.client.get(self.prefix + key))
        return value if isinstance(value, bytes) else None

    async def put(self, key: str, value: bytes) -> bool:
        if len(value) > self.max_entry_bytes:
            return False
        try:
            await self._call("set", self.client.set(self.prefix + key, value, ex=self.ttl))
        except StoreUnavailable:
            return False
        return True

    async def delete(self, key: str) -> bool:
        return bool(await self._call("delete", self.client.delete(self.prefix + key)))

    async def close(self) -> None:
        await self.client.aclose()


def make_store(o: ResponsesSettings, choice: StoreChoice) -> Store:
    if choice.kind == "redis":
        assert choice.url is not None  # choose_store refuses redis without a URL
        try:
            return RedisStore(o, choice.url, choice.timeout, choice.prefix)
        except ValueError as exc:  # redis-py's word on a URL it cannot use
            raise ValueError(f"responses.redis_url (or redis.url): {exc}") from None
        except ImportError as exc:
            raise ValueError(
                f"responses.store redis needs redis-py ({exc}): pip install 'llm-gateway[redis]'"
            ) from None
    return MemoryStore(o)
