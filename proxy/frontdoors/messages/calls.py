"""The upstream calls of ``/v1/messages``: native to Claude, translated to everyone else.

- **native**: the target serves the Messages API (Anthropic; Claude on Bedrock and Vertex
  AI: ``MessagesAdapter``). The client's body goes as sent (the model replaced when
  routing changed it; top-level edits of fields both forms share applied), in the host's
  dialect, and the answer comes back untouched. Edits the native body cannot take (a
  guardrail rewriting messages) rebuild it from the chat form, as the chat endpoint does.
  A stream is read as chat only when a middleware reads its content (``ctx.reads_reply``).
- **translated**: the chat form (``to_chat``), after ``check`` has refused what it would
  drop, through the target's adapter; the chat answer is encoded back by the door.
- **count_tokens**: native where the host counts (Anthropic, Vertex AI), else estimated
  from the chat form (header ``x-gateway-token-count: estimated``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec

from proxy.body import RequestBody
from proxy.errors import UpstreamInvalid
from proxy.frontdoors.messages.head import MessagesHead
from proxy.frontdoors.messages.to_chat import check
from proxy.observability.usage_estimate import estimate_prompt_tokens, tokens_for_chars
from proxy.providers.anthropic.native import encoder as anthropic_encoder
from proxy.providers.anthropic.request import build_body
from proxy.providers.base import MessagesAdapter, MessagesCall
from proxy.reply import BodyReply, Reply
from proxy.schema import encoder
from proxy.terminal import OFFLOAD_BYTES

if TYPE_CHECKING:
    from proxy.context import RequestContext
    from proxy.terminal import Upstream

T = TypeVar("T")

# the OpenAI API itself: max_tokens is deprecated there and refused by its reasoning
# models, and top_k is not a parameter it takes
_OPENAI = frozenset({"openai", "azure-openai"})


class _Count(msgspec.Struct):
    input_tokens: int


_count = msgspec.json.Decoder(_Count)


async def _off_loop(ctx: RequestContext, fn: Callable[[], T]) -> T:
    """Decoding, re-encoding and signing megabytes belongs off the event loop."""
    if len(ctx.body.raw) < OFFLOAD_BYTES:
        return fn()
    return await asyncio.to_thread(fn)


def _head(ctx: RequestContext) -> MessagesHead:
    head = ctx.body.head
    assert isinstance(head, MessagesHead), "a /v1/messages body has a MessagesHead"
    return head


def native_body(ctx: RequestContext) -> bytes:
    body = ctx.body
    renamed = {"model": ctx.model} if ctx.model != body.head.model else {}
    found = body.native_bytes("anthropic", **renamed)
    if found is not None:
        return found
    return anthropic_encoder.encode(build_body(body, ctx.model))


def _call(ctx: RequestContext, up: Upstream, count: bool = False) -> MessagesCall:
    head = _head(ctx)
    return MessagesCall(
        target=up.target,
        model=ctx.model,
        stream=ctx.stream and not count,
        count=count,
        version=head.version,
        betas=head.betas,
        beta_query=head.beta_query,
    )


async def native(ctx: RequestContext, up: Upstream, adapter: MessagesAdapter) -> Reply:
    call = _call(ctx, up)
    req = await _off_loop(ctx, lambda: adapter.messages_request(native_body(ctx), call))
    assert req is not None, "every Messages host answers messages"
    translation = adapter.messages_translation(ctx.stream and ctx.reads_reply)
    return await up.relay(up.prepare(req), translation)


def openai_params(chat: dict[str, Any], provider: str) -> dict[str, Any] | None:
    """The chat form for the OpenAI API itself (None: the form is fine as it is)."""
    if provider not in _OPENAI or ("max_tokens" not in chat and "top_k" not in chat):
        return None
    out = {k: v for k, v in chat.items() if k not in ("max_tokens", "top_k")}
    if "max_tokens" in chat:
        out["max_completion_tokens"] = chat["max_tokens"]
    return out


async def translated(ctx: RequestContext, up: Upstream) -> Reply:
    def prepare() -> dict[str, Any] | None:  # decodes and converts the whole body
        check(ctx.body.native_dict())
        return openai_params(ctx.body.as_dict(), up.adapter.name)

    fixed = await _off_loop(ctx, prepare)
    if fixed is None:
        return await up.chat()
    target, model, adapter = up.target, ctx.model, up.adapter

    def build() -> Any:
        alt = RequestBody(encoder.encode(fixed), ctx.body.head)
        return adapter.build_request(alt, target, model)

    return await up.relay(up.prepare(await _off_loop(ctx, build)))


def estimate(chat: dict[str, Any]) -> int:
    """Input tokens of the chat form, by the gateway's estimate (about 4 chars a token)."""
    tools = chat.get("tools")
    extra = len(encoder.encode(tools)) if tools else 0
    return estimate_prompt_tokens(chat.get("messages")) + tokens_for_chars(extra)


async def count_tokens(ctx: RequestContext, up: Upstream, adapter: MessagesAdapter | None) -> Reply:
    if adapter is not None:
        call = _call(ctx, up, count=True)
        req = await _off_loop(ctx, lambda: adapter.messages_request(native_body(ctx), call))
        if req is not None:
            raw = await up.fetch(up.prepare(req))
            try:
                _count.decode(raw)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                raise UpstreamInvalid(
                    f"{adapter.name} answered count_tokens with something else ({exc})",
                    provider=adapter.name,
                ) from None
            return BodyReply(raw)
    tokens = await _off_loop(ctx, lambda: estimate(ctx.body.as_dict()))
    body = encoder.encode({"input_tokens": tokens})
    return BodyReply(body, headers={"x-gateway-token-count": "estimated"})
