"""Extended thinking on the Messages API: the request side, and the turn it must replay.

- ``reasoning_effort`` becomes ``thinking: {type: enabled, budget_tokens}`` (the bands
  below); a client's own ``thinking`` object goes as sent (Portkey's convention).
- ``max_tokens`` must exceed the budget. OpenAI counts reasoning inside
  ``max_completion_tokens``, so a client's bound stays the bound and the budget shrinks to
  at most half of it; with no bound, the answer keeps the usual 4096 above the budget.
- While thinking, Anthropic refuses ``temperature`` (other than 1), ``top_k``, ``top_p``
  below 0.95 and a forced tool: the sampling hints are dropped (OpenAI clients send them
  by habit), a forced tool is a 400 (dropping it would change the answer).
- A tool loop must hand the last assistant turn's thinking back, signed. When the client
  did not (no ``reasoning_opaque``, or one from another provider after a fallback), that
  request runs without thinking rather than failing (what LiteLLM's modify_params does).
"""

from __future__ import annotations

import re
from typing import Any

from msgspec import UNSET

from proxy.errors import InvalidRequest
from proxy.providers.anthropic.api import DEFAULT_MAX_TOKENS
from proxy.providers.anthropic.native import (
    MessagesRequest,
    RedactedThinkingBlock,
    ThinkingBlock,
    ToolChoice,
    ToolUseBlock,
)
from proxy.providers.common import token_limit
from proxy.schema import ChatRequest

EFFORT_BUDGET = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 16384, "xhigh": 32768}
MIN_BUDGET = 1024  # Anthropic's minimum budget_tokens
# models without extended thinking: reasoning_effort is dropped for them, as a sampling
# hint would be (Claude 3.7 Sonnet and every Claude 4 think); Bedrock ids and profiles too
_NO_THINKING = re.compile(
    r"^(?:[a-z]{2,6}\.)?(?:anthropic\.)?claude-(?:instant|2|3-(?:opus|sonnet|haiku)|3-5-)"
)


def supports_thinking(model: str) -> bool:
    return _NO_THINKING.match(model) is None


def wants_thinking(req: ChatRequest, model: str) -> bool:
    """Whether the request asks this model to think (Bedrock routes on it)."""
    if isinstance(req.thinking, dict):
        return req.thinking.get("type") in ("enabled", "adaptive")
    effort = req.reasoning_effort
    return isinstance(effort, str) and effort != "none" and supports_thinking(model)


def plan(req: ChatRequest, model: str) -> tuple[dict[str, Any] | None, int]:
    """(the thinking object to send, max_tokens)."""
    limit = token_limit(req)
    if isinstance(req.thinking, dict):  # the client's own object, unchanged
        budget = req.thinking.get("budget_tokens")
        if limit is None and isinstance(budget, int):
            limit = budget + DEFAULT_MAX_TOKENS
        return req.thinking, limit or DEFAULT_MAX_TOKENS
    effort = req.reasoning_effort
    if not isinstance(effort, str) or effort == "none" or not supports_thinking(model):
        return None, limit or DEFAULT_MAX_TOKENS
    budget = EFFORT_BUDGET.get(effort)
    if budget is None:
        raise InvalidRequest(
            f"reasoning_effort {effort!r} is not one of {', '.join(EFFORT_BUDGET)} or none",
            param="reasoning_effort",
            code="invalid_value",
        )
    if limit is None:
        return {"type": "enabled", "budget_tokens": budget}, budget + DEFAULT_MAX_TOKENS
    if limit <= MIN_BUDGET:
        named = isinstance(req.max_completion_tokens, int)
        param = "max_completion_tokens" if named else "max_tokens"
        raise InvalidRequest(
            f"{param} must be above {MIN_BUDGET} to think (it counts the reasoning too)",
            param=param,
            code="invalid_value",
        )
    budget = min(budget, max(MIN_BUDGET, limit // 2))
    return {"type": "enabled", "budget_tokens": budget}, limit


def apply(out: MessagesRequest, thinking: dict[str, Any] | None) -> None:
    """Set ``thinking`` on a built request, unless its tool loop cannot be replayed, and
    keep the sampling fields Anthropic accepts beside it."""
    if thinking is None or thinking.get("type") not in ("enabled", "adaptive"):
        if thinking is not None:
            out.thinking = thinking  # {type: disabled}, as the client wrote it
        return
    if not _replayable(out):
        return
    out.thinking = thinking
    if isinstance(out.temperature, float | int) and out.temperature != 1:
        out.temperature = UNSET
    if isinstance(out.top_p, float | int) and out.top_p < 0.95:
        out.top_p = UNSET
    out.top_k = UNSET
    choice = out.tool_choice
    if isinstance(choice, ToolChoice) and choice.type in ("any", "tool"):
        raise InvalidRequest(
            "anthropic cannot force a tool while thinking: use tool_choice auto or none, "
            "or no reasoning_effort",
            param="tool_choice",
            code="unsupported_parameter",
        )


def _replayable(out: MessagesRequest) -> bool:
    """False when the last assistant turn called tools without its signed thinking."""
    for turn in reversed(out.messages):
        if turn.role != "assistant":
            continue
        if not any(isinstance(b, ToolUseBlock) for b in turn.content):
            return True
        return isinstance(turn.content[0], ThinkingBlock | RedactedThinkingBlock)
    return True
