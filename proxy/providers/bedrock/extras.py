"""Converse's reasoning and prompt-cache blocks, both directions.

- A client's ``cache_control`` (on a part, a message, a system part or a tool) becomes a
  ``cachePoint`` block right after the block it marks: Converse caches the prefix up to
  each point (``ttl`` 5m or 1h passed on).
- A client's ``thinking`` object goes to the model as ``additionalModelRequestFields``
  (Claude's own parameter; Converse forwards it unchanged).
- ``reasoningContent`` blocks (reasoning text with its signature, or redacted content)
  come back as ``reasoning_content`` and the opaque state (proxy/providers/reasoning.py),
  and go back in front of the turn's tool uses next time, as Claude requires.
"""

from __future__ import annotations

from typing import Any

from msgspec import UNSET, UnsetType

from proxy.providers import reasoning
from proxy.providers.bedrock import native as nv
from proxy.schema import AssistantMessage, CacheControl, ChatRequest

HOST = "bedrock"


def cache_point(c: object) -> nv.CachePoint | None:
    if not isinstance(c, CacheControl):
        return None
    return nv.CachePoint(type="default", ttl=c.ttl)


def mark(blocks: list[nv.ContentBlock], c: object) -> list[nv.ContentBlock]:
    """``blocks`` followed by a cache point when ``c`` is a cache breakpoint."""
    point = cache_point(c)
    if point is not None and blocks:
        blocks.append(nv.ContentBlock(cache_point=point))
    return blocks


def additional_fields(req: ChatRequest) -> dict[str, Any] | UnsetType:
    if isinstance(req.thinking, dict):
        return {"thinking": req.thinking}
    return UNSET


def replayed(m: AssistantMessage, param: str) -> list[tuple[int, nv.ContentBlock]]:
    """The turn's reasoning blocks, each with the number of tool uses before it."""
    out: list[tuple[int, nv.ContentBlock]] = []
    for b in reasoning.decode(m.reasoning_opaque, HOST, param):
        if b.kind == "redacted":
            content = nv.ReasoningContent(redacted_content=b.data)
        else:
            text = nv.ReasoningText(text=b.text, signature=b.sig or UNSET)
            content = nv.ReasoningContent(reasoning_text=text)
        out.append((b.at, nv.ContentBlock(reasoning_content=content)))
    return out


def kept(block: nv.OutReasoning, calls_before: int) -> reasoning.Block | None:
    if isinstance(block.redacted_content, str):
        return reasoning.Block(kind="redacted", data=block.redacted_content, at=calls_before)
    rt = block.reasoning_text
    if isinstance(rt, nv.OutReasoningText):
        return reasoning.Block(kind="thinking", text=rt.text, sig=rt.signature, at=calls_before)
    return None
