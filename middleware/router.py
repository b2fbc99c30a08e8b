"""Router: decides the target(s) of a request and calls the rest of the chain per attempt.

Provider resolution is in ``proxy.routing.resolve``; the strategies (fallback, load
balancing, conditional routing, retries, timeouts, circuit breaker) in
``proxy.routing.strategy``. Options (settings ``middleware[].options``)::

    circuit_breaker: {store: memory | redis, redis_url: ..., key_prefix: ...}
    backoff: {base_ms: 250, max_backoff_ms: 8000, max_wait_ms: 60000}
    seed: 42          # fixed RNG seed for load balancing and jitter (tests, replays)
    max_attempts: 20  # upstream calls one request may make, retries and fallbacks together
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Literal

import msgspec

from proxy.context import RequestContext
from proxy.errors import InvalidRequest
from proxy.frontdoors import ENDPOINTS, TARGETLESS
from proxy.pipeline import Next
from proxy.reply import Reply
from proxy.routing.attempt import apply_overrides, call_target
from proxy.routing.breaker import BreakerStore, MemoryBreakerStore
from proxy.routing.resolve import header_fields, header_target, slug_target, split_model
from proxy.routing.retry import BackoffOptions
from proxy.routing.strategy import Engine
from proxy.target import Target

if TYPE_CHECKING:
    from proxy.gateway import Gateway

__all__ = ["RouterMiddleware", "RouterOptions", "apply_overrides"]


class BreakerStoreOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    # None: Redis when the settings' top-level redis.url is set, else memory
    store: Literal["memory", "redis"] | None = None
    redis_url: str | None = None  # None: the top-level redis.url, else 127.0.0.1
    key_prefix: str = "llm-gateway:cb:"


class RouterOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    circuit_breaker: BreakerStoreOptions = msgspec.field(default_factory=BreakerStoreOptions)
    backoff: BackoffOptions = msgspec.field(default_factory=BackoffOptions)
    seed: int | None = None
    max_attempts: int = 20  # upstream calls per request, retries and fallbacks together


class RouterMiddleware:
    Options = RouterOptions
    # every endpoint with an upstream (the settings' model catalog, stored responses: none)
    endpoints = ENDPOINTS - TARGETLESS

    def __init__(self, options: RouterOptions | None = None) -> None:
        self.options = options or RouterOptions()
        self.gw: Gateway | None = None
        self.engine: Engine | None = None

    async def startup(self, gateway: Gateway) -> None:
        self.gw = gateway
        cb = self.options.circuit_breaker
        store: BreakerStore
        shared = gateway.settings.redis.url  # the replicas' shared state, unless overridden
        if cb.store == "redis" or (cb.store is None and shared):
            from proxy.routing.breaker_redis import RedisBreakerStore

            url = cb.redis_url or shared or "redis://127.0.0.1:6379/0"
            store = RedisBreakerStore(url, cb.key_prefix)
        else:
            store = MemoryBreakerStore()
        self.engine = Engine(
            gateway,
            store,
            self.options.backoff,
            random.Random(self.options.seed),
            max(1, self.options.max_attempts),
        )

    async def shutdown(self) -> None:
        if self.engine is not None:
            await self.engine.store.close()

    async def __call__(self, ctx: RequestContext, call_next: Next) -> Reply:
        gw, engine = self.gw, self.engine
        assert gw is not None and engine is not None, "RouterMiddleware.startup was not called"
        client = header_fields(ctx)
        slug, model = split_model(ctx.body.head.model)
        ctx.model = model
        config = ctx.config
        if slug is not None:
            return await self.single(ctx, slug_target(slug, gw, client), call_next)
        if config is not None:
            return await engine.run(ctx, config, client, ctx.config_inline, call_next)
        provider = ctx.headers.get("x-portkey-provider")
        if not provider:
            raise InvalidRequest(
                "no provider: send x-portkey-provider, an x-portkey-config, "
                "or a model like @provider-slug/model",
                param="x-portkey-provider",
                code="missing_provider",
            )
        return await self.single(ctx, header_target(provider, gw, client), call_next)

    async def single(self, ctx: RequestContext, target: Target, call_next: Next) -> Reply:
        apply_overrides(ctx, target.override_params)
        ctx.target = ctx.bound_target = target  # header_target / slug_target bound it
        ctx.provider = target.provider
        ctx.attempts = 1
        if target.request_timeout:  # x-portkey-request-timeout: Portkey's 408 when it runs out
            return await call_target(ctx, target, call_next)
        return await call_next(ctx)  # the settings' read timeout stays a 504
