"""Gateway API keys and their policies: who may call, what, how fast, for how much.

Off by default. On when keys are configured (in options or ``$GATEWAY_API_KEYS``,
comma-separated), or when the admin API is on (``admin.keys``) and ``runtime_keys`` is
true: keys made through ``/admin/keys`` are then accepted too. Every request must then carry
a key, in ``x-portkey-api-key`` (what the portkey-ai SDK sends) or, failing that,
``Authorization: Bearer`` (what the openai SDK sends) or ``x-api-key`` (what Anthropic's
SDKs and Claude Code send). The header used for the gateway key is not forwarded to the
provider; provider keys then come from settings or another header. Keys may be written as
``sha256:<hex>`` so settings never hold them in clear.

A key entry may carry a policy (team, rpm, tpm, max_parallel, budget_usd, budget_period,
models, providers, expires_at, metadata, redis_down; docs/keys.md). Limits are reserved
here before the rest of the chain runs (one atomic step, ``proxy.quota``) and settled with
the real usage when the answer or the stream ends, however it ends; the allowed providers
and models are checked by the terminal step for every attempt (``ctx.policy``).
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

import msgspec
from multidict import CIMultiDictProxy

from proxy.context import RequestContext
from proxy.errors import AuthenticationError, GatewayError
from proxy.keys import KeyRing, bearer, digest
from proxy.observability.usage_estimate import StreamUsage
from proxy.pipeline import Next, SettingsError
from proxy.quota.estimate import Pricer, prompt_tokens
from proxy.quota.headers import rate_headers, replace_rate_headers
from proxy.quota.policy import GatewayKeyEntry, KeyPolicy, Limits, check_limits
from proxy.reply import BodyReply, Chunk, CompletionReply, Reply, StreamReply

if TYPE_CHECKING:
    from proxy.gateway import Gateway
    from proxy.quota.service import Lease, Quota

# endpoints that call no model: authenticated and checked, never metered
UNMETERED = frozenset({"models", "catalog"})


class AuthOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    keys: list[str | GatewayKeyEntry] = msgspec.field(default_factory=list)
    keys_env: str = "GATEWAY_API_KEYS"
    # accept keys made through the admin API (when admin.keys turns it on)
    runtime_keys: bool = True


def _entries(options: AuthOptions) -> list[GatewayKeyEntry]:
    out = [
        e if isinstance(e, GatewayKeyEntry) else GatewayKeyEntry(key=e, name=f"key{i}")
        for i, e in enumerate(options.keys)
    ]
    env_value = os.environ.get(options.keys_env, "") if options.keys_env else ""
    extra = [k.strip() for k in env_value.split(",") if k.strip()]
    return out + [GatewayKeyEntry(key=k, name=f"env{i}") for i, k in enumerate(extra)]


class AuthMiddleware:
    Options = AuthOptions

    def __init__(self, options: AuthOptions | None = None) -> None:
        self.options = options = options or AuthOptions()
        entries = _entries(options)
        self.ring = KeyRing([e.entry() for e in entries])
        self.policies: dict[str, KeyPolicy] = {}
        for i, e in enumerate(entries):
            limits = e.limits()
            check_limits(limits, f"keys[{i}]")
            known = self.policies.get(e.name)
            if known is not None and known.limits != limits:
                raise ValueError(f"keys[{i}]: two keys named {e.name!r} with different policies")
            self.policies[e.name] = KeyPolicy("s:" + e.name, e.name, limits)
        self.enabled = bool(self.ring)
        self.runtime = False
        self.gw: Gateway | None = None
        self.quota: Quota | None = None
        self.pricer: Pricer | None = None
        self.default_output = 1024

    async def startup(self, gateway: Gateway) -> None:
        self.gw = gateway
        self.quota = gateway.quota
        self.pricer = Pricer(gateway)
        self.default_output = gateway.settings.limits.default_output_tokens
        self.runtime = self.options.runtime_keys and gateway.admin.enabled
        self.enabled = bool(self.ring) or self.runtime
        for name, p in self.policies.items():
            gateway.keys.register_settings(name, p.limits)
        if self.runtime and gateway.settings.server.workers > 1 and not gateway.keys.shared:
            raise SettingsError(
                "admin keys with server.workers > 1 need redis.url: keys made at run time "
                "must be seen by every worker"
            )

    async def authenticate(self, headers: CIMultiDictProxy[str]) -> tuple[KeyPolicy, str] | None:
        """(policy, header used) for a valid key; raises 401 otherwise. None when off."""
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
        policy = self.policies[name] if name is not None else None
        if policy is None and self.runtime and self.gw is not None:
            policy = await self.gw.keys.find(digest(key))
        if policy is None:
            raise AuthenticationError("invalid gateway API key", code="invalid_gateway_key")
        if policy.expired(time.time()):
            raise AuthenticationError("this gateway key has expired", code="expired_gateway_key")
        return policy, used

    def skips(self, ctx: RequestContext) -> bool:
        return not self.enabled  # no gateway keys: every request passes

    async def __call__(self, ctx: RequestContext, call_next: Next) -> Reply:
        found = await self.authenticate(ctx.headers)
        if found is None:
            return await call_next(ctx)
        policy, ctx.auth_header = found
        ctx.principal = policy.name
        ctx.policy = policy
        if not policy.limited or ctx.endpoint in UNMETERED:
            return await call_next(ctx)
        return await self.metered(ctx, policy, call_next)

    async def metered(self, ctx: RequestContext, policy: KeyPolicy, call_next: Next) -> Reply:
        quota, pricer = self.quota, self.pricer
        assert quota is not None and pricer is not None, "AuthMiddleware.startup was not called"
        prompt = prompt_tokens(ctx)
        head = ctx.body.head
        output = head.max_output if head.max_output is not None else self.default_output
        micros = pricer.estimate(ctx, prompt, output) if policy.budget_micros >= 0 else 0
        ask = quota.ask(policy, ctx.request_id, prompt + output, micros)
        decision, lease = await quota.reserve(policy, ask)  # 429 / 503 raised here
        ours = rate_headers(policy, decision)
        try:
            reply = await call_next(ctx)
        except GatewayError as exc:
            lease.settle(0, 0)  # an upstream failure: counted as a request, no tokens, no cost
            if ours:
                replace_rate_headers(exc.headers, ours)
            raise
        except BaseException:
            lease.settle(0, 0)
            raise
        if ours:
            replace_rate_headers(reply.headers, ours)
        if isinstance(reply, StreamReply):  # settled when the stream ends, however it ends
            return reply.watch(_SettleLease(self, ctx, lease))
        try:
            usage = None
            if isinstance(reply, CompletionReply):
                usage = reply.completion.usage()
            elif isinstance(reply, BodyReply):
                usage = reply.usage
            lease.settle(*pricer.actual(ctx, usage))
        finally:
            lease.settle(ask.tokens, ask.micros)  # only if the above raised: the estimate
        return reply

    def _settle_stream(
        self, ctx: RequestContext, lease: Lease, counter: StreamUsage, started: bool
    ) -> None:
        assert self.pricer is not None
        try:
            if not started:
                lease.settle(0, 0)  # the upstream sent nothing: nothing was produced
                return
            usage, _ = counter.result_for(ctx)
            lease.settle(*self.pricer.actual(ctx, usage))
        finally:
            lease.settle(lease.ask.tokens, lease.ask.micros)  # only if the above raised


__all__ = ["AuthMiddleware", "AuthOptions", "GatewayKeyEntry", "Limits"]


class _SettleLease:
    """Settles a stream's quota lease when it ends, fails or the client leaves: the usage
    reported so far, or estimated from the text streamed (nothing if nothing came)."""

    __slots__ = ("counter", "ctx", "lease", "mw", "started")

    def __init__(self, mw: AuthMiddleware, ctx: RequestContext, lease: Lease) -> None:
        self.mw, self.ctx, self.lease = mw, ctx, lease
        self.counter = StreamUsage()
        self.started = False

    def chunk(self, chunk: Chunk) -> None:
        self.started = True
        self.counter.feed(chunk)

    def end(self, status: int, error: str | None) -> None:
        self.mw._settle_stream(self.ctx, self.lease, self.counter, self.started)
