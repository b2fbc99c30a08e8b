"""Bedrock Converse response -> OpenAI chat.completion (and the pieces streams share)."""

from __future__ import annotations

from collections.abc import Mapping

import msgspec
from msgspec import UNSET, UnsetType

from proxy.errors import UpstreamInvalid
from proxy.providers.bedrock import native as nv
from proxy.providers.bedrock.extras import HOST, kept
from proxy.providers.bedrock.request import JSON_TOOL
from proxy.providers.common import new_id, now
from proxy.providers.reasoning import Collector
from proxy.schema import (
    ChatCompletion,
    Choice,
    FunctionCall,
    PromptTokensDetails,
    ResponseMessage,
    ToolCall,
    Usage,
)

FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
}


def finish_reason(stop_reason: str, has_tool_calls: bool) -> str:
    reason = FINISH_REASONS.get(stop_reason, "stop")
    if reason == "tool_calls" and not has_tool_calls:
        return "stop"  # the forced JSON tool answered: that is content, not a tool call
    return reason


def usage_of(u: nv.TokenUsage) -> Usage:
    """OpenAI counts cached prompt tokens inside prompt_tokens; Converse counts them apart."""
    read = u.cache_read_input_tokens if isinstance(u.cache_read_input_tokens, int) else 0
    write = u.cache_write_input_tokens if isinstance(u.cache_write_input_tokens, int) else 0
    prompt = u.input_tokens + read + write
    details: PromptTokensDetails | UnsetType = UNSET
    if u.cache_read_input_tokens is not UNSET or write:
        details = PromptTokensDetails(cached_tokens=read)
        if write:
            details.cache_write_tokens = write
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=u.output_tokens,
        total_tokens=prompt + u.output_tokens,
        prompt_tokens_details=details,
    )


def completion_id(headers: Mapping[str, str]) -> str:
    rid = headers.get("x-amzn-requestid") or headers.get("x-amzn-RequestId")
    return f"chatcmpl-{rid}" if rid else new_id()


def parse_completion(raw: bytes, model: str, id: str) -> ChatCompletion:
    try:
        resp = nv.response_decoder.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        raise UpstreamInvalid(
            "bedrock answered with a body that is not a Converse response", provider="bedrock"
        ) from None
    texts: list[str] = []
    thoughts: list[str] = []
    state = Collector(HOST)
    json_answer: str | None = None
    calls: list[ToolCall] = []
    message = resp.output.message
    for block in message.content if isinstance(message, nv.OutMessage) else []:
        if isinstance(block.reasoning_content, nv.OutReasoning):
            thought = kept(block.reasoning_content, len(calls))
            if thought is not None:
                state.add(thought)
                thoughts.append(thought.text)
        elif isinstance(block.text, str):
            texts.append(block.text)
        elif isinstance(block.tool_use, nv.OutToolUse):
            use = block.tool_use
            args = bytes(use.input).decode()
            if use.name == JSON_TOOL:
                json_answer = args
            else:
                calls.append(ToolCall(id=use.tool_use_id, function=FunctionCall(use.name, args)))
    content = json_answer if json_answer is not None else "".join(texts)
    msg = ResponseMessage(
        content=content if content or not calls else None,
        tool_calls=calls or UNSET,
        reasoning_content="".join(thoughts) or UNSET,
        reasoning_opaque=state.token() or UNSET,
    )
    return ChatCompletion(
        id=id,
        created=now(),
        model=model,
        choices=[
            Choice(index=0, message=msg, finish_reason=finish_reason(resp.stop_reason, bool(calls)))
        ],
        usage=usage_of(resp.usage) if isinstance(resp.usage, nv.TokenUsage) else UNSET,
    )
