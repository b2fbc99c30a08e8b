"""The pinned end of every chain: bind the target, then the front door's upstream call.

Whatever the endpoint, the last step is the same: the chosen target is bound
(``proxy.routing.resolve.bind``: a gateway-held credential goes only where settings send
it), the provider adapter is looked up, and the front door makes the call with what
``Upstream`` offers: forwarded client headers, the relay (pooled session, limits, stream
pump) and the canonical chat call that translating front doors fall back on. A field the
target's format cannot carry comes back as a 400 naming the provider.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from proxy.body import RequestBody, Untranslatable
from proxy.credentials import with_credentials
from proxy.errors import GatewayError
from proxy.imagefetch import ImageFetcher
from proxy.providers import get_adapter
from proxy.routing.resolve import bind
from proxy.terminal.relay import Relay

if TYPE_CHECKING:
    from proxy.context import RequestContext
    from proxy.frontdoors import FrontDoor
    from proxy.gateway import Gateway
    from proxy.providers.base import ProviderAdapter, Translation, UpstreamRequest
    from proxy.reply import Reply
    from proxy.target import Target

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


class Upstream:
    """What the terminal step offers a front door for one attempt."""

    __slots__ = ("adapter", "ctx", "target", "terminal")

    def __init__(
        self, terminal: Terminal, ctx: RequestContext, adapter: ProviderAdapter, target: Target
    ) -> None:
        self.terminal = terminal
        self.ctx = ctx
        self.adapter = adapter
        self.target = target

    @property
    def gw(self) -> Gateway:
        return self.terminal.gw

    def prepare(self, up: UpstreamRequest) -> UpstreamRequest:
        """Add the client headers the target forwards (never credentials or hop-by-hop)."""
        names = self.target.forward_headers
        if names:
            headers = self.ctx.headers
            for name in names:
                low = name.lower()
                if low in _NOT_FORWARDED or low.startswith("x-portkey-"):
                    continue
                value = headers.get(low)
                if value is not None:
                    up.headers[low] = value
        return up

    async def relay(
        self, up: UpstreamRequest, translation: Translation | None = None, framed: bool = False
    ) -> Reply:
        """Send ``up`` and read the answer with ``translation`` (default: the adapter's).
        ``framed``: the door writes chat SSE, so a stream may come as framed chunks."""
        return await self.terminal.relay(self.ctx, translation or self.adapter, up, framed)

    async def fetch(self, up: UpstreamRequest) -> bytes:
        """A plain JSON call: the answer's bytes; an error status as the adapter reads it."""
        return await self.terminal.relay.fetch(self.ctx, self.adapter, up)

    async def chat(self, body: RequestBody | None = None, framed: bool = False) -> Reply:
        """The canonical call: the adapter's chat request from the body (or ``body``: a
        chat body the front door built for this attempt), relayed. ``framed``: the door
        writes chat SSE as it comes (the chat door), so a stream may be relayed scanned."""
        ctx, adapter = self.ctx, self.adapter
        body = body or ctx.body
        body = await self.terminal.images.inline(body, adapter)  # image URLs -> bytes
        if len(body.raw) < OFFLOAD_BYTES:
            up = adapter.build_request(body, self.target, ctx.model)
        else:  # translating and signing (SigV4 hashes the body) megabytes: off the loop
            up = await asyncio.to_thread(adapter.build_request, body, self.target, ctx.model)
        return await self.relay(self.prepare(up), framed=framed)


class Terminal:
    def __init__(self, gw: Gateway, doors: dict[str, FrontDoor]) -> None:
        self.gw = gw
        self.doors = doors
        self.relay = Relay(gw)
        self.images = ImageFetcher(gw)  # for adapters that cannot take image URLs

    async def __call__(self, ctx: RequestContext) -> Reply:
        door = self.doors[ctx.endpoint]
        target = ctx.target
        if target is None:
            if ctx.endpoint in door.targetless:  # answered by the gateway itself
                return await door.upstream(ctx, None)
            raise GatewayError("no target was chosen for this request (router missing?)")
        if target is not ctx.bound_target:  # whoever chose it, nothing goes out unbound
            bind(target, self.gw)
            ctx.bound_target = target
        if ctx.policy is not None:  # the gateway key's allowed providers / @slugs / models
            ctx.policy.check_target(target.provider, target.slug, ctx.model)
        adapter = get_adapter(target.provider)
        target = await with_credentials(adapter, target, self.gw.credentials)  # cloud tokens
        try:
            return await door.upstream(ctx, Upstream(self, ctx, adapter, target))
        except Untranslatable as exc:
            raise exc.for_provider(adapter.name) from None
