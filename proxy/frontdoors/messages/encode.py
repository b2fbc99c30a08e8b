"""Chat answers and gateway errors in Anthropic's shapes.

A chat completion becomes a Message (content blocks: thinking when the provider reported
reasoning text, text, tool_use with the arguments parsed into ``input``); OpenAI's
``finish_reason`` becomes ``stop_reason``; usage splits the cached part of the prompt out,
as Anthropic counts it. Errors: ``{"type": "error", "error": {"type", "message"}}`` with
Anthropic's type for the status.
"""

from __future__ import annotations

from typing import Any

import msgspec

from proxy.errors import GatewayError
from proxy.schema import ChatCompletion, PromptTokensDetails, Usage

STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}

# Anthropic's error type for each status (its API reference); 5xx not listed: api_error
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    413: "request_too_large",
    429: "rate_limit_error",
    504: "timeout_error",
    529: "overloaded_error",
}
KNOWN_TYPES = frozenset(ERROR_TYPES.values()) | {"api_error"}

encoder = msgspec.json.Encoder()


def stop_reason(finish: str | None, called_tools: bool) -> str:
    """``finish_reason`` as ``stop_reason``. A provider that ends a turn of tool calls with
    "stop" (some do) still asked for tools: an agent loop keys on ``tool_use``."""
    reason = STOP_REASONS.get(finish or "stop", "end_turn")
    if called_tools and reason == "end_turn":
        return "tool_use"
    return reason


def message_id(chat_id: str) -> str:
    return chat_id if chat_id.startswith("msg_") else "msg_" + chat_id


def usage_of(u: Any) -> dict[str, int]:
    """Chat usage in Anthropic's terms: ``input_tokens`` leaves out cache reads."""
    if not isinstance(u, Usage):
        return {"input_tokens": 0, "output_tokens": 0}
    cached = 0
    details = u.prompt_tokens_details
    if isinstance(details, PromptTokensDetails) and isinstance(details.cached_tokens, int):
        cached = details.cached_tokens
    out = {"input_tokens": max(u.prompt_tokens - cached, 0), "output_tokens": u.completion_tokens}
    if cached:
        out["cache_read_input_tokens"] = cached
    return out


def tool_input(arguments: str) -> Any:
    """A call's JSON arguments as ``input`` (an object; a model's broken JSON: empty)."""
    try:
        value = msgspec.json.decode(arguments or "{}")
    except msgspec.DecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def message_of(completion: ChatCompletion, model: str) -> bytes:
    """A chat completion as a Message (the first choice: /v1/messages asks for one)."""
    content: list[dict[str, Any]] = []
    finish: str | None = None
    calls = 0
    if completion.choices:
        choice = completion.choices[0]
        msg = choice.message
        finish = choice.finish_reason
        reasoning = msg.reasoning_content if isinstance(msg.reasoning_content, str) else ""
        opaque = msg.reasoning_opaque if isinstance(msg.reasoning_opaque, str) else ""
        if reasoning or opaque:
            # the provider's state rides in the signature, which clients send back as is
            content.append({"type": "thinking", "thinking": reasoning, "signature": opaque})
        text = msg.content if isinstance(msg.content, str) else ""
        if isinstance(msg.refusal, str) and msg.refusal:
            text = text or msg.refusal
            finish = finish if finish != "stop" else "content_filter"
        if text:
            content.append({"type": "text", "text": text})
        for call in msg.tool_calls or ():
            calls += 1
            content.append(
                {
                    "type": "tool_use",
                    "id": call.id,
                    "name": call.function.name,
                    "input": tool_input(call.function.arguments),
                }
            )
    return encoder.encode(
        {
            "id": message_id(completion.id),
            "type": "message",
            "role": "assistant",
            "model": completion.model or model,
            "content": content,
            "stop_reason": stop_reason(finish, calls > 0),
            "stop_sequence": None,
            "usage": usage_of(completion.usage),
        }
    )


def error_type(exc: GatewayError) -> str:
    """Anthropic's type: the provider's own when it answered in Anthropic's shape."""
    if exc.code in KNOWN_TYPES:
        return str(exc.code)
    return ERROR_TYPES.get(
        exc.status, "api_error" if exc.status >= 500 else "invalid_request_error"
    )


def error_body(exc: GatewayError) -> bytes:
    return encoder.encode(
        {"type": "error", "error": {"type": error_type(exc), "message": exc.message}}
    )
