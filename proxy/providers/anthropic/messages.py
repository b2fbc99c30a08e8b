"""Anthropic's Messages API spoken natively: what ``POST /v1/messages`` relays to Claude.

The ``/v1/messages`` front door sends a Messages body to a provider that speaks it
(Anthropic here; Claude on Bedrock and on Vertex AI build their own call in their packages
and reuse ``MessagesTranslation``) and relays the answer unchanged: the Message bytes, or
the SSE events one Chunk each, in the ``anthropic`` wire. Middlewares still read usage, and
on demand the chat view, through the wire codec registered here.

The gateway reads only what it needs of an event (its type, its usage) and checks that it
is a JSON object; unknown event kinds and fields pass through (forward compatibility).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from proxy.errors import GatewayError, UpstreamError, UpstreamInvalid
from proxy.providers.anthropic import api
from proxy.providers.anthropic.errors import parse_error, stream_error
from proxy.providers.anthropic.native import Usage, message_decoder
from proxy.providers.anthropic.response import to_completion, usage
from proxy.providers.anthropic.stream import AnthropicStream
from proxy.providers.base import MessagesCall, StreamTranslator, UpstreamRequest
from proxy.reply import Chunk, Completion
from proxy.schema import ChatCompletion
from proxy.schema import Usage as ChatUsage
from proxy.sse import SSEEvent
from proxy.target import Target
from proxy.wires import register_wire

# an event name becomes an ``event:`` line of the client's stream: nothing but a name
_EVENT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class _MessageUsage(msgspec.Struct):
    usage: Usage | None = None


class _EventHead(msgspec.Struct):
    """What the gateway reads of a Message or a stream event; the rest stays bytes."""

    type: str = ""
    usage: Usage | None = None
    message: _MessageUsage | None = None


_head = msgspec.json.Decoder(_EventHead)


def merge_usage(into: Usage, u: Usage | None) -> None:
    """Anthropic's stream counts are cumulative: the latest value of each field wins."""
    if u is None:
        return
    for field in Usage.__struct_fields__:
        value = getattr(u, field)
        if value is not None:
            setattr(into, field, value)


class AnthropicWire:
    """The ``anthropic`` wire: chat view and usage of native Messages bytes."""

    def completion(self, raw: bytes) -> ChatCompletion:
        return to_completion(message_decoder.decode(raw), "")

    def usage(self, raw: bytes) -> ChatUsage | None:
        h = _head.decode(raw)
        found = h.usage if h.usage is not None else (h.message.usage if h.message else None)
        return usage(found) if found is not None else None


register_wire("anthropic", AnthropicWire())

Events = Callable[[Any], list[SSEEvent]]


def same_events(event: Any) -> list[SSEEvent]:
    """SSE hosts (Anthropic, Vertex AI): the framing's events are the Messages events."""
    return [event]


class NativeStream:
    """Messages stream events relayed as they came: one Chunk per event, its SSE name in
    ``event``, the usage so far on ``message_start`` / ``message_delta`` /
    ``message_stop`` (so logs and cost see the totals, whichever event they read last)."""

    def __init__(self, provider: str, events: Events) -> None:
        self.provider = provider
        self.events = events
        self.usage = Usage()
        self.stopped = False

    def feed(self, event: Any) -> list[Chunk]:
        return [c for ev in self.events(event) for c in self._one(ev)]

    def _one(self, ev: SSEEvent) -> list[Chunk]:
        data = ev.data
        if not data.strip():
            return []
        try:
            head = _head.decode(data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise UpstreamInvalid(
                f"{self.provider} sent a stream event that is not a Messages event ({exc})",
                provider=self.provider,
            ) from None
        name = head.type  # the client's event line always names what its data says it is
        if name == "error" or ev.event == "error":
            raise stream_error(data, self.provider)
        if not _EVENT_NAME.match(name):
            raise UpstreamInvalid(
                f"{self.provider} sent a stream event without a valid type",
                provider=self.provider,
            )
        if b"\n" in data:  # pretty-printed JSON: its line breaks would end the client's event
            data = data.replace(b"\n", b" ")
        counted: ChatUsage | None = None
        if head.usage is not None or head.message is not None or name == "message_stop":
            merge_usage(self.usage, head.usage or (head.message.usage if head.message else None))
            counted = usage(self.usage)
        if name == "message_stop":
            self.stopped = True
        return [Chunk(raw=data, usage=counted, wire="anthropic", event=name)]

    def finish(self) -> list[Chunk]:
        if not self.stopped:
            raise UpstreamError(
                f"{self.provider} stream ended before message_stop",
                status=502,
                code="upstream_stream_truncated",
                provider=self.provider,
            )
        return []


class ChatOfEvents:
    """Messages events read as chat chunks (a middleware reads the stream's content)."""

    def __init__(self, inner: AnthropicStream, events: Events) -> None:
        self.inner = inner
        self.events = events

    def feed(self, event: Any) -> list[Chunk]:
        return [c for ev in self.events(event) for c in self.inner.feed(ev)]

    def finish(self) -> list[Chunk]:
        return self.inner.finish()


ErrorParser = Callable[[int, Mapping[str, str], bytes], GatewayError]


class MessagesTranslation:
    """How the relay reads a Messages answer from one host of Claude."""

    def __init__(
        self, name: str, errors: ErrorParser, events: Events = same_events, chat: bool = False
    ) -> None:
        self.name = name
        self._errors = errors
        self._events = events
        self._chat = chat

    def parse_response(
        self, status: int, headers: Mapping[str, str], raw: bytes, model: str
    ) -> Completion:
        try:
            msg = message_decoder.decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise UpstreamInvalid(
                f"{self.name} answered with a body that is not a Message ({exc})",
                provider=self.name,
            ) from None
        return Completion(raw=raw, usage=usage(msg.usage), wire="anthropic")

    def parse_error(self, status: int, headers: Mapping[str, str], raw: bytes) -> GatewayError:
        return self._errors(status, headers, raw)

    def stream_translator(self, model: str, include_usage: bool) -> StreamTranslator:
        if self._chat:
            return ChatOfEvents(AnthropicStream(model, include_usage), self._events)
        return NativeStream(self.name, self._events)


def merged_betas(target: Target, call: MessagesCall) -> list[str]:
    """The operator's betas (settings, config) and the client's, each once, in order."""
    out: list[str] = []
    for name in [*(target.text("anthropic_beta") or "").split(","), *call.betas]:
        name = name.strip()
        if name and name not in out:
            out.append(name)
    return out


def direct_request(body: bytes, call: MessagesCall) -> UpstreamRequest:
    """The call on Anthropic's own API: the body as the client sent it (model routed)."""
    target = call.target
    headers = api.headers(target)
    if not target.text("anthropic_version") and call.version:
        headers["anthropic-version"] = call.version  # the client knows its body's version
    betas = merged_betas(target, call)
    if betas:
        headers["anthropic-beta"] = ",".join(betas)
    url = api.url(target) + ("/count_tokens" if call.count else "")
    if call.beta_query:
        url += "?beta=true"
    return UpstreamRequest(url=url, headers=headers, body=body, stream=call.stream)


def direct_translation(chat: bool) -> MessagesTranslation:
    return MessagesTranslation("anthropic", parse_error, chat=chat)
