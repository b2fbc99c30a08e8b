"""Running a routing config: pick the target(s) and call the chain's tail per attempt."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from proxy.reply import Reply
from proxy.routing.config import ConfigNode
from proxy.routing.resolve import check_host, leaf_target

if TYPE_CHECKING:
    from proxy.context import RequestContext
    from proxy.gateway import Gateway
    from proxy.pipeline import Next


def first_leaf(node: ConfigNode) -> tuple[list[ConfigNode], str]:
    """The path to the first leaf and its option index (``config.targets[0]...``)."""
    path = [node]
    index = "config"
    while node.targets:
        node = node.targets[0]
        path.append(node)
        index += ".targets[0]"
    return path, index


async def run_config(
    ctx: RequestContext,
    config: ConfigNode,
    gw: Gateway,
    client: dict[str, Any],
    inline: bool,
    call_next: Next,
) -> Reply:
    from middleware.router import apply_overrides

    path, index = first_leaf(config)
    target, trusted = leaf_target(path, gw, client)
    check_host(target, trusted or not inline, gw)
    apply_overrides(ctx, target.override_params)
    ctx.target = target
    ctx.provider = target.provider
    ctx.attempts = 1
    ctx.targets_tried.append(index)
    ctx.response_headers["x-portkey-last-used-option-index"] = index
    return await call_next(ctx)
