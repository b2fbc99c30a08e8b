"""One upstream attempt: a clean body, the target's overrides, a bounded first chunk.

Every attempt starts from the body as it was when routing began (``BodySnapshot``), so the
``override_params`` of a failed target never leak into the next one. A stream's first chunk
is pulled here, inside the router, so that a failure before the first byte reaches the
client can still be retried or fall back; after it, the stream belongs to the client.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from proxy.context import RequestContext
from proxy.errors import GatewayError, UpstreamTimeout, UpstreamUnreachable
from proxy.quota.policy import POLICY_CODES
from proxy.reply import Chunk, Reply, StreamReply, aclose

if TYPE_CHECKING:
    from proxy.pipeline import Next
    from proxy.target import Target

# relay codes of a connection that broke after the headers: a transport failure too
_BROKEN = frozenset({"upstream_disconnected", "upstream_stream_broken"})


class RequestTimeout(GatewayError):
    """A target's ``request_timeout`` ran out (Portkey answers 408 ``timeout_error``)."""

    status = 408
    type = "timeout_error"


def is_transport(err: GatewayError) -> bool:
    """A connection failure or a timeout, as opposed to an answer from the provider."""
    return isinstance(err, (UpstreamUnreachable, UpstreamTimeout, RequestTimeout)) or (
        err.code in _BROKEN
    )


GUARDRAIL_DENIED = 446  # a guardrail's verdict on a target, not a failure of it


def moves_on(err: GatewayError, codes: list[int] | None) -> bool:
    """Whether a fallback tries its next target after ``err``.

    A guardrail deny (446) is a verdict: it moves on only when ``on_status_codes`` lists
    446 (Portkey's documented way to fall back on a guardrail). Any other failure moves on
    when listed, or always when the list is unset; transport failures always do.
    """
    if err.status == GUARDRAIL_DENIED:
        return codes is not None and GUARDRAIL_DENIED in codes
    if err.code in POLICY_CODES:  # the gateway key may not use this target: try the next
        return True
    return codes is None or err.status in codes or is_transport(err)


def apply_overrides(ctx: RequestContext, overrides: dict[str, Any] | None) -> None:
    """A target's ``override_params`` onto the body. Not validated here: a pass-through
    provider judges them itself, a translating adapter reads them through the typed view
    (and names what it cannot carry)."""
    if not overrides:
        return
    ctx.body.set(**overrides)
    model = overrides.get("model")
    if isinstance(model, str):
        ctx.model = model


class BodySnapshot:
    """The body's edits and the model as they were before the first attempt."""

    __slots__ = ("model", "patch")

    def __init__(self, ctx: RequestContext) -> None:
        self.patch = dict(ctx.body.patch)
        self.model = ctx.model

    def restore(self, ctx: RequestContext) -> None:
        ctx.body.restore(self.patch)
        ctx.model = self.model


async def call_target(ctx: RequestContext, target: Target, call_next: Next) -> Reply:
    """Call the chain's tail for ``ctx.target``; a stream comes back with its first chunk in.

    The target's ``request_timeout`` bounds the wait for the answer (the relay) and for a
    stream's first chunk (here); running out of it is a 408 ``timeout_error``.
    """
    deadline = None
    if target.request_timeout:
        deadline = asyncio.get_running_loop().time() + target.request_timeout / 1000.0
    try:
        reply = await call_next(ctx)
        if isinstance(reply, StreamReply):
            reply = await peek(reply, deadline)
    except (UpstreamTimeout, RequestTimeout) as err:
        if not target.request_timeout or isinstance(err, RequestTimeout):
            raise
        raise RequestTimeout(
            f"request timed out: {target.provider} gave no answer within the "
            f"request_timeout of {target.request_timeout} ms",
            code="request_timeout",
            provider=target.provider,
        ) from None
    return reply


async def peek(reply: StreamReply, deadline: float | None) -> StreamReply:
    """Pull the first chunk (by ``deadline``, loop time) and put it back in front."""
    chunks = reply.chunks
    try:
        if deadline is None:
            first = await anext(chunks)
        else:
            async with asyncio.timeout_at(deadline):
                first = await anext(chunks)
    except StopAsyncIteration:
        reply.chunks = _empty()
        return reply
    except TimeoutError:
        await aclose(chunks)
        raise UpstreamTimeout("the stream sent nothing in time", code="upstream_timeout") from None
    except BaseException:
        await aclose(chunks)
        raise
    reply.chunks = _prepend(first, chunks)
    return reply


async def _prepend(first: Chunk, rest: AsyncIterator[Chunk]) -> AsyncIterator[Chunk]:
    try:
        yield first
        async for chunk in rest:
            yield chunk
    finally:
        await aclose(rest)


async def _empty() -> AsyncIterator[Chunk]:
    return
    yield  # an async generator that yields nothing
