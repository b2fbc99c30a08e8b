"""Chat requests to Claude where another platform serves it: Vertex AI and Bedrock.

Both take Anthropic's Messages body with three differences (the model in the URL, an
``anthropic_version`` of their own in the body, Bedrock's betas as a body list), so the
chat endpoint reuses the whole Anthropic translation: the body from ``request.py``, the
answer from ``response.py``, the stream from ``stream.py`` (each host's framing turned into
Messages events by its ``events`` function), errors in the host's own shape.
"""

from __future__ import annotations

from collections.abc import Mapping

from msgspec import UNSET

from proxy.body import RequestBody
from proxy.errors import GatewayError
from proxy.providers.anthropic.messages import ChatOfEvents, ErrorParser, Events, same_events
from proxy.providers.anthropic.native import MessagesRequest
from proxy.providers.anthropic.request import build_body
from proxy.providers.anthropic.response import parse_response
from proxy.providers.anthropic.stream import AnthropicStream
from proxy.providers.base import StreamTranslator
from proxy.reply import Completion


def hosted_body(
    body: RequestBody, model: str, host: str, version: str, stream_field: bool
) -> MessagesRequest:
    """The Messages body for ``host``: no model (the URL names it), its version inside,
    ``stream`` kept only where the host reads it (Vertex; Bedrock's operation says it)."""
    out = build_body(body, model, host)
    out.model = UNSET
    out.anthropic_version = version
    if not stream_field:
        out.stream = UNSET
    return out


class ClaudeChat:
    """How the relay reads a chat call that Claude answered on ``name``'s platform."""

    def __init__(self, name: str, errors: ErrorParser, events: Events = same_events) -> None:
        self.name = name
        self._errors = errors
        self._events = events

    def parse_response(
        self, status: int, headers: Mapping[str, str], raw: bytes, model: str
    ) -> Completion:
        return parse_response(status, headers, raw, model, self.name)

    def parse_error(self, status: int, headers: Mapping[str, str], raw: bytes) -> GatewayError:
        return self._errors(status, headers, raw)

    def stream_translator(self, model: str, include_usage: bool) -> StreamTranslator:
        return ChatOfEvents(AnthropicStream(model, include_usage, self.name), self._events)
