"""Verify a bearer token (JWT) from a request header against a JWKS URL.

The JWKS is fetched on the shared session and cached per URL for ``cacheMaxAge`` seconds; a
token whose ``kid`` is not in the cached set triggers one refetch (keys rotate), at most every
30 seconds. Signature checks are PyJWT's (with ``cryptography``): no hand-rolled crypto.
"""

from __future__ import annotations

import re
import time
from typing import Any

import msgspec

from middleware.guardrails.caches import JwksEntry
from middleware.guardrails.checks.base import Check, CheckContext, Outcome
from middleware.guardrails.checks.webhook import CallFailed, _check_url, read_capped

_PYJWT: Any = None


def _jwt() -> Any:
    """PyJWT, imported on first use: it pulls in cryptography (~45 ms of start-up)."""
    global _PYJWT
    if _PYJWT is None:
        import jwt

        _PYJWT = jwt
    return _PYJWT


REFETCH_INTERVAL = 30.0
MAX_JWKS_BYTES = 128 * 1024  # real sets are a few KB; 256 cached URLs stay under 32 MB
MAX_KEYS = 100
_AGE = re.compile(r"^(\d+)\s*([smhd]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_age(value: str) -> int:
    m = _AGE.match(value.strip())
    if not m:
        raise ValueError(f"maxTokenAge: {value!r} is not like '30s', '15m', '1h' or '1d'")
    return int(m.group(1)) * _UNITS[m.group(2)]


class JwtParams(msgspec.Struct, forbid_unknown_fields=True):
    jwksUri: str
    headerKey: str = "Authorization"
    cacheMaxAge: int = 86400  # seconds
    clockTolerance: int = 5  # seconds
    maxTokenAge: str | None = "1d"
    algorithms: list[str] = msgspec.field(
        default_factory=lambda: ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"]
    )
    audience: str | None = None
    issuer: str | None = None


class Jwt(Check):
    Params = JwtParams
    needs_text = False

    def __init__(self, params: JwtParams, env: Any) -> None:
        super().__init__(params, env)
        try:
            _jwt()
        except ImportError:  # pragma: no cover - the guardrails extra installs it
            raise ValueError(
                "the jwt check needs PyJWT: pip install 'llm-gateway[guardrails]'"
            ) from None
        _check_url(params.jwksUri, "jwksUri")
        if any(a.upper().startswith("HS") or a.lower() == "none" for a in params.algorithms):
            raise ValueError("algorithms: only public-key algorithms can be checked with a JWKS")
        self.max_age = parse_age(params.maxTokenAge) if params.maxTokenAge else None
        if params.cacheMaxAge < 0 or params.clockTolerance < 0:
            raise ValueError("cacheMaxAge/clockTolerance: must not be negative")

    def urls(self) -> list[str]:
        return [self.params.jwksUri]

    async def run(self, cx: CheckContext) -> Outcome:
        p = self.params
        raw = cx.ctx.headers.get(p.headerKey)
        if not raw:
            return Outcome(False, f"no token in the {p.headerKey} header")
        token = raw[7:].strip() if raw[:7].lower() == "bearer " else raw.strip()
        try:
            kid = _jwt().get_unverified_header(token).get("kid")
        except _jwt().PyJWTError:
            return Outcome(False, "the token is not a well-formed JWT")
        try:
            key = await self._key(kid)
        except CallFailed as exc:
            return Outcome(False, f"JWKS {exc}", error=f"JWKS {exc}")
        if key is None:
            return Outcome(False, "no key in the JWKS matches the token's kid")
        try:
            claims = _jwt().decode(
                token,
                key.key,
                algorithms=p.algorithms,
                leeway=p.clockTolerance,
                audience=p.audience,
                issuer=p.issuer,
                options={"verify_aud": p.audience is not None},
            )
        except _jwt().PyJWTError as exc:
            return Outcome(False, f"JWT validation failed: {type(exc).__name__}")
        if self.max_age is not None:
            iat = claims.get("iat")
            if not isinstance(iat, int | float):
                return Outcome(False, "the token has no iat claim to check its age")
            if time.time() - iat > self.max_age + p.clockTolerance:
                return Outcome(False, "the token is older than maxTokenAge")
        return Outcome(True, "JWT validated")

    async def _key(self, kid: Any) -> Any:
        jwks = await self._jwks(force=False)
        key = _find(jwks, kid)
        if key is None:
            jwks = await self._jwks(force=True)
            key = _find(jwks, kid)
        return key

    async def _jwks(self, force: bool) -> dict[str, Any]:
        env, url = self.env, self.params.jwksUri
        # one entry (lock and keys) per URL, in a bounded LRU: clients choose the URLs
        entry = env.jwks.setdefault(url, JwksEntry)
        async with entry.lock:
            now = time.monotonic()
            if entry.jwks is not None:
                age = now - entry.fetched_at
                if age < self.params.cacheMaxAge and (not force or age < REFETCH_INTERVAL):
                    return entry.jwks
            jwks = await _get_json(env, url)
            if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
                raise CallFailed("answered without a keys list")
            entry.jwks, entry.fetched_at = {"keys": jwks["keys"][:MAX_KEYS]}, now
            return entry.jwks


async def _get_json(env: Any, url: str) -> Any:
    import aiohttp

    timeout = env.limits.webhook_timeout_ms / 1000.0
    try:
        async with env.session.get(
            url, timeout=aiohttp.ClientTimeout(total=timeout), allow_redirects=False
        ) as resp:
            if resp.status != 200:
                raise CallFailed(f"answered with status {resp.status}")
            return msgspec.json.decode(await read_capped(resp, MAX_JWKS_BYTES))
    except TimeoutError:
        raise CallFailed("timed out") from None
    except aiohttp.ClientError as exc:
        raise CallFailed(f"could not be reached ({type(exc).__name__})") from None
    except msgspec.DecodeError:
        raise CallFailed("answered with a body that is not JSON") from None


def _find(jwks: dict[str, Any], kid: Any) -> Any:
    for jwk in jwks.get("keys", []):
        if isinstance(jwk, dict) and (kid is None or jwk.get("kid") == kid):
            try:
                return _jwt().PyJWK(jwk)
            except _jwt().PyJWTError:
                continue
    return None
