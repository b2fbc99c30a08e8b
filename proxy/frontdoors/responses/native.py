"""OpenAI and Azure speak the Responses API themselves: the call and how to read its answer.

The URL and auth come from the adapter's own chat call, so whatever it knows (custom host,
organization and project, Azure's resource, Entra token) applies here unchanged: OpenAI's
``<base>/responses``, Azure's v1 API ``<resource>/openai/v1/responses`` (the deployment goes
in the body's ``model``, as Azure documents).

Answers are relayed byte for byte (``wire="responses"``), checked in one msgspec pass that
also reads the usage. With ``chat=True`` (a middleware reads the answer: cache, output
guardrails) they are read into chat instead, keeping OpenAI's response id so the client can
still continue the conversation there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from proxy.body import RequestBody, RequestHead
from proxy.errors import GatewayError, UpstreamError, UpstreamInvalid
from proxy.frontdoors.responses.answer import (
    ResponsesWire,
    WireItem,
    WireUsage,
    chat_usage,
    finish_of,
)
from proxy.providers.base import ProviderAdapter, UpstreamRequest
from proxy.reply import Chunk, Completion
from proxy.schema import (
    ChatCompletionChunk,
    ChunkChoice,
    Delta,
    FunctionCallDelta,
    ToolCallDelta,
    Usage,
)
from proxy.sse import SSEEvent
from proxy.target import Target

NATIVE = frozenset({"openai", "azure-openai"})
_PROBE = RequestBody(b'{"model":"","messages":[]}', RequestHead())
_WIRE = ResponsesWire()


def native_model(adapter: ProviderAdapter, target: Target, model: str) -> str:
    """The body's ``model``: Azure's deployment (it has no deployment in the v1 URL)."""
    if adapter.name == "azure-openai":
        return target.text("deployment_id") or model
    return model


def call(
    adapter: ProviderAdapter,
    target: Target,
    path: str,
    *,
    method: str = "POST",
    body: bytes = b"",
    stream: bool = False,
    query: str = "",
) -> UpstreamRequest:
    """``method`` ``path`` (below ``/responses``' parent) at the target, with its auth."""
    chat = adapter.build_request(_PROBE, target, "model")
    if adapter.name == "azure-openai":
        base = chat.url.partition("/deployments/")[0] + "/v1"
    else:
        base = chat.url.rpartition("/chat/completions")[0]
    headers = dict(chat.headers)
    if method != "POST":
        headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
    url = base + path + ("?" + query if query else "")
    return UpstreamRequest(method=method, url=url, headers=headers, body=body, stream=stream)


class _Error(msgspec.Struct):
    message: str | None = None
    code: str | None = None


class _Head(msgspec.Struct):
    """What a relayed answer must be (and its usage, read in the same pass)."""

    id: str
    output: list[msgspec.Raw]
    usage: WireUsage | None = None


class _Resp(msgspec.Struct):
    id: str = ""
    model: str = ""
    created_at: float = 0
    status: str | None = None
    incomplete_details: dict[str, Any] | None = None
    usage: WireUsage | None = None
    error: _Error | None = None


class _Event(msgspec.Struct):
    type: str
    response: _Resp | None = None
    item: WireItem | None = None
    item_id: str | None = None
    delta: str | None = None
    message: str | None = None
    code: str | None = None


_head = msgspec.json.Decoder(_Head)
_event = msgspec.json.Decoder(_Event)
TERMINAL = frozenset({"response.completed", "response.incomplete"})
FAILED = frozenset({"response.failed", "error"})


def _decode(provider: str, data: bytes) -> _Event:
    try:
        return _event.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise UpstreamInvalid(
            f"{provider} sent a stream event that is not a Responses event ({exc})",
            provider=provider,
        ) from None


def _failure(provider: str, ev: _Event) -> GatewayError:
    err = ev.response.error if ev.response is not None else None
    message = (err.message if err else None) or ev.message or "the response failed"
    code = (err.code if err else None) or ev.code
    return UpstreamError(f"{provider} error: {message}", status=502, code=code)


def _truncated(provider: str) -> GatewayError:
    return UpstreamError(
        f"{provider} stream ended before response.completed (truncated)",
        status=502,
        code="upstream_stream_truncated",
    )


class PassStream:
    """Native events relayed as they came; usage read from the terminal event. A failure
    event is relayed too (it is already in the client's format) and reported when the
    stream ends, so the middlewares see a failed request."""

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.failure: GatewayError | None = None
        self.done = False

    def feed(self, event: SSEEvent) -> list[Chunk]:
        data = event.data
        if not data or data == b"[DONE]":
            return []
        ev = _decode(self.provider, data)
        usage: Usage | None = None
        if ev.type in TERMINAL:
            self.done = True
            u = ev.response.usage if ev.response is not None else None
            usage = chat_usage(u) if u is not None else None
        elif ev.type in FAILED and self.failure is None:
            self.failure = _failure(self.provider, ev)
        return [Chunk(raw=data, wire="responses", event=event.event or ev.type, usage=usage)]

    def finish(self) -> list[Chunk]:
        if self.failure is not None:
            raise self.failure
        if not self.done:
            raise _truncated(self.provider)
        return []


class ChatStream:
    """Native events read into chat chunks (for middlewares that read the answer); the
    chunks carry OpenAI's response id, model and creation time."""

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.id = ""
        self.model = ""
        self.created = 0
        self.calls: dict[str, int] = {}  # function_call item id -> chat tool index
        self.done = False

    def _chunk(self, delta: Delta, finish: str | None = None, usage: Usage | None = None) -> Chunk:
        choices = [ChunkChoice(0, delta, finish)] if usage is None else []
        parsed = ChatCompletionChunk(
            id=self.id, created=self.created, model=self.model, choices=choices
        )
        if usage is not None:
            parsed.usage = usage
        return Chunk(parsed=parsed)

    def feed(self, event: SSEEvent) -> list[Chunk]:
        if not event.data or event.data == b"[DONE]":
            return []
        ev = _decode(self.provider, event.data)
        kind = ev.type
        if kind in FAILED:
            raise _failure(self.provider, ev)
        if kind == "response.created" and ev.response is not None:
            r = ev.response
            self.id, self.model, self.created = r.id, r.model, int(r.created_at)
            return [self._chunk(Delta(role="assistant", content=""))]
        if kind == "response.output_text.delta" and ev.delta:
            return [self._chunk(Delta(content=ev.delta))]
        if kind == "response.refusal.delta" and ev.delta:
            return [self._chunk(Delta(refusal=ev.delta))]
        if kind == "response.output_item.added" and ev.item is not None:
            item = ev.item
            if item.type != "function_call" or not item.call_id:
                return []
            index = self.calls[item.id or item.call_id] = len(self.calls)
            fn = FunctionCallDelta(name=item.name or "", arguments="")
            tc = ToolCallDelta(index=index, id=item.call_id, type="function", function=fn)
            return [self._chunk(Delta(tool_calls=[tc]))]
        if kind == "response.function_call_arguments.delta" and ev.delta:
            found = self.calls.get(ev.item_id or "")
            if found is None:
                return []
            tc = ToolCallDelta(index=found, function=FunctionCallDelta(arguments=ev.delta))
            return [self._chunk(Delta(tool_calls=[tc]))]
        if kind in TERMINAL and ev.response is not None:
            self.done = True
            r = ev.response
            reason = (r.incomplete_details or {}).get("reason")
            finish = finish_of(r.status, reason, bool(self.calls))
            out = [self._chunk(Delta(), finish)]
            if r.usage is not None:
                out.append(self._chunk(Delta(), usage=chat_usage(r.usage)))
            return out
        return []

    def finish(self) -> list[Chunk]:
        if not self.done:
            raise _truncated(self.provider)
        return []


class NativeTranslation:
    """How the relay reads a native Responses answer (``proxy.providers.base.Translation``)."""

    def __init__(self, adapter: ProviderAdapter, chat: bool) -> None:
        self.adapter = adapter
        self.name = adapter.name
        self.chat = chat

    def parse_response(
        self, status: int, headers: Mapping[str, str], raw: bytes, model: str
    ) -> Completion:
        try:
            head = _head.decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise UpstreamInvalid(
                f"{self.name} answered with a body that is not a Response ({exc})",
                provider=self.name,
            ) from None
        if self.chat:
            return Completion(parsed=_WIRE.completion(raw))
        usage = chat_usage(head.usage) if head.usage is not None else None
        return Completion(raw=raw, usage=usage, wire="responses")

    def parse_error(self, status: int, headers: Mapping[str, str], raw: bytes) -> GatewayError:
        return self.adapter.parse_error(status, headers, raw)

    def stream_translator(self, model: str, include_usage: bool) -> PassStream | ChatStream:
        return ChatStream(self.name) if self.chat else PassStream(self.name)
