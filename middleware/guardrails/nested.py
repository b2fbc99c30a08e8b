"""Guardrails on nested config targets, applied to the attempt that uses the target.

The middleware runs the root node's guardrails once, around the whole chain. Guardrails on
the nodes below the root belong to the target the router picks, so they run per attempt:
the middleware sets ``ctx.attempt_hook`` to an ``AttemptGuards`` (only when the config has
such guardrails), and the router calls it around each upstream attempt with the leaf's
option index. The router knows nothing of guardrails; this module knows nothing of
strategies.

Per attempt: input checks before the upstream call (a deny raises 446 before the target is
called; mutators rewrite the body, which the router restores before the next attempt);
output checks on a complete answer (deny: 446; a failure: 246 later, at the middleware).
A stream's output checks are left to the middleware, which runs them with the root's in
its usual stream modes. Results of the attempt that answered are merged with the root's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from middleware.guardrails.registry import Guardrail
from proxy.reply import CompletionReply, Reply, StreamReply
from proxy.routing.config import ConfigNode

if TYPE_CHECKING:
    from middleware.guardrails import GuardrailsMiddleware
    from proxy.context import RequestContext

Lists = tuple[list[Guardrail], list[Guardrail]]
# leaf option index ("config.targets[1].targets[0]") -> guardrails of the nodes on its path
NestedGuards = dict[str, Lists]


class Plan:
    """What applies to one request: the root's guardrails, and the nested targets'."""

    __slots__ = ("input", "nested", "output")

    def __init__(
        self,
        input: list[Guardrail],
        output: list[Guardrail],
        nested: NestedGuards | None = None,
    ) -> None:
        self.input = input
        self.output = output
        self.nested = nested or {}  # guardrails of nested targets, by leaf option index


def walk_nested(root: ConfigNode, lists_of: Callable[[ConfigNode, str], Lists]) -> NestedGuards:
    """Every leaf whose path (root excluded) carries guardrails, with them in path order.

    ``lists_of(node, field_prefix)`` builds (and so validates) one node's lists; it is
    called for every node below the root, so a bad entry is reported even on a target the
    request would not have used.
    """
    out: NestedGuards = {}

    def walk(node: ConfigNode, index: str, where: str, acc: Lists) -> None:
        for i, child in enumerate(node.targets or ()):
            at = f"{where}targets[{i}]"
            cin, cout = lists_of(child, at + ".")
            here = (acc[0] + cin, acc[1] + cout)
            idx = f"{index}.targets[{i}]"
            if child.targets:
                walk(child, idx, at + ".", here)
            elif here[0] or here[1]:
                out[idx] = here

    walk(root, "config", "", ([], []))
    return out


class AttemptGuards:
    """One request's nested guardrails; ``ctx.attempt_hook`` for the router."""

    __slots__ = ("after", "before", "guards", "mw", "stream_output")

    def __init__(self, mw: GuardrailsMiddleware, guards: NestedGuards) -> None:
        self.mw = mw
        self.guards = guards
        self.before: list[dict[str, Any]] = []  # results of the attempt that answered
        self.after: list[dict[str, Any]] = []
        self.stream_output: list[Guardrail] = []  # left to the middleware's stream modes

    async def __call__(
        self, ctx: RequestContext, index: str, call: Callable[[], Awaitable[Reply]]
    ) -> Reply:
        self.before, self.after, self.stream_output = [], [], []
        lists = self.guards.get(index)
        if lists is None:
            return await call()
        inputs, outputs = lists
        if inputs:
            self.before = await self.mw._input(ctx, inputs)
        reply = await call()
        if outputs:
            if isinstance(reply, StreamReply):
                self.stream_output = outputs
            else:
                assert isinstance(reply, CompletionReply)
                # inside the router, so a deny here can fall back (on_status_codes: [446])
                _, self.after = await self.mw._answer_checks(ctx, reply, outputs, self.before)
        return reply
