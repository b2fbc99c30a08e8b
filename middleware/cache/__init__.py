"""Response cache: exact and semantic, in memory by default, in Redis across replicas.

Turned on per request by the routing config's ``cache: {mode, max_age}`` or for every request
by ``default_mode``. It sits before the router, so a hit never reaches a provider. Requests
may send ``x-portkey-cache-force-refresh: true`` (skip the lookup, store the new answer) and
``x-portkey-cache-namespace`` (a partition of their own); every answer says what happened in
``x-portkey-cache-status``: HIT, MISS, SEMANTIC HIT, SEMANTIC MISS, REFRESH or DISABLED.
Only complete 2xx answers are stored: a stream after its last chunk, assembled into one
answer; errors, truncated or cancelled streams never. See docs/caching.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import msgspec
import structlog

from middleware.cache.key import EmbedWhat, canonical_body, exact_key, semantic_key
from middleware.cache.memory import MemoryStore, Store
from middleware.cache.replay import Entry, decode_entry, encode_entry, hit_reply, tee
from proxy.context import RequestContext
from proxy.errors import GatewayError
from proxy.frontdoors import CONVERSATIONS
from proxy.pipeline import Next, SettingsError
from proxy.reply import CompletionReply, Reply, StreamReply

if TYPE_CHECKING:
    from middleware.cache.redis_backend import RedisStore
    from middleware.cache.semantic import Embedder, Vector, VectorIndex
    from proxy.gateway import Gateway

Mode = Literal["simple", "semantic"]
STATUS_HEADER = "x-portkey-cache-status"
HIT, MISS, REFRESH, DISABLED = "HIT", "MISS", "REFRESH", "DISABLED"
SEMANTIC_HIT, SEMANTIC_MISS = "SEMANTIC HIT", "SEMANTIC MISS"


DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


class CacheOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    # None: Redis when the settings' top-level redis.url is set (shared by every
    # replica), else memory
    backend: Literal["memory", "redis"] | None = None
    redis_url: str | None = None  # None: the top-level redis.url, else DEFAULT_REDIS
    redis_prefix: str = "llmgw:cache:"
    redis_timeout: float = 0.25  # seconds per Redis call: an outage must not stall requests
    max_bytes: int = 64 * 1024 * 1024  # memory backend budget
    max_entry_bytes: int = 4 * 1024 * 1024  # larger answers are not stored
    default_mode: Mode | None = None  # None: only requests whose config asks are cached
    default_max_age: int = 3600  # seconds, when the config gives no max_age
    # semantic mode
    semantic_threshold: float = 0.95  # cosine similarity needed for a semantic hit
    embed: EmbedWhat = "last_user"  # the last user turn, or "all" messages
    embedding_slug: str | None = None  # a provider slug from settings, or:
    embedding_provider: str = "openai"
    embedding_base_url: str | None = None
    embedding_api_key: str | None = None
    embedding_model: str = "text-embedding-3-small"
    embedding_timeout: float = 2.0  # seconds; after a failure, 5 s without embeddings
    max_vectors: int = 100_000  # memory backend
    max_vector_bytes: int = 1024 * 1024 * 1024  # memory backend: the vector index's memory
    max_vectors_per_bucket: int = 10_000


def _check(o: CacheOptions) -> None:
    if o.max_bytes <= 0 or o.max_entry_bytes <= 0:
        raise ValueError("max_bytes and max_entry_bytes must be positive")
    if o.default_max_age <= 0:
        raise ValueError("default_max_age: must be a positive number of seconds")
    if not 0.0 < o.semantic_threshold <= 1.0:
        raise ValueError("semantic_threshold: must be in (0, 1]")
    if o.redis_timeout <= 0 or o.embedding_timeout <= 0:
        raise ValueError("redis_timeout and embedding_timeout must be positive")
    if o.max_vectors <= 0 or o.max_vectors_per_bucket <= 0 or o.max_vector_bytes <= 0:
        raise ValueError("max_vectors, max_vectors_per_bucket, max_vector_bytes: must be positive")


class CacheMiddleware:
    Options = CacheOptions
    endpoints = CONVERSATIONS  # answers to a conversation; embeddings and files are not kept

    def __init__(self, options: CacheOptions | None = None) -> None:
        self.options = o = options or CacheOptions()
        _check(o)
        self.log = structlog.get_logger("gateway.cache")
        self.store: Store = MemoryStore(o.max_bytes, o.max_entry_bytes)
        self.index: VectorIndex | None = None
        self.embedder: Embedder | None = None
        self._warned_semantic = False
        if o.embedding_slug or o.embedding_base_url or o.embedding_api_key:
            try:
                from middleware.cache.semantic import Embedder
            except ImportError as exc:
                raise ValueError(
                    f"semantic caching needs numpy ({exc}): pip install 'llm-gateway[semantic]'"
                ) from None
            self.embedder = Embedder(
                slug=o.embedding_slug,
                provider=o.embedding_provider,
                base_url=o.embedding_base_url,
                api_key=o.embedding_api_key,
                model=o.embedding_model,
                timeout=o.embedding_timeout,
            )

        self._redis: RedisStore | None = None
        if o.backend == "redis" and o.redis_url is not None:
            # no connection yet (redis-py connects on first use): a bad URL fails here
            self._use_redis(o.redis_url)

    def _use_redis(self, url: str) -> None:
        o = self.options
        try:
            from middleware.cache.redis_backend import RedisStore
        except ImportError as exc:
            raise ValueError(
                f"the redis backend needs redis-py ({exc}): pip install 'llm-gateway[redis]'"
            ) from None
        self.store = self._redis = RedisStore(url, o.redis_prefix, o.redis_timeout)

    async def startup(self, gateway: Gateway) -> None:
        o = self.options
        shared = gateway.settings.redis.url  # the replicas' shared state, unless overridden
        if self._redis is None and (o.backend == "redis" or (o.backend is None and shared)):
            try:
                self._use_redis(o.redis_url or shared or DEFAULT_REDIS)
            except ValueError as exc:
                raise SettingsError(f"cache options: {exc}") from None
        if self.embedder is None:
            return
        from middleware.cache.semantic import MemoryIndex, RedisIndex

        try:
            self.embedder.startup(gateway)
        except GatewayError as exc:
            raise SettingsError(f"cache options: {exc.message}") from None
        if self._redis is not None:
            self.index = RedisIndex(self._redis, o.max_vectors_per_bucket)
        else:
            self.index = MemoryIndex(o.max_vectors, o.max_vectors_per_bucket, o.max_vector_bytes)

    async def shutdown(self) -> None:
        await self.store.close()

    def policy(self, ctx: RequestContext) -> tuple[Mode | None, int]:
        cfg = ctx.config.cache if ctx.config is not None else None
        if cfg is not None:
            return cfg.mode, cfg.max_age or self.options.default_max_age
        return self.options.default_mode, self.options.default_max_age

    def skips(self, ctx: RequestContext) -> bool:
        """Caching off for this request: say so in its status and go straight on."""
        mode, max_age = self.policy(ctx)
        if mode is None or max_age <= 0:
            _status(ctx, DISABLED)
            return True
        return False

    async def __call__(self, ctx: RequestContext, call_next: Next) -> Reply:
        if self.skips(ctx):  # the chain asks first; a direct call gets the same answer
            return await call_next(ctx)
        mode, max_age = self.policy(ctx)
        semantic = mode == "semantic" and self._semantic_ready()
        h = ctx.headers
        namespace = h.get("x-portkey-cache-namespace", "")
        body = canonical_body(ctx)
        key = exact_key(ctx, namespace, body)
        sem = semantic_key(ctx, namespace, body, self.options.embed) if semantic else None
        vec: Vector | None = None
        embedded = False  # one embeddings call per request at most, hit or miss
        if h.get("x-portkey-cache-force-refresh", "").strip().lower() == "true":
            status = REFRESH
        else:
            status = SEMANTIC_MISS if semantic else MISS
            raw = await self.store.get(key)
            entry = decode_entry(raw) if raw is not None else None
            if entry is None and sem is not None:
                entry, vec = await self._nearest(sem)
                embedded = True
            if entry is not None:
                _status(ctx, SEMANTIC_HIT if semantic else HIT)
                ctx.provider = ctx.provider or entry.provider
                return hit_reply(ctx, entry)
        _status(ctx, status)
        ctx.reads_reply = True  # the answer is stored as chat, whatever the front door
        reply = await call_next(ctx)
        if not 200 <= reply.status < 300:
            return reply

        async def store(completion: bytes) -> None:
            await self._store(ctx, key, completion, max_age, sem, vec, embedded)

        if isinstance(reply, StreamReply):
            return reply.wrap(lambda chunks: tee(chunks, store))
        assert isinstance(reply, CompletionReply)
        completion = reply.completion
        await store(completion.chat_bytes())
        return reply

    def _semantic_ready(self) -> bool:
        if self.embedder is not None:
            return True
        if not self._warned_semantic:
            self._warned_semantic = True
            self.log.warning(
                "semantic cache asked for but no embedding provider is configured; "
                "caching exact matches only"
            )
        return False

    async def _nearest(self, sem: tuple[str, str]) -> tuple[Entry | None, Vector | None]:
        assert self.embedder is not None and self.index is not None
        bucket, text = sem
        vec = await self.embedder.embed(text)
        if vec is None:
            return None, None
        found = await self.index.nearest(bucket, vec)
        if found is None or found[1] < self.options.semantic_threshold:
            return None, vec
        raw = await self.store.get(found[0])
        entry = decode_entry(raw) if raw is not None else None
        if entry is None:  # the answer expired or was evicted: forget its vector too
            await self.index.drop(bucket, found[0])
        return entry, vec

    async def _store(
        self,
        ctx: RequestContext,
        key: str,
        completion: bytes,
        max_age: int,
        sem: tuple[str, str] | None,
        vec: Vector | None,
        embedded: bool,
    ) -> None:
        value = encode_entry(ctx.provider, completion)
        if len(value) > self.options.max_entry_bytes:
            return
        await self.store.set(key, value, max_age)
        if sem is None or self.index is None or self.embedder is None:
            return
        if vec is None and not embedded:  # REFRESH skipped the lookup's embedding
            vec = await self.embedder.embed(sem[1])
        if vec is not None:
            await self.index.add(sem[0], key, vec, max_age)


def _status(ctx: RequestContext, status: str) -> None:
    ctx.cache_status = status
    ctx.response_headers[STATUS_HEADER] = status
