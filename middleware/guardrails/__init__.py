"""Guardrails: input and output checks that can deny, rewrite, or just report.

Attached per request by the routing config (``input_guardrails`` / ``output_guardrails``,
and the older ``before_request_hooks`` / ``after_request_hooks``) and by the
``x-portkey-default-input-guardrails`` / ``-output-guardrails`` headers; each entry is the id
of a guardrail defined in this middleware's options, a full definition, or Portkey's
shorthand. Input checks run before ``call_next``: a failing ``deny`` guardrail answers 446 and
the upstream is never called. Output checks run on the answer: deny → 446, a failure without
deny → 246 with the answer. ``hook_results`` go in the response body and the log. ``async``
guardrails run in the background; their results are only logged.

A request with no guardrail costs a few attribute and header look-ups: nothing is decoded.
See docs/guardrails.md.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar, cast

import msgspec
import structlog

from middleware.guardrails.checks.base import CheckContext, CheckEnv, Event, Limits
from middleware.guardrails.denied import (
    HOOKS_SOFT_FAIL_STATUS,
    GuardrailDenied,
    hook_results,
)
from middleware.guardrails.documents import RequestDocument, ResponseDocument
from middleware.guardrails.nested import AttemptGuards, Lists, Plan, walk_nested
from middleware.guardrails.options import GuardrailsOptions
from middleware.guardrails.registry import Guardrail, Registry
from middleware.guardrails.runner import run_all, summary
from middleware.guardrails.stream import StreamGuard
from proxy.context import RequestContext
from proxy.errors import GatewayError, InvalidRequest
from proxy.frontdoors import CONVERSATIONS
from proxy.pipeline import Next, SettingsError
from proxy.reply import Completion, CompletionReply, Reply, StreamReply
from proxy.routing.config import ConfigNode
from proxy.schema import encoder

if TYPE_CHECKING:
    from proxy.gateway import Gateway

__all__ = ["GuardrailDenied", "GuardrailsMiddleware", "GuardrailsOptions"]

INPUT_HEADER = "x-portkey-default-input-guardrails"
OUTPUT_HEADER = "x-portkey-default-output-guardrails"
MAX_CACHED_PLANS = 1024
T = TypeVar("T")


class GuardrailsMiddleware:
    Options = GuardrailsOptions
    endpoints = CONVERSATIONS  # checks read a conversation's text

    def __init__(self, options: GuardrailsOptions | None = None) -> None:
        o = options or GuardrailsOptions()
        names = ("webhook_timeout_ms", "max_text_chars", "regex_timeout_ms", "schema_budget_ms")
        for name in names:
            if getattr(o, name) <= 0:
                raise ValueError(f"{name}: must be positive")
        self.options = o
        self.env = CheckEnv(
            Limits(
                max_text_chars=o.max_text_chars,
                regex_timeout_ms=o.regex_timeout_ms,
                schema_budget_ms=o.schema_budget_ms,
                webhook_timeout_ms=o.webhook_timeout_ms,
                webhook_fail_closed=o.webhook_fail_closed,
            )
        )
        self.registry = Registry(self.env, o.checks)
        self.guardrails: dict[str, Guardrail] = {}
        for gid, raw in o.guardrails.items():  # a ValueError here names the field
            g = self.guardrails[gid] = self.registry.build(raw, f"guardrails.{gid}", True, gid)
            g.label = gid
        self.gateway: Gateway | None = None
        self.log = structlog.get_logger("gateway.guardrails")
        self._plans: dict[int, tuple[ConfigNode, Plan | None]] = {}
        self._client_plans: dict[tuple[str, str], Any] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    # ---------------------------------------------------------------- lifecycle

    async def startup(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.env.session = gateway.session
        named = {f"configs.{cid}": node for cid, node in gateway.configs.items()}
        if gateway.default_config is not None:
            named.setdefault("default_config", gateway.default_config)
        for field, node in named.items():  # settings configs fail at start-up, not per request
            try:
                self._config_plan(node, trusted=True)
            except GatewayError as exc:
                raise SettingsError(f"{field}: {exc.message}") from None

    async def shutdown(self) -> None:
        tasks = list(self._tasks)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.env.session = None
        self.env.close()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)  # a reference, or the loop may drop the task mid-flight
        task.add_done_callback(self._tasks.discard)

    # ---------------------------------------------------------------- plan

    def _plan(self, ctx: RequestContext) -> Plan | None:
        if self.skips(ctx):
            return None
        cfg = ctx.config
        h_in = ctx.headers.get(INPUT_HEADER)
        h_out = ctx.headers.get(OUTPUT_HEADER)
        plan = None
        if cfg is not None:
            if ctx.config_inline:  # the client's JSON: same text, same plan
                raw = ctx.headers.get("x-portkey-config", "")
                plan = self._client_cached(("config", raw), lambda: self._build_plan(cfg, False))
            else:
                plan = self._config_plan(cfg, trusted=True)
        if h_in is None and h_out is None:
            return plan
        extra_in = self._client_cached(
            (INPUT_HEADER, h_in or ""), lambda: self._header_list(h_in, INPUT_HEADER)
        )
        extra_out = self._client_cached(
            (OUTPUT_HEADER, h_out or ""), lambda: self._header_list(h_out, OUTPUT_HEADER)
        )
        base_in, base_out = (plan.input, plan.output) if plan else ([], [])
        merged = Plan(base_in + extra_in, base_out + extra_out, plan.nested if plan else None)
        return merged if merged.input or merged.output or merged.nested else None

    def _client_cached(self, key: tuple[str, str], build: Callable[[], T]) -> T:
        """Client-sent definitions, built once per distinct text (errors are not cached)."""
        try:
            return cast("T", self._client_plans[key])
        except KeyError:
            pass
        value = build()
        if len(self._client_plans) >= MAX_CACHED_PLANS:
            self._client_plans.clear()
        self._client_plans[key] = value
        return value

    def _config_plan(self, cfg: ConfigNode, trusted: bool) -> Plan | None:
        cached = self._plans.get(id(cfg))
        if cached is not None and cached[0] is cfg:
            return cached[1]
        plan = self._build_plan(cfg, trusted)
        if len(self._plans) >= MAX_CACHED_PLANS:  # configs from settings are few; stay bounded
            self._plans.clear()
        self._plans[id(cfg)] = (cfg, plan)
        return plan

    def _build_plan(self, cfg: ConfigNode, trusted: bool) -> Plan | None:
        inputs, outputs = self._node_lists(cfg, "", trusted)
        nested = walk_nested(cfg, lambda node, at: self._node_lists(node, at, trusted))
        return Plan(inputs, outputs, nested) if inputs or outputs or nested else None

    def _node_lists(self, node: ConfigNode, at: str, trusted: bool) -> Lists:
        """One config node's input and output guardrails; ``at`` prefixes field names."""
        lists = (
            ("input_guardrails", node.input_guardrails, True),
            ("before_request_hooks", node.before_request_hooks, True),
            ("output_guardrails", node.output_guardrails, False),
            ("after_request_hooks", node.after_request_hooks, False),
        )
        inputs: list[Guardrail] = []
        outputs: list[Guardrail] = []
        for name, entries, is_input in lists:
            if entries:
                found = self._entries(entries, at + name, trusted, "x-portkey-config")
                (inputs if is_input else outputs).extend(found)
        return inputs, outputs

    def _header_list(self, raw: str | None, header: str) -> list[Guardrail]:
        if raw is None or not raw.strip():
            return []
        raw = raw.strip()
        if raw.startswith("["):
            try:
                entries = msgspec.json.decode(raw)
            except (msgspec.DecodeError, RecursionError):  # msgspec stops near 500 levels
                raise InvalidRequest(
                    f"{header}: not valid JSON, or nested too deeply",
                    param=header,
                    code="invalid_guardrail",
                ) from None
        else:
            entries = [x.strip() for x in raw.split(",") if x.strip()]
        return self._entries(entries, header, False, header)

    def _entries(self, entries: Any, where: str, trusted: bool, param: str) -> list[Guardrail]:
        if not isinstance(entries, list):
            raise InvalidRequest(f"{where}: must be a list", param=param, code="invalid_guardrail")
        out: list[Guardrail] = []
        for i, entry in enumerate(entries):
            at = f"{where}[{i}]"
            if isinstance(entry, str):
                g = self.guardrails.get(entry)
                if g is None:
                    raise InvalidRequest(
                        f"{at}: no guardrail with id {entry!r} on this gateway",
                        param=param,
                        code="unknown_guardrail",
                    )
                out.append(g)
                continue
            try:
                g = self.registry.build(entry, at, trusted)
            except (ValueError, SettingsError) as exc:
                raise InvalidRequest(
                    f"invalid guardrail: {exc}", param=param, code="invalid_guardrail"
                ) from None
            if not trusted:
                self._check_hosts(g, at, param)
            out.append(g)
        return out

    def _check_hosts(self, g: Guardrail, at: str, param: str) -> None:
        """A client's guardrail may only call hosts the egress policy allows."""
        policy = self.gateway.host_policy if self.gateway is not None else None
        for c in g.checks:
            for url in c.impl.urls():
                if policy is None:
                    continue
                try:
                    policy.check(url)
                except GatewayError as exc:
                    exc.param = param
                    exc.message = f"{at}: {c.id}: {exc.message}"
                    raise

    # ---------------------------------------------------------------- request path

    def skips(self, ctx: RequestContext) -> bool:
        """No config and no guardrail headers: nothing can apply (and ``_plan`` is None)."""
        h = ctx.headers
        return ctx.config is None and INPUT_HEADER not in h and OUTPUT_HEADER not in h

    async def __call__(self, ctx: RequestContext, call_next: Next) -> Reply:
        plan = self._plan(ctx)
        if plan is None:
            return await call_next(ctx)
        ctx.reads_reply = True  # checks and hook results work on the chat view of the answer
        before = await self._input(ctx, plan.input) if plan.input else []
        if not plan.nested:
            reply = await call_next(ctx)
            output, earlier = plan.output, []
        else:
            attempt = AttemptGuards(self, plan.nested)
            ctx.attempt_hook = attempt  # the router runs it around each upstream attempt
            try:
                reply = await call_next(ctx)
            except GuardrailDenied as exc:  # a nested target's verdict: add the root's
                exc.before = before + exc.before
                raise
            before = before + attempt.before
            output, earlier = attempt.stream_output + plan.output, attempt.after
        sync = [g for g in output if not g.is_async]
        detached = [g for g in output if g.is_async]
        if isinstance(reply, StreamReply):
            if any(not r["verdict"] for r in before):
                reply.status = HOOKS_SOFT_FAIL_STATUS
            if not output and not before:
                return reply
            guard = StreamGuard(
                ctx,
                lambda doc: self._cx("afterRequestHook", ctx, doc),
                sync,
                detached,
                before,
                self._report,
                self._spawn,
                self.options.max_text_chars,
            )
            return guard.wrap(reply)
        assert isinstance(reply, CompletionReply)
        return await self._output(ctx, reply, output, before, earlier)

    def _messages(self, ctx: RequestContext) -> list[dict[str, Any]]:
        msgs = ctx.body.as_dict().get("messages")
        return list(msgs) if isinstance(msgs, list) else []

    def _cx(self, event: Event, ctx: RequestContext, doc: Any) -> CheckContext:
        req = None if event == "beforeRequestHook" else RequestDocument(self._messages(ctx))
        return CheckContext(event, ctx, doc, self.env, req)

    async def _input(self, ctx: RequestContext, guardrails: list[Guardrail]) -> list[Any]:
        detached = [g for g in guardrails if g.is_async]
        if detached:
            doc = RequestDocument(self._messages(ctx))
            self._spawn(self._detached(detached, self._cx("beforeRequestHook", ctx, doc), "input"))
        sync = [g for g in guardrails if not g.is_async]
        if not sync:
            return []
        doc = RequestDocument(self._messages(ctx))
        results = await run_all(sync, self._cx("beforeRequestHook", ctx, doc))
        self._report(ctx, "input", sync, results)
        if any(r["deny"] for r in results):
            raise GuardrailDenied(results, [])
        if doc.changed:
            try:
                ctx.body.set(messages=doc.messages)
            except msgspec.ValidationError as exc:
                raise InvalidRequest(
                    f"a guardrail rewrote the messages into an invalid request: {exc}",
                    param="messages",
                    code="invalid_guardrail_rewrite",
                ) from None
        return results

    async def _answer_checks(
        self,
        ctx: RequestContext,
        reply: CompletionReply,
        guardrails: list[Guardrail],
        before: list[Any],
        earlier: list[Any] | None = None,
    ) -> tuple[dict[str, Any] | None, list[Any]]:
        """Output guardrails on a complete answer: deny raises 446, mutators rewrite it.

        Returns the decoded answer (None when no synchronous check ran) and the results.
        """
        sync = [g for g in guardrails if not g.is_async]
        detached = [g for g in guardrails if g.is_async]
        if detached:
            doc = ResponseDocument(msgspec.json.decode(reply.completion.chat_bytes()))
            self._spawn(self._detached(detached, self._cx("afterRequestHook", ctx, doc), "output"))
        if not sync:
            return None, []
        body = msgspec.json.decode(reply.completion.chat_bytes())
        if not isinstance(body, dict):
            return None, []
        doc = ResponseDocument(body)
        after = await run_all(sync, self._cx("afterRequestHook", ctx, doc))
        self._report(ctx, "output", sync, after)
        if any(r["deny"] for r in after):
            raise GuardrailDenied(before, (earlier or []) + after)
        if doc.changed:
            reply.completion = Completion(raw=encoder.encode(body))
        return body, after

    async def _output(
        self,
        ctx: RequestContext,
        reply: CompletionReply,
        guardrails: list[Guardrail],
        before: list[Any],
        earlier: list[Any],
    ) -> Reply:
        """Root output guardrails, then ``hook_results`` (with a nested target's) and 246."""
        body, after = await self._answer_checks(ctx, reply, guardrails, before, earlier)
        after = earlier + after
        if not after and not before:
            return reply
        if body is None:
            body = msgspec.json.decode(reply.completion.chat_bytes())
            if not isinstance(body, dict):
                return reply
        body["hook_results"] = hook_results(before, after)
        reply.completion = Completion(raw=encoder.encode(body))
        if any(not r["verdict"] for r in before + after):
            reply.status = HOOKS_SOFT_FAIL_STATUS
        return reply

    async def _detached(self, guardrails: list[Guardrail], cx: CheckContext, phase: str) -> None:
        try:
            results = await run_all(guardrails, cx)
        except Exception:
            self.log.exception("async guardrails failed", request_id=cx.ctx.request_id)
            return
        self._report(cx.ctx, phase, guardrails, results)

    def _report(
        self, ctx: RequestContext, phase: str, guardrails: list[Guardrail], results: list[Any]
    ) -> None:
        """Log the results; record the verdicts of synchronous guardrails on the context
        (async ones may end after the request's metrics and log line: logged here only)."""
        for g, r in zip(guardrails, results, strict=True):
            if not g.is_async:
                verdict = "deny" if r["deny"] else "pass" if r["verdict"] else "fail"
                ctx.guardrail_verdicts.append((g.label, verdict))
        ctx.hook_results.append((phase, results))  # for the console's detail view
        self.log.info(
            "guardrails",
            request_id=ctx.request_id,
            trace_id=ctx.trace_id,
            phase=phase,
            verdict=all(r["verdict"] for r in results),
            denied=any(r["deny"] for r in results),
            results=summary(results),
        )
