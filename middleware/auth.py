"""Gateway API keys (off by default).

When keys are configured (in options or ``$GATEWAY_API_KEYS``, comma-separated), every
request must carry one, in ``x-portkey-api-key`` (what the portkey-ai SDK sends) or, failing
that, ``Authorization: Bearer`` (what the openai SDK sends) or ``x-api-key`` (what Anthropic's
SDKs and Claude Code send). The header used for the gateway key is not forwarded to the
provider; provider keys then come from settings or another header. Keys may be written as
``sha256:<hex>`` so settings never hold them in clear.
"""

from __future__ import annotations

import os

import msgspec
from multidict import CIMultiDictProxy

from proxy.context import RequestContext
from proxy.errors import AuthenticationError
from proxy.keys import KeyEntry, KeyRing, bearer, entries
from proxy.pipeline import Next
from proxy.reply import Reply


class AuthOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    keys: list[str | KeyEntry] = msgspec.field(default_factory=list)
    keys_env: str = "GATEWAY_API_KEYS"


class AuthMiddleware:
    Options = AuthOptions

    def __init__(self, options: AuthOptions | None = None) -> None:
        options = options or AuthOptions()
        env_value = os.environ.get(options.keys_env, "") if options.keys_env else ""
        self.ring = KeyRing(entries(options.keys, env_value, "key"))
        self.enabled = bool(self.ring)

    def authenticate(self, headers: CIMultiDictProxy[str]) -> tuple[str, str] | None:
        """(principal, header used) for a valid key; raises 401 otherwise. None when off."""
        if not self.enabled:
            return None
        key = headers.get("x-portkey-api-key")
        used = "x-portkey-api-key"
        if not key:
            key, used = bearer(headers.get("authorization")), "authorization"
        if not key:  # Anthropic's clients (ANTHROPIC_API_KEY in Claude Code) send x-api-key
            key, used = (headers.get("x-api-key") or "").strip(), "x-api-key"
        if not key:
            raise AuthenticationError(
                "this gateway requires an API key: send x-portkey-api-key, "
                "Authorization: Bearer <gateway key> or x-api-key",
                code="missing_gateway_key",
            )
        name = self.ring.name_of(key)
        if name is None:
            raise AuthenticationError("invalid gateway API key", code="invalid_gateway_key")
        return name, used

    async def __call__(self, ctx: RequestContext, call_next: Next) -> Reply:
        found = self.authenticate(ctx.headers)
        if found is not None:
            ctx.principal, ctx.auth_header = found
        return await call_next(ctx)
