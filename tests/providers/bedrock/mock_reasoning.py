"""Reasoning and prompt caching on the mock Converse API, as Bedrock documents them.

- ``additionalModelRequestFields.thinking`` ``{type: enabled, budget_tokens}`` -> a
  ``reasoningContent`` block first (``reasoningText`` with a ``signature`` over its text;
  model names containing ``redacted`` add a ``redactedContent`` block). A stream sends it
  as ``reasoningContent`` deltas: the text in pieces, then the signature.
- While thinking, a last assistant turn that used tools must start with its reasoning,
  and every ``reasoningText`` must carry the signature issued for it
  (``reasoning_error``: Bedrock's ValidationException).
- ``cachePoint`` blocks (tools, system, messages; at most 4, ttl 5m or 1h): the prefix up
  to the last one is written once (``cacheWriteInputTokens``), then read
  (``cacheReadInputTokens``).
"""

from __future__ import annotations

import json
from typing import Any

from tests.providers.anthropic.mock import redacted, signature

BUDGET_MIN = 1024


def thinking_on(body: dict[str, Any]) -> bool:
    fields = body.get("additionalModelRequestFields") or {}
    return (fields.get("thinking") or {}).get("type") == "enabled"


def reasoning_error(body: dict[str, Any]) -> str | None:
    for m in body["messages"]:
        for b in m["content"]:
            rt = (b.get("reasoningContent") or {}).get("reasoningText")
            if rt is not None and rt.get("signature") != signature(rt.get("text", "")):
                return "The model returned the following errors: Invalid `signature` in thinking"
    if not thinking_on(body):
        return None
    budget = body["additionalModelRequestFields"]["thinking"].get("budget_tokens", 0)
    if budget < BUDGET_MIN:
        return "The model returned the following errors: thinking.budget_tokens: must be >= 1024"
    last = next((m for m in reversed(body["messages"]) if m["role"] == "assistant"), None)
    blocks = last["content"] if last else []
    if any("toolUse" in b for b in blocks) and "reasoningContent" not in blocks[0]:
        return (
            "The model returned the following errors: messages.1.content.0.type: Expected "
            "`thinking` or `redacted_thinking`, but found `tool_use`. When `thinking` is "
            "enabled, a final `assistant` message must start with a thinking block"
        )
    return None


def reasoning_blocks(body: dict[str, Any], model: str, said: str) -> list[dict[str, Any]]:
    if not thinking_on(body):
        return []
    thought = f"Considering: {said}"
    text = {"reasoningText": {"text": thought, "signature": signature(thought)}}
    out = [{"reasoningContent": text}]
    if "redacted" in model:
        out.append({"reasoningContent": {"redactedContent": redacted(thought)}})
    return out


def stream_frames(i: int, block: dict[str, Any]) -> list[dict[str, Any]]:
    """The contentBlockDelta payloads of one reasoning block (no contentBlockStart)."""
    content = block["reasoningContent"]
    if "redactedContent" in content:
        return [{"contentBlockIndex": i, "delta": {"reasoningContent": content}}]
    text = content["reasoningText"]["text"]
    half = len(text) // 2
    deltas = [{"text": text[:half]}, {"text": text[half:]}]
    deltas.append({"signature": content["reasoningText"]["signature"]})
    return [{"contentBlockIndex": i, "delta": {"reasoningContent": d}} for d in deltas]


def _cacheable(body: dict[str, Any]) -> list[Any]:
    tools = (body.get("toolConfig") or {}).get("tools") or []
    blocks: list[Any] = [*tools, *(body.get("system") or [])]
    for m in body["messages"]:
        blocks += m["content"]
    return blocks


def cache_error(body: dict[str, Any]) -> str | None:
    points = [b["cachePoint"] for b in _cacheable(body) if "cachePoint" in b]
    if len(points) > 4:
        return "A maximum of 4 cachePoint blocks may be provided."
    for p in points:
        if p.get("type") != "default" or p.get("ttl", "5m") not in ("5m", "1h"):
            return "cachePoint: the type must be default and the ttl 5m or 1h"
    return None


def cache_usage(cache: set[str], body: dict[str, Any]) -> dict[str, int]:
    blocks = _cacheable(body)
    last = max((i for i, b in enumerate(blocks) if "cachePoint" in b), default=-1)
    if last < 0:
        return {}
    prefix = json.dumps(blocks[:last], sort_keys=True)
    tokens = len(prefix.split())
    if prefix in cache:
        return {"cacheReadInputTokens": tokens, "cacheWriteInputTokens": 0}
    cache.add(prefix)
    return {"cacheReadInputTokens": 0, "cacheWriteInputTokens": tokens}
