"""Pure helpers shared by the native adapters (Anthropic, Gemini, Bedrock, ...).

Only what is truly the same across providers lives here: reading the canonical request
(system text, stop list, token limit, data URLs) and building OpenAI chunks/completions.
Provider knowledge (field names, finish-reason maps) stays in each provider's package.
"""

from __future__ import annotations

import base64
import binascii
import re
import time
import uuid

from msgspec import UNSET

from proxy.errors import InvalidRequest
from proxy.reply import Chunk
from proxy.schema import (
    CacheControl,
    ChatCompletionChunk,
    ChatRequest,
    ChunkChoice,
    Content,
    Delta,
    DeveloperMessage,
    FunctionCallDelta,
    SystemMessage,
    TextPart,
    ToolCallDelta,
    Usage,
    text_of,
)


def new_id(prefix: str = "chatcmpl-") -> str:
    return prefix + uuid.uuid4().hex[:24]


def now() -> int:
    return int(time.time())


def system_text(req: ChatRequest) -> list[str]:
    """Every system/developer message's text, in order (wherever it stands in the list)."""
    return [
        text_of(m.content)
        for m in req.messages
        if isinstance(m, SystemMessage | DeveloperMessage) and text_of(m.content)
    ]


def system_blocks(req: ChatRequest) -> list[tuple[str, CacheControl | None]]:
    """System/developer text with its cache breakpoints: one piece per message (parts
    joined, the message's ``cache_control`` on it), or one per part when a part carries
    its own breakpoint (the cached prefix must end exactly where the client marked it)."""
    out: list[tuple[str, CacheControl | None]] = []
    for m in req.messages:
        if not isinstance(m, SystemMessage | DeveloperMessage):
            continue
        own = m.cache_control if isinstance(m.cache_control, CacheControl) else None
        parts = m.content if isinstance(m.content, list) else []
        if any(isinstance(p.cache_control, CacheControl) for p in parts):
            pieces = [
                (p.text, p.cache_control if isinstance(p.cache_control, CacheControl) else None)
                for p in parts
                if p.text
            ]
            if pieces and own is not None:
                pieces[-1] = (pieces[-1][0], own)
            out.extend(pieces)
        elif text := text_of(m.content):
            out.append((text, own))
    return out


def has_cache_control(req: ChatRequest) -> bool:
    """Whether the client marked any prompt-cache breakpoint (messages, parts, tools)."""
    if isinstance(req.tools, list) and any(t.cache_control for t in req.tools):
        return True
    for m in req.messages:
        if getattr(m, "cache_control", None):
            return True
        content = getattr(m, "content", None)
        if isinstance(content, list) and any(getattr(p, "cache_control", None) for p in content):
            return True
    return False


def stop_list(req: ChatRequest) -> list[str] | None:
    stop = req.stop
    if stop is UNSET or stop is None:
        return None
    if isinstance(stop, str):
        return [stop]
    return list(stop)


def token_limit(req: ChatRequest) -> int | None:
    """``max_completion_tokens`` (the current name) or ``max_tokens``."""
    for value in (req.max_completion_tokens, req.max_tokens):
        if isinstance(value, int):
            return value
    return None


_DATA_URL = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(;[^;,]*)*?);base64,", re.I)


def parse_data_url(url: str, param: str = "messages") -> tuple[str, str] | None:
    """``data:<mime>;base64,<data>`` -> (mime, base64 data); None for any other URL.

    Raises 400 when it is a data URL but not valid base64.
    """
    if not url.startswith("data:"):
        return None
    m = _DATA_URL.match(url)
    if m is None:
        raise InvalidRequest(
            "image data URLs must look like data:<mime>;base64,<data>",
            param=param,
            code="invalid_image_url",
        )
    data = url[m.end() :]
    try:
        base64.b64decode(data[:64] + "=" * (-len(data[:64]) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest(
            "image data URL is not valid base64", param=param, code="invalid_image_url"
        ) from None
    return (m.group("mime") or "application/octet-stream").lower(), data


def content_parts(content: Content | list[TextPart] | None) -> list[object]:
    """Content as a list of parts (a plain string becomes one TextPart)."""
    if content is None:
        return []
    if isinstance(content, str):
        return [TextPart(text=content)] if content else []
    return list(content)


class ChunkFactory:
    """Builds the OpenAI chunks of one stream (same id, created and model throughout)."""

    def __init__(self, model: str, id: str | None = None, created: int | None = None) -> None:
        self.id = id or new_id()
        self.created = created or now()
        self.model = model

    def _chunk(self, delta: Delta, finish: str | None = None, index: int = 0) -> Chunk:
        return Chunk(
            parsed=ChatCompletionChunk(
                id=self.id,
                created=self.created,
                model=self.model,
                choices=[ChunkChoice(index=index, delta=delta, finish_reason=finish)],
            )
        )

    def role(self, index: int = 0) -> Chunk:
        return self._chunk(Delta(role="assistant", content=""), index=index)

    def text(self, text: str, index: int = 0) -> Chunk:
        return self._chunk(Delta(content=text), index=index)

    def reasoning(self, text: str, index: int = 0) -> Chunk:
        return self._chunk(Delta(reasoning_content=text), index=index)

    def opaque(self, token: str, index: int = 0) -> Chunk:
        """The turn's reasoning state, once, whole (the SDK's stream accumulator
        concatenates string deltas, so it must never come in pieces)."""
        return self._chunk(Delta(reasoning_opaque=token), index=index)

    def tool_call_start(self, tool_index: int, call_id: str, name: str, index: int = 0) -> Chunk:
        delta = ToolCallDelta(
            index=tool_index,
            id=call_id,
            type="function",
            function=FunctionCallDelta(name=name, arguments=""),
        )
        return self._chunk(Delta(tool_calls=[delta]), index=index)

    def tool_args(self, tool_index: int, fragment: str, index: int = 0) -> Chunk:
        delta = ToolCallDelta(index=tool_index, function=FunctionCallDelta(arguments=fragment))
        return self._chunk(Delta(tool_calls=[delta]), index=index)

    def finish(self, reason: str, index: int = 0) -> Chunk:
        return self._chunk(Delta(), finish=reason, index=index)

    def usage(self, usage: Usage) -> Chunk:
        """The final usage chunk (empty choices), as OpenAI sends with include_usage."""
        return Chunk(
            parsed=ChatCompletionChunk(
                id=self.id, created=self.created, model=self.model, choices=[], usage=usage
            )
        )


__all__ = [
    "UNSET",
    "ChunkFactory",
    "content_parts",
    "has_cache_control",
    "new_id",
    "now",
    "parse_data_url",
    "stop_list",
    "system_blocks",
    "system_text",
    "token_limit",
]
