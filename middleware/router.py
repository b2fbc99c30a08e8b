"""Router: decides the target(s) of a request and calls the rest of the chain per attempt.

Provider resolution is in ``proxy.routing.resolve``; the strategies (fallback, load
balancing, conditional routing, retries, timeouts, circuit breaker) in
``proxy.routing.strategy``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from proxy.context import RequestContext
from proxy.errors import InvalidRequest
from proxy.pipeline import Next
from proxy.providers import canonical, get_adapter
from proxy.reply import Reply
from proxy.routing.resolve import (
    check_host,
    header_fields,
    slug_target,
    split_model,
)
from proxy.routing.strategy import run_config
from proxy.target import Target

if TYPE_CHECKING:
    from proxy.gateway import Gateway


def apply_overrides(ctx: RequestContext, overrides: dict[str, object] | None) -> None:
    if not overrides:
        return
    try:
        ctx.body.set(**overrides)
    except msgspec.ValidationError as exc:
        raise InvalidRequest(
            f"override_params make an invalid request: {exc}",
            param="override_params",
            code="invalid_config",
        ) from None
    if "model" in overrides:
        ctx.model = ctx.body.request.model


class RouterMiddleware:
    def __init__(self) -> None:
        self.gw: Gateway | None = None

    async def startup(self, gateway: Gateway) -> None:
        self.gw = gateway

    async def __call__(self, ctx: RequestContext, call_next: Next) -> Reply:
        gw = self.gw
        assert gw is not None, "RouterMiddleware.startup was not called"
        client = header_fields(ctx)
        slug, model = split_model(ctx.request.model)
        ctx.model = model
        config = ctx.config
        if slug is not None:
            target, trusted = slug_target(slug, gw, client)
            return await self.single(ctx, target, trusted, call_next)
        if config is not None:
            return await run_config(ctx, config, gw, client, ctx.config_inline, call_next)
        provider = ctx.headers.get("x-portkey-provider")
        if not provider:
            raise InvalidRequest(
                "no provider: send x-portkey-provider, an x-portkey-config, "
                "or a model like @provider-slug/model",
                param="x-portkey-provider",
                code="missing_provider",
            )
        get_adapter(provider)
        target = msgspec.convert({"provider": canonical(provider), **client}, Target)
        return await self.single(ctx, target, False, call_next)

    async def single(
        self, ctx: RequestContext, target: Target, trusted: bool, call_next: Next
    ) -> Reply:
        assert self.gw is not None
        check_host(target, trusted, self.gw)
        apply_overrides(ctx, target.override_params)
        ctx.target = target
        ctx.provider = target.provider
        ctx.attempts = 1
        return await call_next(ctx)
