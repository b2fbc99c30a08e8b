"""Messages API answer -> ChatCompletion."""

from __future__ import annotations

from collections.abc import Mapping

import msgspec
from msgspec import UNSET

from proxy.errors import UpstreamInvalid
from proxy.providers.anthropic.native import Block, Message, Usage, encoder, message_decoder
from proxy.providers.anthropic.structured import ANSWER_TOOL
from proxy.providers.common import now
from proxy.providers.reasoning import Block as Kept
from proxy.providers.reasoning import Collector
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
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",  # a server tool paused the turn; the text so far is the answer
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def finish_reason(stop_reason: str | None, answered_by_tool: bool = False) -> str:
    reason = FINISH_REASONS.get(stop_reason or "", "stop")
    if answered_by_tool and reason == "tool_calls":
        return "stop"  # the json_schema answer tool is content, not a call for the client
    return reason


def usage(u: Usage | None) -> OpenAIUsage:
    """Anthropic counts cached input apart; OpenAI's prompt_tokens includes it."""
    if u is None:
        return OpenAIUsage(prompt_tokens_details=PromptTokensDetails(cached_tokens=0))
    cached = u.cache_read_input_tokens or 0
    written = u.cache_creation_input_tokens or 0
    prompt = (u.input_tokens or 0) + cached + written
    completion = u.output_tokens or 0
    details = PromptTokensDetails(cached_tokens=cached)
    if written:
        details.cache_write_tokens = written
    return OpenAIUsage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=prompt + completion,
        prompt_tokens_details=details,
    )


def kept(block: Block, calls_before: int) -> Kept | None:
    """What of a thinking block must come back next turn (None: not a thinking block)."""
    if block.type == "thinking":
        return Kept(kind="thinking", text=block.thinking, sig=block.signature, at=calls_before)
    if block.type == "redacted_thinking":
        return Kept(kind="redacted", data=block.data, at=calls_before)
    return None


def to_completion(msg: Message, model: str, host: str = "anthropic") -> ChatCompletion:
    texts: list[str] = []
    thoughts: list[str] = []
    calls: list[ToolCall] = []
    state = Collector(host)
    answered_by_tool = False
    for block in msg.content:
        if (thought := kept(block, len(calls))) is not None:
            state.add(thought)
            if thought.text:
                thoughts.append(thought.text)
        elif block.type == "text":
            texts.append(block.text)
        elif block.type == "tool_use" and block.name == ANSWER_TOOL:
            texts.append(encoder.encode(block.input or {}).decode())
            answered_by_tool = True
        elif block.type == "tool_use":
            args = encoder.encode(block.input if block.input is not None else {}).decode()
            calls.append(ToolCall(id=block.id, function=FunctionCall(block.name, args)))
        # server-tool blocks have no OpenAI field
    text = "".join(texts)
    message = ResponseMessage(
        content=text if text or not calls else None, tool_calls=calls or UNSET
    )
    if thoughts:
        message.reasoning_content = "".join(thoughts)
    token = state.token()
    if token is not None:
        message.reasoning_opaque = token
    reason = finish_reason(msg.stop_reason, answered_by_tool and not calls)
    return ChatCompletion(
        id=msg.id or "msg_unknown",
        created=now(),
        model=msg.model or model,
        choices=[Choice(index=0, message=message, finish_reason=reason)],
        usage=usage(msg.usage),
    )


def parse_response(
    status: int, headers: Mapping[str, str], raw: bytes, model: str, host: str = "anthropic"
) -> Completion:
    """``host``: who answered (anthropic, or Claude on vertex-ai / bedrock)."""
    try:
        msg = message_decoder.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise UpstreamInvalid(
            f"{host} answered with a body that is not a Message ({exc})", provider=host
        ) from None
    return Completion(parsed=to_completion(msg, model, host))
