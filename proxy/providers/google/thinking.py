"""Gemini thinking: ``thinkingConfig`` in, thought signatures back where Gemini wants them.

Request: ``reasoning_effort`` -> ``thinkingBudget`` (Gemini 2.5) or ``thinkingLevel``
(Gemini 3), with ``includeThoughts`` so the thought summaries come back as
``reasoning_content``; Portkey's ``thinking: {type, budget_tokens}`` -> the same;
Google's own ``extra_body.google.thinking_config`` -> ``thinkingConfig`` as sent.

Replay: Gemini 3 validates the ``thoughtSignature`` of the first function call of each
step of the current turn (a 400 without it). The signatures of an answer travel in its
``reasoning_opaque`` (proxy/providers/reasoning.py) and go back on the call they came with;
the last text part's signature goes back on the last text part. Two fallbacks:

- ids of the form ``call_<hex>~ts~<signature>`` (what this gateway issued before
  ``reasoning_opaque``) still give their signature back;
- a current-turn call that has no signature at all (the client dropped it, or the history
  came from another provider after a fallback) gets the placeholder Google documents for
  histories it did not produce, ``skip_thought_signature_validator``, on Gemini 3 only.
"""

from __future__ import annotations

from typing import Any

from msgspec import UNSET

from proxy.errors import InvalidRequest
from proxy.providers import reasoning
from proxy.providers.google import native as g
from proxy.schema import AssistantMessage, ChatRequest, GoogleExtra

# reasoning_effort -> Gemini 2.5 thinkingBudget (tokens) / Gemini 3 thinkingLevel
THINKING_BUDGET = {"none": 0, "minimal": 512, "low": 1024, "medium": 8192, "high": 24576}
THINKING_LEVEL = {"minimal": "low", "low": "low", "medium": "high", "high": "high"}
FLASH_LEVEL = {"minimal": "minimal", "low": "low", "medium": "medium", "high": "high"}
LEGACY_MARK = "~ts~"  # the signature in a tool-call id, as this gateway once issued it
SKIP_VALIDATOR = "skip_thought_signature_validator"


def config(req: ChatRequest, model: str) -> g.ThinkingConfig | dict[str, Any] | None:
    extra = req.extra_body.google if req.extra_body else None
    if isinstance(extra, GoogleExtra) and isinstance(extra.thinking_config, dict):
        return extra.thinking_config  # Google's own shape, as its OpenAI-compatible API
    if isinstance(req.thinking, dict):  # Portkey's: Anthropic's object on Gemini
        budget = req.thinking.get("budget_tokens")
        on = req.thinking.get("type") == "enabled"
        return g.ThinkingConfig(
            include_thoughts=on,
            thinking_budget=budget if isinstance(budget, int) else (UNSET if on else 0),
        )
    effort = req.reasoning_effort
    return from_effort(effort, model) if isinstance(effort, str) else None


def from_effort(effort: str, model: str) -> g.ThinkingConfig:
    if "gemini-3" in model:
        levels = FLASH_LEVEL if "flash" in model else THINKING_LEVEL
        level = levels.get(effort)
        if level is None:
            raise _bad(f"reasoning_effort {effort!r} has no Gemini 3 thinking level")
        return g.ThinkingConfig(thinking_level=level, include_thoughts=True)
    budget = THINKING_BUDGET.get(effort)
    if budget is None:
        raise _bad(f"reasoning_effort {effort!r} is not one of {sorted(THINKING_BUDGET)}")
    return g.ThinkingConfig(thinking_budget=budget, include_thoughts=True if budget else UNSET)


def _bad(message: str) -> InvalidRequest:
    return InvalidRequest(message, param="reasoning_effort", code="unsupported_parameter")


def replay(m: AssistantMessage, content: g.Content, host: str, param: str) -> None:
    """Put an assistant message's signatures back on the parts of its model content."""
    sigs = {b.at: b.sig for b in reasoning.decode(m.reasoning_opaque, host, param) if b.sig}
    calls = [p for p in content.parts if isinstance(p.function_call, g.FunctionCall)]
    for j, part in enumerate(calls):
        found = sigs.get(j)
        if found is None and isinstance(m.tool_calls, list) and j < len(m.tool_calls):
            _, mark, legacy = m.tool_calls[j].id.partition(LEGACY_MARK)
            found = legacy if mark and legacy else None
        if found:
            part.thought_signature = found
    texts = [p for p in content.parts if isinstance(p.text, str)]
    if -1 in sigs and texts:
        texts[-1].thought_signature = sigs[-1]


def fill_current_turn(contents: list[g.Content], model: str) -> None:
    """Gemini 3: a current-turn step whose first call has no signature gets Google's
    placeholder (a real one, when the client sent it back, is never replaced)."""
    if "gemini-3" not in model:
        return
    start = 0
    for i, c in enumerate(contents):  # the turn starts after the last user text
        if c.role == "user" and any(p.function_response is UNSET for p in c.parts):
            start = i + 1
    for c in contents[start:]:
        if c.role != "model":
            continue
        first = next((p for p in c.parts if isinstance(p.function_call, g.FunctionCall)), None)
        if first is not None and not first.thought_signature:
            first.thought_signature = SKIP_VALIDATOR
