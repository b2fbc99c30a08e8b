"""Cloud credentials the gateway obtains itself: Vertex AI access tokens (google-auth) and
AWS keys (botocore), cached and refreshed before they expire, off the request path.

A ``Source`` produces one credential synchronously (both libraries are synchronous): its
``fetch()`` runs in a worker thread of the gateway's credential pool (not the default
executor, which the loop's DNS lookups use) and returns the value with its expiry. A ``Pool``
caches sources by key:

- one fetch at a time per source: concurrent requests share the one in flight;
- a source in use is refreshed in the background once ``refresh_at`` (80%) of its lifetime
  has passed, so requests keep the current value and never wait for a refresh; a request
  waits only for the first fetch, or when the value has expired (an idle source is left
  alone until it is asked for again);
- a failure is remembered for a few seconds (no fetch storm against a token endpoint), and
  a value still valid keeps serving while a background refresh fails;
- at most ``max_entries`` sources, the least recently used evicted.

``CloudCredentials`` holds two pools: ``held`` for sources settings chose (the gateway's
own identity, a settings key) and ``client`` for the service-account keys clients send,
keyed by a digest of the whole key and with a cap on concurrent fetches. It also offers
the HTTP sessions the libraries' transports use: the shared session (egress-guarded) for a
client's source, and the gateway's own small session for its own identity (metadata
servers live in the networks the shared session refuses; only settings reach them).

An adapter that needs such credentials offers ``obtain_credentials(target, cloud)``
(``CredentialedAdapter``); the terminal step calls it after ``bind()``, before the adapter
builds any request, and the adapter reads the result synchronously from the target.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, runtime_checkable

import aiohttp
import msgspec
import structlog

from proxy.errors import GatewayError
from proxy.providers.base import implements
from proxy.target import Target

if TYPE_CHECKING:
    from proxy.gateway import Gateway
    from proxy.hostpolicy import HostPolicy

log = structlog.get_logger("gateway.credentials")

FAILURE_MEMORY = 5.0  # seconds a failed fetch is answered from memory
MARGIN = 30.0  # seconds before expiry after which a value is no longer handed out
HELD_MAX = 1024  # settings sources: bounded by the settings, this is a backstop
THREADS = 8  # worker threads for fetches (client ones are capped lower by settings)


class CredentialsSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``credentials:`` in settings (docs/configuration.md)."""

    # token endpoints a client's service-account key may name besides Google's own
    # (https://oauth2.googleapis.com/token); each must also pass custom_hosts
    google_token_uris: list[str] = msgspec.field(default_factory=list)
    refresh_at: float = 0.8  # fraction of a credential's lifetime after which it is renewed
    timeout: float = 10.0  # seconds per HTTP call of a credential fetch
    max_client_sources: int = 256  # client service-account keys kept (LRU)
    client_fetches: int = 4  # token fetches for client keys at once, per process


def check_settings(s: CredentialsSettings) -> None:
    if not 0.1 <= s.refresh_at <= 0.95:
        raise ValueError("credentials.refresh_at: must be between 0.1 and 0.95")
    if s.timeout <= 0:
        raise ValueError("credentials.timeout: must be positive")
    if s.max_client_sources < 1 or s.client_fetches < 1:
        raise ValueError("credentials.max_client_sources and client_fetches: at least 1")
    for uri in s.google_token_uris:
        if not uri.startswith(("https://", "http://")):
            raise ValueError(f"credentials.google_token_uris: {uri!r} is not an http(s) URL")


class Fetched(NamedTuple):
    value: Any
    expires: float | None  # seconds since the epoch; None: does not expire


class Source(Protocol):
    """Something that produces one credential, synchronously (run in a worker thread).

    ``fetch`` raises ``GatewayError`` with what the client should see; ``key`` identifies
    the source (never the secret itself: a digest); ``kind`` names it in logs."""

    key: str
    kind: str

    def fetch(self) -> Fetched: ...


class _Entry:
    __slots__ = (
        "error",
        "failed_until",
        "refresh_at",
        "source",
        "task",
        "timer",
        "usable_until",
        "used",
        "value",
    )

    def __init__(self, source: Source) -> None:
        self.source = source
        self.value: Any = None
        self.refresh_at = 0.0
        self.usable_until = 0.0
        self.task: asyncio.Task[None] | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.used = False  # asked for since the last fetch
        self.error: GatewayError | None = None
        self.failed_until = 0.0

    def drop(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


class Pool:
    """Credentials by source key: single-flight fetches, background refresh, LRU-bounded."""

    def __init__(
        self,
        name: str,
        max_entries: int,
        refresh_at: float,
        threads: ThreadPoolExecutor,
        concurrency: int | None = None,
    ) -> None:
        self.name = name
        self.threads = threads
        self.max_entries = max_entries
        self.fraction = refresh_at
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._limit = asyncio.Semaphore(concurrency) if concurrency else None
        self.fetches = 0  # fetches started, for metrics and tests

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, source: Source) -> Any:
        """The source's current value: cached, shared with a fetch in flight, or fetched."""
        entry = self._entry(source)
        entry.used = True
        now = time.time()
        if entry.value is not None and now < entry.usable_until:
            if now >= entry.refresh_at and now >= entry.failed_until:
                self._refresh(entry)  # in the background: this request does not wait
            return entry.value
        if entry.error is not None and now < entry.failed_until:
            raise entry.error
        # shielded: a client that hangs up does not cancel the fetch others wait for
        await asyncio.shield(self._refresh(entry))
        if entry.error is not None:
            raise entry.error
        return entry.value

    def _entry(self, source: Source) -> _Entry:
        entry = self._entries.get(source.key)
        if entry is not None:
            self._entries.move_to_end(source.key)
            return entry
        entry = self._entries[source.key] = _Entry(source)
        while len(self._entries) > self.max_entries:
            _, old = self._entries.popitem(last=False)
            old.drop()  # a fetch in flight still answers whoever waits for it
        return entry

    def _refresh(self, entry: _Entry) -> asyncio.Task[None]:
        if entry.task is None or entry.task.done():
            entry.task = asyncio.get_running_loop().create_task(self._run(entry))
        return entry.task

    async def _run(self, entry: _Entry) -> None:
        entry.drop()
        self.fetches += 1
        source = entry.source
        loop = asyncio.get_running_loop()
        try:
            if self._limit is None:
                fetched = await loop.run_in_executor(self.threads, source.fetch)
            else:
                async with self._limit:
                    fetched = await loop.run_in_executor(self.threads, source.fetch)
        except GatewayError as exc:
            self._failed(entry, exc)
            return
        except Exception as exc:  # a library's surprise: logged by type, never a traceback
            err = GatewayError(
                f"could not obtain {source.kind} credentials ({type(exc).__name__})",
                status=503,
                code="credentials_unavailable",
            )
            self._failed(entry, err, type(exc).__name__)
            return
        now = time.time()
        entry.value, entry.error, entry.used = fetched.value, None, False
        if fetched.expires is None:
            entry.refresh_at = entry.usable_until = math.inf
            life = math.inf
        else:
            life = max(fetched.expires - now, 0.0)
            entry.refresh_at = now + self.fraction * life
            entry.usable_until = fetched.expires - min(MARGIN, 0.1 * life)
            delay = max(entry.refresh_at - now, 0.05)
            entry.timer = asyncio.get_running_loop().call_later(delay, self._tick, entry)
        log.info("credentials.obtained", pool=self.name, kind=source.kind, lifetime_s=life)

    def _failed(self, entry: _Entry, err: GatewayError, cause: str | None = None) -> None:
        entry.error = err
        entry.failed_until = time.time() + FAILURE_MEMORY
        log.warning(
            "credentials.failed",
            pool=self.name,
            kind=entry.source.kind,
            status=err.status,
            error=err.message,
            cause=cause,
            still_valid=entry.value is not None and time.time() < entry.usable_until,
        )

    def _tick(self, entry: _Entry) -> None:
        """At ``refresh_at``: renew a source that was used since its last fetch."""
        entry.timer = None
        if self._entries.get(entry.source.key) is entry and entry.used:
            self._refresh(entry)

    def close(self) -> None:
        for entry in self._entries.values():
            entry.drop()
            if entry.task is not None:
                entry.task.cancel()
        self._entries.clear()


class CloudCredentials:
    """The gateway's credential pools and the sessions their transports use."""

    def __init__(self, gw: Gateway) -> None:
        s: CredentialsSettings = gw.settings.credentials
        self.settings = s
        # fetches wait on the event loop for their HTTP calls: their own threads, so they
        # never hold the default executor the loop's DNS lookups and offloads need
        self.threads = ThreadPoolExecutor(THREADS, thread_name_prefix="credentials")
        self.held = Pool("held", HELD_MAX, s.refresh_at, self.threads)
        self.client = Pool(
            "client", s.max_client_sources, s.refresh_at, self.threads, s.client_fetches
        )
        self._gw = gw
        self._own: aiohttp.ClientSession | None = None

    @property
    def host_policy(self) -> HostPolicy:
        return self._gw.host_policy

    def shared_session(self) -> aiohttp.ClientSession:
        """The upstream session (GuardedResolver, no redirects): for a client's source."""
        return self._gw.session

    def own_session(self) -> aiohttp.ClientSession:
        """A small session for the gateway's own identity (metadata servers, token and STS
        endpoints settings chose). Made on first use, on the event loop."""
        if self._own is None or self._own.closed:
            self._own = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.settings.timeout),
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=self._gw.settings.upstream.proxy_from_env,
            )
        return self._own

    async def close(self) -> None:
        self.held.close()
        self.client.close()
        self.threads.shutdown(wait=False, cancel_futures=True)
        if self._own is not None:
            await self._own.close()
            self._own = None


@runtime_checkable
class CredentialedAdapter(Protocol):
    """An adapter that obtains credentials before its requests are built (Vertex AI,
    Bedrock): it returns the target with what it obtained (a token, a key pair) in the
    target's own fields, which its synchronous request builders then read."""

    name: str

    async def obtain_credentials(self, target: Target, cloud: CloudCredentials) -> Target: ...


async def with_credentials(adapter: Any, target: Target, cloud: CloudCredentials) -> Target:
    """The target ready for ``adapter``'s request builders (the target itself for most)."""
    if not implements(adapter, CredentialedAdapter):
        return target
    ready: Target = await adapter.obtain_credentials(target, cloud)
    return ready


def with_fields(target: Target, **values: str) -> Target:
    """A copy of ``target`` with provider fields set (the credentials just obtained)."""
    return msgspec.structs.replace(target, fields={**(target.fields or {}), **values})
