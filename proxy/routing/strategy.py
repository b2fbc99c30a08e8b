"""Running a routing config: walk the tree, call the chain's tail once per attempt.

A node with targets applies its strategy to its children (each child may be a subtree):
``single`` takes the first, ``fallback`` tries them in order while the failure matches
``on_status_codes`` (any error when unset; connection failures and timeouts always),
``loadbalance`` draws one by weight, ``conditional`` picks the target named by the first
matching query (else ``default``). A leaf is one provider target, tried once plus its
retries. Children of fallback and load-balance nodes sit behind circuit breakers when a
``cb_config`` applies to them (conditional nodes are not evaluated by breakers).

Every attempt is recorded in ``ctx.targets_tried`` (its option index) and logged when it
fails; the response carries ``x-portkey-last-used-option-index`` and
``x-portkey-retry-attempt-count``.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import structlog

from proxy.context import Attempt
from proxy.errors import GatewayError, InvalidRequest
from proxy.reply import Chunk, Reply, StreamReply, aclose
from proxy.routing.attempt import (
    BodySnapshot,
    apply_overrides,
    call_target,
    is_transport,
    moves_on,
)
from proxy.routing.breaker import BreakerPolicy, BreakerStore, MemoryBreakerStore
from proxy.routing.conditions import matches
from proxy.routing.config import CircuitBreakerConfig, ConfigNode, Retry
from proxy.routing.resolve import leaf_target, split_model
from proxy.routing.retry import Backoff, BackoffOptions, RetryPlan, retry_after

if TYPE_CHECKING:
    from proxy.context import RequestContext
    from proxy.gateway import Gateway
    from proxy.pipeline import Next
    from proxy.target import Target

INDEX_HEADER = "x-portkey-last-used-option-index"
RETRY_HEADER = "x-portkey-retry-attempt-count"

log = structlog.get_logger("gateway.router")


class Engine:
    """Process-wide routing state: breaker store, backoff settings, the RNG."""

    def __init__(
        self,
        gw: Gateway,
        store: BreakerStore | None = None,
        backoff: BackoffOptions | None = None,
        rng: random.Random | None = None,
        max_attempts: int = 20,
    ) -> None:
        self.gw = gw
        # upstream calls one request may make in all (a client's inline config could list
        # a hundred targets with five retries each: no amplifier for a single request)
        self.max_attempts = max_attempts
        self.store: BreakerStore = store or MemoryBreakerStore()
        self.backoff = backoff or BackoffOptions()
        self.rng = rng or random.Random()
        # settings configs get a stable breaker namespace from their id
        self.config_ids = {id(node): cid for cid, node in gw.configs.items()}
        if gw.default_config is not None:
            self.config_ids.setdefault(id(gw.default_config), "default_config")

    def breaker_base(self, ctx: RequestContext, config: ConfigNode) -> str:
        cid = self.config_ids.get(id(config))
        if cid is not None:
            return f"id:{cid}"
        raw = ctx.headers.get("x-portkey-config", "")  # inline: the client's exact text
        return "inline:" + hashlib.sha256(raw.encode()).hexdigest()[:24]

    async def run(
        self,
        ctx: RequestContext,
        config: ConfigNode,
        client: dict[str, Any],
        inline: bool,
        call_next: Next,
    ) -> Reply:
        run = RequestRun(self, ctx, config, client, inline, call_next)
        return await run.node(config, [config], "config", None)


def first_leaf(node: ConfigNode) -> tuple[list[ConfigNode], str]:
    """The path to the first leaf and its option index (for callers that need no strategy)."""
    path = [node]
    index = "config"
    while node.targets:
        node = node.targets[0]
        path.append(node)
        index += ".targets[0]"
    return path, index


async def _record_at_end(
    chunks: AsyncIterator[Chunk], store: BreakerStore, key: str, policy: BreakerPolicy
) -> AsyncIterator[Chunk]:
    """Relay a stream and feed its breaker the outcome: a stream that breaks after its first
    chunk is a failure of its target too. A client that hangs up says nothing either way."""
    outcome: bool | None = None
    try:
        async for chunk in chunks:
            yield chunk
        outcome = False
    except GatewayError as err:
        outcome = policy.is_failure(err.status, is_transport(err))
        raise
    finally:
        await aclose(chunks)
        if outcome is not None:
            await store.record(key, policy, outcome)


def pick_weighted(weights: list[float], rng: random.Random) -> int:
    """Index drawn with probability weight / sum(weights); weights need not sum to 1."""
    total = sum(weights)
    point = rng.random() * total
    for i, w in enumerate(weights):
        point -= w
        if point < 0 and w > 0:
            return i
    return max(i for i, w in enumerate(weights) if w > 0)  # float rounding at the top end


def _child_weight(node: ConfigNode) -> float:
    return 1.0 if node.weight is None else node.weight


def _effective_retry(path: list[ConfigNode]) -> Retry | None:
    for node in reversed(path):
        if node.retry is not None:
            return node.retry
    return None


class RequestRun:
    """One request's walk through a config."""

    def __init__(
        self,
        engine: Engine,
        ctx: RequestContext,
        config: ConfigNode,
        client: dict[str, Any],
        inline: bool,
        call_next: Next,
    ) -> None:
        self.engine = engine
        self.ctx = ctx
        self.config = config
        self.client = client
        self.inline = inline
        self.call_next = call_next
        self.snapshot = BodySnapshot(ctx)
        self.backoff = Backoff(engine.backoff, engine.rng)
        self.default_provider = ctx.headers.get("x-portkey-provider")
        self.exhausted = False  # the request's attempt budget is spent
        self._base: str | None = None
        self._query_data: dict[str, Any] | None = None
        self.label = engine.config_ids.get(id(config), "inline")  # for ctx.trail

    # -- tree walk ---------------------------------------------------------------------

    async def node(
        self,
        node: ConfigNode,
        path: list[ConfigNode],
        index: str,
        cb: CircuitBreakerConfig | None,
    ) -> Reply:
        if not node.targets:
            return await self.leaf(path, index)
        strategy = node.strategy
        mode = strategy.mode if strategy else "single"
        cb = (strategy.cb_config if strategy else None) or node.cb_config or cb
        kids = [
            (child, [*path, child], f"{index}.targets[{i}]") for i, child in enumerate(node.targets)
        ]
        if mode == "conditional":
            child, child_path, child_index = kids[self.choose(node)]
            return await self.node(child, child_path, child_index, cb)
        policy = BreakerPolicy.of(cb) if cb is not None else None
        if mode == "loadbalance":
            return await self.loadbalance(kids, policy, cb)
        if mode == "fallback":
            codes = strategy.on_status_codes if strategy else None
            return await self.fallback(kids, policy, cb, codes)
        child, child_path, child_index = kids[0]
        return await self.guarded(child, child_path, child_index, policy, cb)

    async def fallback(
        self,
        kids: list[tuple[ConfigNode, list[ConfigNode], str]],
        policy: BreakerPolicy | None,
        cb: CircuitBreakerConfig | None,
        codes: list[int] | None,
    ) -> Reply:
        last: GatewayError | None = None
        skipped: list[tuple[ConfigNode, list[ConfigNode], str]] = []
        for kid in kids:
            if policy is not None and await self.is_open(kid[2], policy):
                skipped.append(kid)
                continue
            try:
                return await self.guarded(*kid, policy, cb)
            except GatewayError as err:
                if self.exhausted or not moves_on(err, codes):
                    raise
                last = err
        if last is None:  # every target's circuit is open: bypass the breakers
            for kid in skipped:
                try:
                    return await self.guarded(*kid, None, cb)
                except GatewayError as err:
                    if self.exhausted or not moves_on(err, codes):
                        raise
                    last = err
        assert last is not None
        raise last

    async def loadbalance(
        self,
        kids: list[tuple[ConfigNode, list[ConfigNode], str]],
        policy: BreakerPolicy | None,
        cb: CircuitBreakerConfig | None,
    ) -> Reply:
        weights = [_child_weight(k[0]) for k in kids]
        rng = self.engine.rng
        if policy is not None:
            live = list(weights)
            while any(w > 0 for w in live):
                i = pick_weighted(live, rng)
                if not await self.is_open(kids[i][2], policy):
                    return await self.guarded(*kids[i], policy, cb)
                live[i] = 0.0
            policy = None  # every target's circuit is open: bypass the breakers
        i = pick_weighted(weights, rng)
        return await self.guarded(*kids[i], policy, cb)

    def choose(self, node: ConfigNode) -> int:
        strategy = node.strategy
        assert strategy is not None and node.targets is not None
        names = {t.name: i for i, t in enumerate(node.targets) if t.name}
        data = self.query_data()
        for cond in strategy.conditions or ():
            if matches(cond.query, data):
                return names[cond.then]
        if strategy.default is not None:
            return names[strategy.default]
        raise InvalidRequest(
            "no routing condition matched this request and the config has no default",
            param="x-portkey-config",
            code="no_matching_target",
        )

    def query_data(self) -> dict[str, Any]:
        if self._query_data is None:
            ctx = self.ctx
            self._query_data = {
                "metadata": ctx.metadata,
                "params": ctx.body.as_dict(),
                "url": {"pathname": getattr(ctx, "path", "/v1/chat/completions")},
            }
        return self._query_data

    # -- circuit breakers ---------------------------------------------------------------

    def breaker_key(self, index: str) -> str:
        if self._base is None:
            self._base = self.engine.breaker_base(self.ctx, self.config)
        return f"{self._base}|{index}"

    async def is_open(self, index: str, policy: BreakerPolicy) -> bool:
        verdict = await self.engine.store.check(self.breaker_key(index), policy)
        if verdict == "open":
            self.ctx.targets_tried.append(f"{index}:circuit-open")
            self.ctx.trail.append(Attempt(index, self.label, None, None, "circuit_open", 0.0))
            log.info("circuit open, target skipped", request_id=self.ctx.request_id, index=index)
        return verdict == "open"

    async def guarded(
        self,
        child: ConfigNode,
        path: list[ConfigNode],
        index: str,
        policy: BreakerPolicy | None,
        cb: CircuitBreakerConfig | None,
    ) -> Reply:
        """Run a child of a fallback/loadbalance node and feed its breaker the outcome."""
        if policy is None:
            return await self.node(child, path, index, cb)
        key = self.breaker_key(index)
        store = self.engine.store
        try:
            reply = await self.node(child, path, index, cb)
        except GatewayError as err:
            failed = policy.is_failure(err.status, is_transport(err))
            await store.record(key, policy, failed)
            raise
        if isinstance(reply, StreamReply):  # the outcome is known when the stream ends
            return reply.wrap(lambda chunks: _record_at_end(chunks, store, key, policy))
        await store.record(key, policy, False)
        return reply

    # -- leaves: one target, its retries ------------------------------------------------

    async def leaf(self, path: list[ConfigNode], index: str) -> Reply:
        ctx = self.ctx
        ctx.response_headers[INDEX_HEADER] = index
        ctx.response_headers[RETRY_HEADER] = "0"
        try:
            target = leaf_target(
                path, self.engine.gw, self.client, self.inline, self.default_provider
            )
        except GatewayError as err:
            ctx.targets_tried.append(f"{index}:unusable")
            ctx.trail.append(Attempt(index, self.label, None, err.status, "unusable", 0.0))
            log.info(
                "config target unusable",
                request_id=ctx.request_id,
                index=index,
                status=err.status,
                code=err.code,
            )
            raise
        plan = RetryPlan(_effective_retry(path))
        retry = 0
        while True:
            try:
                return await self.attempt(target, index)
            except GatewayError as err:
                if self.exhausted or retry >= plan.retries or not plan.retries_on(err.status):
                    raise
                hint = retry_after(err.headers) if plan.honour_hint else None
                wait = self.backoff.next_wait(retry, hint)
                if wait is None:  # past the request's wait budget
                    raise
                retry += 1
                ctx.response_headers[RETRY_HEADER] = str(retry)
                await asyncio.sleep(wait)

    async def attempt(self, target: Target, index: str) -> Reply:
        ctx = self.ctx
        self.snapshot.restore(ctx)
        ctx.response_headers[INDEX_HEADER] = index
        ctx.target = ctx.bound_target = target  # leaf_target bound it
        ctx.provider = target.provider
        ctx.attempts += 1
        ctx.targets_tried.append(index)
        self.exhausted = ctx.attempts >= self.engine.max_attempts
        t0 = time.perf_counter()
        try:
            apply_overrides(ctx, target.override_params)
            if ctx.model.startswith("@"):  # override_params.model: "@slug/model"
                ctx.model = split_model(ctx.model)[1]
            hook = ctx.attempt_hook  # e.g. guardrails of the nodes on this target's path
            if hook is None:
                reply = await call_target(ctx, target, self.call_next)
            else:
                reply = await hook(ctx, index, lambda: call_target(ctx, target, self.call_next))
        except GatewayError as err:
            ms = round((time.perf_counter() - t0) * 1000.0, 3)
            ctx.trail.append(Attempt(index, self.label, target.provider, err.status, err.type, ms))
            log.info(
                "upstream attempt failed",
                request_id=ctx.request_id,
                index=index,
                provider=target.provider,
                status=err.status,
                error_type=err.type,
                code=err.code,
                ms=ms,
            )
            raise
        ms = round((time.perf_counter() - t0) * 1000.0, 3)
        ctx.trail.append(Attempt(index, self.label, target.provider, reply.status, "ok", ms))
        return reply
