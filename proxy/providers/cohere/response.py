"""Chat API v2 answer -> ChatCompletion."""

from __future__ import annotations

from collections.abc import Mapping

import msgspec
from msgspec import UNSET

from proxy.errors import GatewayError, UpstreamError, UpstreamInvalid
from proxy.providers.cohere.native import Answer, Usage, answer_decoder
from proxy.providers.common import new_id, now
from proxy.reply import Completion
from proxy.schema import (
    ChatCompletion,
    Choice,
    FunctionCall,
    PromptTokensDetails,
    ResponseMessage,
    ToolCall,
)
from proxy.schema import Usage as OpenAIUsage

FINISH_REASONS: dict[str, str] = {
    "COMPLETE": "stop",
    "STOP_SEQUENCE": "stop",
    "MAX_TOKENS": "length",
    "TOOL_CALL": "tool_calls",
    # stopped for exceeding Cohere's time limit: a cut-short answer, as with max_tokens
    "TIMEOUT": "length",
}
ERROR = "ERROR"  # "the generation failed due to an internal error": not an answer


def finish_reason(native: str | None) -> str:
    return FINISH_REASONS.get(native or "", "stop")  # reasons added later read as a stop


def generation_failed(detail: str | None) -> GatewayError:
    """A 200 whose generation failed: a 502 a retry or fallback rule can act on."""
    return UpstreamError(
        f"cohere error: {detail or 'the generation failed (finish_reason ERROR)'}",
        status=502,
        code="upstream_generation_failed",
        provider="cohere",
    )


def _count(value: float | None) -> int:
    return int(value) if value is not None and value >= 0 else 0


def usage(u: Usage | None) -> OpenAIUsage:
    """``tokens`` (what the model read and wrote, its prompt template included) when
    present, else ``billed_units``; ``cached_tokens`` are part of the prompt, as in OpenAI."""
    counted = None if u is None else (u.tokens or u.billed_units)
    prompt = _count(counted.input_tokens) if counted else 0
    completion = _count(counted.output_tokens) if counted else 0
    cached = _count(u.cached_tokens) if u is not None else 0
    return OpenAIUsage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=prompt + completion,
        prompt_tokens_details=PromptTokensDetails(cached_tokens=cached),
    )


def to_completion(answer: Answer, model: str) -> ChatCompletion:
    if answer.finish_reason == ERROR:
        raise generation_failed(None)
    msg = answer.message
    texts: list[str] = []
    thoughts: list[str] = []
    for block in msg.content or []:
        if block.type == "text":
            texts.append(block.text)
        elif block.type == "thinking":
            thoughts.append(block.thinking)
        # block kinds added later have no OpenAI field
    calls = [
        ToolCall(id=c.id, function=FunctionCall(c.function.name, c.function.arguments or "{}"))
        for c in msg.tool_calls or []
    ]
    # the tool plan is the text Cohere writes before its calls: OpenAI's content there
    text = "".join(texts) or (msg.tool_plan or "")
    message = ResponseMessage(
        content=text if text or not calls else None,
        tool_calls=calls or UNSET,
        reasoning_content="".join(thoughts) if thoughts else UNSET,
    )
    return ChatCompletion(
        id=answer.id or new_id(),
        created=now(),
        model=model,  # Cohere's answer does not name the model
        choices=[Choice(0, message, finish_reason(answer.finish_reason))],
        usage=usage(answer.usage),
    )


def parse_response(status: int, headers: Mapping[str, str], raw: bytes, model: str) -> Completion:
    try:
        answer = answer_decoder.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise UpstreamInvalid(
            f"cohere answered with a body that is not a chat response ({exc})", provider="cohere"
        ) from None
    return Completion(parsed=to_completion(answer, model))
