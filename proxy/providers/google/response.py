"""Gemini ``GenerateContentResponse`` -> Chat Completion (pure, no I/O).

Candidates become choices; text parts are joined, thought summaries (``thought: true``)
go to ``reasoning_content``; ``functionCall`` parts become ``tool_calls`` with generated
ids and JSON-string arguments; thought signatures are kept for ``reasoning_opaque``
(``Signatures``).
Gemini says ``STOP`` after function calls; OpenAI clients expect ``tool_calls``, so the finish
reason follows what the candidate holds. A prompt blocked before generation
(``promptFeedback.blockReason``) is one empty choice finished by ``content_filter``.
"""

from __future__ import annotations

import msgspec
from msgspec import UNSET

from proxy.errors import UpstreamInvalid
from proxy.providers.common import new_id, now
from proxy.providers.google import native as g
from proxy.providers.reasoning import Block, Collector
from proxy.reply import Completion
from proxy.schema import (
    ChatCompletion,
    Choice,
    CompletionTokensDetails,
    FunctionCall,
    PromptTokensDetails,
    ResponseMessage,
    ToolCall,
    Usage,
)

FINISH = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
    "IMAGE_PROHIBITED_CONTENT": "content_filter",
    "IMAGE_RECITATION": "content_filter",
}


def finish_reason(native: str | None, has_calls: bool) -> str:
    mapped = FINISH.get(native or "", "stop")  # OTHER, LANGUAGE, MALFORMED_FUNCTION_CALL, ...
    return "tool_calls" if has_calls and mapped == "stop" else mapped


def to_tool_call(part: g.Part) -> ToolCall | None:
    fc = part.function_call
    if not isinstance(fc, g.FunctionCall):
        return None
    args = fc.args if isinstance(fc.args, dict) else {}
    return ToolCall(
        id=new_id("call_"),
        function=FunctionCall(name=fc.name, arguments=msgspec.json.encode(args).decode()),
    )


def visible_text(part: g.Part) -> str | None:
    if isinstance(part.text, str) and part.thought is not True:
        return part.text
    return None


def thought_text(part: g.Part) -> str | None:
    if isinstance(part.text, str) and part.thought is True:
        return part.text
    return None


class Signatures:
    """The thought signatures of one candidate, by the call they belong to.

    A signature on a function call belongs to it. One on another part (a thought summary,
    an empty text part) is held: the next call that has none of its own takes it (Gemini
    may sign the thought before a call rather than the call, LiteLLM #25322), and one
    still held at the end is the answer's last-part signature (``at=-1``)."""

    __slots__ = ("calls", "held", "state")

    def __init__(self, host: str) -> None:
        self.state = Collector(host)
        self.calls = 0
        self.held: str | None = None

    def see(self, part: g.Part) -> None:
        sig = part.thought_signature if isinstance(part.thought_signature, str) else None
        if isinstance(part.function_call, g.FunctionCall):
            sig = sig or self.held
            self.held = None
            if sig:
                self.state.add(Block(kind="signature", sig=sig, at=self.calls))
            self.calls += 1
        elif sig:
            self.held = sig

    def token(self) -> str | None:
        if self.held:
            self.state.add(Block(kind="signature", sig=self.held, at=-1))
            self.held = None
        return self.state.token()


def usage(u: g.UsageMetadata | None) -> Usage | None:
    if u is None:
        return None
    # OpenAI counts reasoning inside completion_tokens; Gemini reports it apart
    completion = u.candidates_token_count + u.thoughts_token_count
    prompt = u.prompt_token_count + u.tool_use_prompt_token_count
    out = Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=u.total_token_count or prompt + completion,
    )
    if u.cached_content_token_count is not None:
        out.prompt_tokens_details = PromptTokensDetails(cached_tokens=u.cached_content_token_count)
    if u.thoughts_token_count:
        out.completion_tokens_details = CompletionTokensDetails(
            reasoning_tokens=u.thoughts_token_count
        )
    return out


def decode(raw: bytes, provider: str) -> g.GenerateContentResponse:
    try:
        return g.response_decoder.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise UpstreamInvalid(
            f"{provider} answered with a body that is not a GenerateContentResponse ({exc})",
            provider=provider,
        ) from None


def to_completion(
    resp: g.GenerateContentResponse, model: str, host: str = "google"
) -> ChatCompletion:
    choices: list[Choice] = []
    for cand in sorted(resp.candidates, key=lambda c: c.index):
        parts = cand.content.parts if cand.content is not None else []
        texts = [t for p in parts if (t := visible_text(p)) is not None]
        thoughts = [t for p in parts if (t := thought_text(p)) is not None]
        calls = [tc for p in parts if (tc := to_tool_call(p)) is not None]
        signatures = Signatures(host)
        for p in parts:
            signatures.see(p)
        message = ResponseMessage(
            content="".join(texts) if texts or not calls else None,
            tool_calls=calls if calls else UNSET,
            reasoning_content="".join(thoughts) if thoughts else UNSET,
            reasoning_opaque=signatures.token() or UNSET,
        )
        choices.append(Choice(cand.index, message, finish_reason(cand.finish_reason, bool(calls))))
    if not choices and resp.prompt_feedback is not None and resp.prompt_feedback.block_reason:
        choices.append(Choice(0, ResponseMessage(content=""), "content_filter"))
    u = usage(resp.usage_metadata)
    return ChatCompletion(
        id="chatcmpl-" + resp.response_id if resp.response_id else new_id(),
        created=now(),
        model=resp.model_version or model,
        choices=choices,
        usage=u if u is not None else UNSET,
    )


def parse_response(raw: bytes, model: str, provider: str) -> Completion:
    resp = decode(raw, provider)
    if not resp.candidates and resp.prompt_feedback is None:  # neither an answer nor a block
        raise UpstreamInvalid(
            f"{provider} answered with neither candidates nor promptFeedback", provider=provider
        )
    return Completion(parsed=to_completion(resp, model, provider))
