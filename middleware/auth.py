"""Gateway API keys (off by default).

When keys are configured (in options or ``$GATEWAY_API_KEYS``, comma-separated), every
request must carry one, in ``x-portkey-api-key`` (what the portkey-ai SDK sends) or, failing
that, ``Authorization: Bearer`` (what the openai SDK sends) or ``x-api-key`` (what Anthropic's
SDKs and Claude Code send). The header used for the gateway key is not forwarded to the
provider; provider keys then come from settings or another header. Keys may be written as
``sha256:<hex>`` so settings never hold them in clear.
"""

from __future__ import annotations

import hashlib
import hmac
import os

import msgspec
from multidict import CIMultiDictProxy

from proxy.context import RequestContext
from proxy.errors import AuthenticationError
from proxy.pipeline import Next
from proxy.reply import Reply


class KeyEntry(msgspec.Struct, forbid_unknown_fields=True):
    key: str
    name: str = "default"


class AuthOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    keys: list[str | KeyEntry] = msgspec.field(default_factory=list)
    keys_env: str = "GATEWAY_API_KEYS"


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def bearer(value: str | None) -> str | None:
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


class AuthMiddleware:
    Options = AuthOptions

    def __init__(self, options: AuthOptions | None = None) -> None:
        options = options or AuthOptions()
        entries: list[KeyEntry] = [
            e if isinstance(e, KeyEntry) else KeyEntry(e, f"key{i}")
            for i, e in enumerate(options.keys)
        ]
        env_value = os.environ.get(options.keys_env, "") if options.keys_env else ""
        entries += [
            KeyEntry(k.strip(), f"env{i}") for i, k in enumerate(env_value.split(",")) if k.strip()
        ]
        self._by_digest: dict[bytes, str] = {}
        for e in entries:
            if e.key.startswith("sha256:"):
                try:
                    digest = bytes.fromhex(e.key[7:])
                except ValueError:
                    raise ValueError(f"key {e.name!r}: sha256: must be followed by hex") from None
                if len(digest) != 32:
                    raise ValueError(f"key {e.name!r}: a sha256 digest has 64 hex digits")
            else:
                digest = _digest(e.key)
            self._by_digest[digest] = e.name
        self.enabled = bool(self._by_digest)

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
        digest = _digest(key)
        for known, name in self._by_digest.items():
            if hmac.compare_digest(known, digest):
                return name, used
        raise AuthenticationError("invalid gateway API key", code="invalid_gateway_key")

    async def __call__(self, ctx: RequestContext, call_next: Next) -> Reply:
        found = self.authenticate(ctx.headers)
        if found is not None:
            ctx.principal, ctx.auth_header = found
        return await call_next(ctx)
