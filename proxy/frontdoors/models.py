"""``GET /v1/models``: the provider's own model list, or the settings' catalog.

With a provider named (``x-portkey-provider`` or ``x-portkey-config``) the request runs the
chain like any other (auth, routing, logs) and the provider's list is fetched —
OpenAI-compatible providers' as they send it, Anthropic's, Gemini's and Bedrock's
translated into OpenAI's shape — and kept for a minute per provider and credential.
Without one, the ``catalog`` endpoint answers the models listed in settings, with no
upstream call (still behind gateway auth).
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, ClassVar, cast

from aiohttp import web

from proxy.body import RequestBody, RequestHead
from proxy.errors import InvalidRequest
from proxy.frontdoors.base import BaseDoor
from proxy.providers.base import ModelsAdapter, implements
from proxy.reply import BodyReply, Reply
from proxy.schema import encoder

if TYPE_CHECKING:
    from proxy.context import RequestContext
    from proxy.terminal import Upstream

CACHE_SECONDS = 60.0
CACHE_ENTRIES = 256


class ModelsDoor(BaseDoor):
    endpoint = "models"
    routes: ClassVar[tuple[tuple[str, str], ...]] = (("GET", "/v1/models"),)
    targetless: ClassVar[frozenset[str]] = frozenset({"catalog"})

    def __init__(self) -> None:
        self._cache: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    @property
    def endpoints(self) -> tuple[str, ...]:
        return ("models", "catalog")

    def endpoint_of(self, request: web.Request) -> str:
        h = request.headers
        return "models" if h.get("x-portkey-provider") or h.get("x-portkey-config") else "catalog"

    async def read(self, request: web.Request, limit: int) -> RequestBody:
        return RequestBody(b"{}", RequestHead(), wire="models")

    async def upstream(self, ctx: RequestContext, up: Upstream | None) -> Reply:
        if up is None:
            return BodyReply(self._catalog())
        if not implements(up.adapter, ModelsAdapter):
            raise InvalidRequest(
                f"provider {up.adapter.name!r} has no model list this gateway can read",
                param="x-portkey-provider",
                code="unsupported_endpoint",
            )
        adapter = cast(ModelsAdapter, up.adapter)
        call = up.prepare(adapter.models_request(up.target))
        key = hashlib.sha256(repr((call.url, sorted(call.headers.items()))).encode()).hexdigest()
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and now - hit[0] < CACHE_SECONDS:
            self._cache.move_to_end(key)
            return BodyReply(hit[1], headers={"x-portkey-cache-status": "HIT"})
        raw = await up.fetch(call)
        body = adapter.parse_models(raw)
        self._cache[key] = (now, body)
        while len(self._cache) > CACHE_ENTRIES:
            self._cache.popitem(last=False)
        return BodyReply(body)

    def _catalog(self) -> bytes:
        data = [
            {"id": f"@{slug}/{model}", "object": "model", "created": 0, "owned_by": e.provider}
            for slug, e in self.gw.settings.providers.items()
            for model in e.models
        ]
        return encoder.encode({"object": "list", "data": data})
