"""Token usage of a stream, from the provider's usage event or estimated.

Providers send usage in a stream only when asked (OpenAI's ``stream_options.include_usage``)
or always (Anthropic, Gemini). When none comes, usage is estimated and marked as such:
about 4 characters per token (OpenAI's rule of thumb for English text), plus 3 tokens per
message and 3 for the reply's priming (OpenAI's cookbook count for chat formatting). A real
tokenizer (tiktoken) is not used: it downloads its vocabularies at run time, which an
offline egress gateway cannot do, and it is wrong for non-OpenAI models anyway.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import msgspec

from proxy.reply import Chunk
from proxy.schema import Usage, text_of_json

if TYPE_CHECKING:
    from proxy.context import RequestContext

CHARS_PER_TOKEN = 4.0
TOKENS_PER_MESSAGE = 3
REPLY_PRIMING = 3


def tokens_for_chars(chars: int) -> int:
    return int(chars / CHARS_PER_TOKEN + 0.5) if chars else 0


def estimate_prompt_tokens(messages: Any) -> int:
    """Prompt tokens of chat messages in their JSON form (whatever parts they hold)."""
    if not isinstance(messages, list):
        return REPLY_PRIMING
    chars = 0
    for m in messages:
        if not isinstance(m, dict):
            continue
        chars += len(text_of_json(m.get("content")))
        for call in m.get("tool_calls") or ():
            fn = call.get("function") if isinstance(call, dict) else None
            if isinstance(fn, dict):
                chars += len(str(fn.get("arguments") or "")) + len(str(fn.get("name") or ""))
    return tokens_for_chars(chars) + TOKENS_PER_MESSAGE * len(messages) + REPLY_PRIMING


def estimate_prompt_tokens_raw(raw: bytes) -> int:
    """``estimate_prompt_tokens`` read straight off a chat body's bytes: the text-bearing
    strings (the same pattern as the stream's) and one allowance per ``"role"``."""
    chars = sum(map(len, _TEXT.findall(raw)))
    return tokens_for_chars(chars) + TOKENS_PER_MESSAGE * raw.count(b'"role"') + REPLY_PRIMING


class _Fn(msgspec.Struct):
    arguments: str | None = None


class _ToolCall(msgspec.Struct):
    function: _Fn | None = None


class _Delta(msgspec.Struct):
    content: str | None = None
    refusal: str | None = None
    reasoning_content: str | None = None
    tool_calls: list[_ToolCall] | None = None


class _Choice(msgspec.Struct):
    delta: _Delta | None = None
    text: str | None = None  # a legacy completions chunk (POST /v1/completions)


class _LightChunk(msgspec.Struct):
    choices: list[_Choice] | None = None
    usage: Usage | None = None


_light = msgspec.json.Decoder(_LightChunk)

# the text-bearing string fields of a chunk, read straight off the bytes: a full decode of
# every chunk of every stream would cost more than the whole relay of that chunk
_TEXT = re.compile(
    # runs of plain characters in one step, possessive (no backtracking, linear on any
    # input): a third of the work of matching a character at a time
    # (the two keys that start "re" share one branch: the same strings, fewer tries)
    rb'"(?:content|re(?:fusal|asoning_content)|arguments|text)":\s?"((?:[^"\\]++|\\.)*+)"'
)


class StreamUsage:
    """Fed every chunk of one stream; knows the usage at the end, reported or estimated."""

    __slots__ = ("chars", "keep_text", "reported", "text")

    def __init__(self, keep_text: bool = False) -> None:
        self.chars = 0
        self.reported: Usage | None = None
        self.keep_text = keep_text
        self.text: list[str] = []

    def feed(self, chunk: Chunk) -> None:
        if chunk.wire != "chat" or chunk.framed:  # a native event or whole events: their
            found = chunk.usage()  # usage was read for them (cumulative on Anthropic's)
            if found is not None:
                self.reported = found
                if chunk.wire != "chat":
                    return  # else its text still counts towards an estimate
        raw = chunk.raw
        if chunk.framed:  # several events, their text counted when they were scanned
            self.chars += chunk.chars
            return
        if not self.keep_text and b'"usage"' not in raw:
            # UTF-8 bytes, escapes (\n, \") as two: close enough for an estimate
            self.chars += sum(map(len, _TEXT.findall(raw)))
            return
        try:
            c = _light.decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return
        if c.usage is not None:
            self.reported = c.usage
        for choice in c.choices or ():
            if choice.text:
                self.chars += len(choice.text)
                if self.keep_text:
                    self.text.append(choice.text)
            d = choice.delta
            if d is None:
                continue
            for piece in (d.content, d.refusal, d.reasoning_content):
                if piece:
                    self.chars += len(piece)
                    if self.keep_text:
                        self.text.append(piece)
            for tc in d.tool_calls or ():
                if tc.function is not None and tc.function.arguments:
                    self.chars += len(tc.function.arguments)

    def result(self, messages: Any) -> tuple[Usage, bool]:
        """(usage, estimated); ``messages``: the request's, in chat JSON form."""
        if self.reported is not None:
            return self.reported, False
        return self._estimate(estimate_prompt_tokens(messages))

    def result_for(self, ctx: RequestContext) -> tuple[Usage, bool]:
        """(usage, estimated) for a request: the usage event the relay read and did not
        relay (``ctx.upstream_usage``), else one a chunk carried, else an estimate; a chat
        body's prompt is estimated off its bytes (no decode of a body that may be
        megabytes), other wires through chat form."""
        if ctx.upstream_usage is not None:
            return ctx.upstream_usage, False
        if self.reported is not None:
            return self.reported, False
        body = ctx.body
        if body.wire == "chat":
            return self._estimate(estimate_prompt_tokens_raw(body.raw))
        return self._estimate(estimate_prompt_tokens(body.as_dict().get("messages")))

    def _estimate(self, prompt: int) -> tuple[Usage, bool]:
        completion = tokens_for_chars(self.chars)
        return Usage(prompt, completion, prompt + completion), True
