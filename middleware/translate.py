"""Translate: the canonical request into the target provider's native call, and back.

Pinned by the framework as the end of the chain, just before the relay. The adapter does
the shaping (``build_request`` / ``parse_response`` / ``StreamTranslator``); this step adds
what is the same for every provider: forwarded client headers.
"""

from __future__ import annotations

import asyncio

from middleware.relay import Relay
from proxy.context import RequestContext
from proxy.errors import GatewayError
from proxy.gateway import Gateway
from proxy.providers import get_adapter
from proxy.reply import Reply
from proxy.routing.resolve import bind

# never forwarded, whatever forward_headers says: credentials, hop-by-hop, our own contract
_NOT_FORWARDED = frozenset(
    {
        "authorization",
        "x-api-key",
        "api-key",
        "x-goog-api-key",
        "cookie",
        "host",
        "content-length",
        "content-type",
        "connection",
        "transfer-encoding",
        "proxy-authorization",
        "keep-alive",
        "upgrade",
        "te",
        "trailer",
        # who a provider key acts for: set only through target fields, where bind() rules
        "openai-organization",
        "openai-project",
        "x-goog-user-project",
        "anthropic-workspace-id",
    }
)


# bodies from this size are translated in a worker thread (a 25 MB body: tens of ms)
OFFLOAD_BYTES = 512 * 1024


class Translate:
    def __init__(self, gateway: Gateway) -> None:
        self.gw = gateway
        self.relay = Relay(gateway)

    async def __call__(self, ctx: RequestContext) -> Reply:
        target = ctx.target
        if target is None:
            raise GatewayError("no target was chosen for this request (router missing?)")
        bind(target, self.gw)  # whoever chose the target, nothing reaches an upstream unbound
        adapter = get_adapter(target.provider)
        if len(ctx.body.raw) < OFFLOAD_BYTES:
            up = adapter.build_request(ctx.body, target, ctx.model)
        else:  # translating and signing (SigV4 hashes the body) megabytes: off the loop
            up = await asyncio.to_thread(adapter.build_request, ctx.body, target, ctx.model)
        if target.forward_headers:
            for name in target.forward_headers:
                low = name.lower()
                if low in _NOT_FORWARDED or low.startswith("x-portkey-"):
                    continue
                value = ctx.headers.get(low)
                if value is not None:
                    up.headers[low] = value
        return await self.relay(ctx, adapter, up)
