"""The provider adapter contract.

A provider is three pure pieces plus a stateful stream translator:

- ``build_request(body, target, model) -> UpstreamRequest``
- ``parse_response(status, headers, raw, model) -> Completion``
- ``parse_error(status, headers, raw) -> GatewayError``
- ``stream_translator(model, include_usage) -> StreamTranslator`` whose ``feed(event)``
  turns one native stream event into zero or more OpenAI chunks.

Nothing here does I/O: the relay performs the call, the adapter only shapes bytes.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Mapping
from typing import Any, Literal, Protocol, runtime_checkable

import msgspec

from proxy.body import RequestBody
from proxy.errors import GatewayError, UpstreamError, as_str_or_none, type_for_status
from proxy.reply import Chunk, Completion
from proxy.target import Target

Framing = Literal["sse", "aws-eventstream"]


class UpstreamRequest(msgspec.Struct, kw_only=True):
    method: str = "POST"
    url: str
    headers: dict[str, str]
    body: bytes | AsyncIterable[bytes]  # an upload's pieces on pass-through (sent once)
    stream: bool = False
    framing: Framing = "sse"
    # how to read the answer when it is not the adapter's own way: a call the adapter
    # made in another dialect (Claude's Messages API on Vertex AI or Bedrock InvokeModel)
    translation: Translation | None = None

    def __repr__(self) -> str:  # never print headers: they hold credentials
        return f"UpstreamRequest({self.method} {self.url}, stream={self.stream})"


class StreamTranslator(Protocol):
    def feed(self, event: Any) -> list[Chunk]:
        """One native event in, OpenAI chunks out. Raises GatewayError on an error event."""
        ...

    def finish(self) -> list[Chunk]:
        """Called once when the upstream stream ends cleanly."""
        ...


class Translation(Protocol):
    """How to read one kind of upstream answer: what the relay needs."""

    name: str

    def parse_response(
        self, status: int, headers: Mapping[str, str], raw: bytes, model: str
    ) -> Completion: ...

    def parse_error(self, status: int, headers: Mapping[str, str], raw: bytes) -> GatewayError: ...

    def stream_translator(self, model: str, include_usage: bool) -> StreamTranslator: ...


class ProviderAdapter(Protocol):
    name: str

    def build_request(self, body: RequestBody, target: Target, model: str) -> UpstreamRequest: ...

    def parse_response(
        self, status: int, headers: Mapping[str, str], raw: bytes, model: str
    ) -> Completion: ...

    def parse_error(self, status: int, headers: Mapping[str, str], raw: bytes) -> GatewayError: ...

    def stream_translator(self, model: str, include_usage: bool) -> StreamTranslator: ...


class _OpenAIErrorBody(msgspec.Struct):
    message: Any = None
    type: Any = None
    param: Any = None
    code: Any = None


class _OpenAIErrorEnvelope(msgspec.Struct):
    error: _OpenAIErrorBody | str | None = None
    message: Any = None  # some compatible servers answer {"message": "..."} or {"detail": ...}
    detail: Any = None


_error_decoder = msgspec.json.Decoder(_OpenAIErrorEnvelope)

# headers of an upstream error that the client should see (rate limits, retry hints)
PASSED_ERROR_HEADERS = ("retry-after", "retry-after-ms", "x-ms-retry-after-ms")


def error_headers(headers: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name in PASSED_ERROR_HEADERS:
        value = headers.get(name)
        if value is not None:
            out[name] = value
    for name, value in headers.items():
        if name.lower().startswith("x-ratelimit-"):
            out[name.lower()] = value
    return out


def openai_style_error(
    status: int, headers: Mapping[str, str], raw: bytes, provider: str
) -> GatewayError:
    """Normalise an OpenAI-shaped (or roughly so) error body; status preserved."""
    message: str | None = None
    etype = param = code = None
    try:
        env = _error_decoder.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        env = None
    if env is not None:
        if isinstance(env.error, _OpenAIErrorBody):
            message = as_str_or_none(env.error.message)
            etype = as_str_or_none(env.error.type)
            param = as_str_or_none(env.error.param)
            code = as_str_or_none(env.error.code)
        elif isinstance(env.error, str):
            message = env.error
        message = message or as_str_or_none(env.message) or as_str_or_none(env.detail)
    if not message:
        text = raw[:500].decode("utf-8", "replace").strip()
        message = text or f"upstream returned HTTP {status}"
    return UpstreamError(
        f"{provider} error: {message}",
        status=status,
        type=etype or type_for_status(status),
        param=param,
        code=code,
        headers=error_headers(headers),
        provider=provider,
    )


@runtime_checkable
class EmbeddingsAdapter(Protocol):
    """An adapter that can also call its provider's embeddings API (``POST /v1/embeddings``).

    ``body`` is the final JSON body (OpenAI's embeddings request); the answer is passed on
    as the provider sent it, so only the call itself is the adapter's business.
    """

    name: str

    def build_embeddings_request(
        self, body: bytes, target: Target, model: str
    ) -> UpstreamRequest: ...

    def parse_error(self, status: int, headers: Mapping[str, str], raw: bytes) -> GatewayError: ...


class EmbeddingsInput(msgspec.Struct, frozen=True):
    """What a native embeddings API needs from OpenAI's request: texts and the size asked for."""

    texts: list[str]
    dimensions: int | None = None


@runtime_checkable
class NativeEmbeddingsAdapter(Protocol):
    """An adapter whose provider has its own embeddings API (Gemini, Vertex AI, Bedrock).

    ``embeddings_calls`` plans one or more upstream calls (some models take one text per
    call); the gateway performs them and hands their answers, in order, to
    ``parse_embeddings``, which returns one vector per text and the prompt tokens counted.
    A parameter the provider cannot honour is an ``InvalidRequest`` from
    ``embeddings_calls``, before anything is sent.
    """

    name: str

    def embeddings_calls(
        self, inp: EmbeddingsInput, target: Target, model: str
    ) -> list[UpstreamRequest]: ...

    def parse_embeddings(
        self, answers: list[tuple[Mapping[str, str], bytes]], inp: EmbeddingsInput, model: str
    ) -> tuple[list[list[float]], int]: ...

    def parse_error(self, status: int, headers: Mapping[str, str], raw: bytes) -> GatewayError: ...


@runtime_checkable
class ModelsAdapter(Protocol):
    """An adapter that can list its provider's models (``GET /v1/models``).

    ``parse_models`` returns OpenAI's list shape (``{"object": "list", "data": [...]}``)
    as bytes: an OpenAI-compatible list as the provider sent it, a native one translated.
    """

    name: str

    def models_request(self, target: Target) -> UpstreamRequest: ...

    def parse_models(self, raw: bytes) -> bytes: ...

    def parse_error(self, status: int, headers: Mapping[str, str], raw: bytes) -> GatewayError: ...


class MessagesCall(msgspec.Struct, kw_only=True):
    """One call of Anthropic's Messages API, as the ``/v1/messages`` front door asks for it.

    ``version`` and ``betas`` are the client's ``anthropic-version`` / ``anthropic-beta``,
    already checked by the front door; they shape the body or headers, never the URL.
    """

    target: Target
    model: str
    stream: bool = False
    count: bool = False  # POST .../messages/count_tokens
    version: str | None = None
    betas: tuple[str, ...] = ()
    beta_query: bool = False  # the client called ?beta=true (the SDKs' beta namespace)


@runtime_checkable
class MessagesAdapter(Protocol):
    """An adapter whose provider serves Anthropic's Messages API for some models: Anthropic
    itself, Claude on Bedrock (InvokeModel) and on Vertex AI (rawPredict).

    ``messages_request`` takes the Messages body (JSON bytes, model already the routed
    one) and returns the call in the provider's dialect, or None when the provider has no
    such call (count_tokens). ``messages_translation`` reads its answers: natively (chunks
    in the ``anthropic`` wire) or, with ``chat``, as chat chunks for middlewares that read
    a stream's content.
    """

    name: str

    def speaks_messages(self, target: Target, model: str) -> bool: ...

    def messages_request(self, body: bytes, call: MessagesCall) -> UpstreamRequest | None: ...

    def messages_translation(self, chat: bool) -> Translation: ...


_implements: dict[tuple[type, type], bool] = {}


def implements(adapter: object, protocol: type) -> bool:
    """``isinstance(adapter, protocol)`` for a runtime-checkable protocol, memoised per
    adapter class: the structural check walks every member of the protocol (microseconds,
    on every request that asks), and an adapter's class never changes what it has."""
    key = (type(adapter), protocol)
    found = _implements.get(key)
    if found is None:
        found = _implements[key] = isinstance(adapter, protocol)
    return found
