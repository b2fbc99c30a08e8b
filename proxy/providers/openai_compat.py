"""The OpenAI-compatible family: rows of data, one shared adapter.

These providers already speak Chat Completions, so the body goes through as the client sent
it (unknown fields included) and the answer comes back byte for byte. A row says where the
API lives and how it authenticates; that is all that differs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

import msgspec
from yarl import URL

from proxy.body import RequestBody, RequestHead
from proxy.errors import (
    AuthenticationError,
    GatewayError,
    InvalidRequest,
    UpstreamError,
    UpstreamInvalid,
)
from proxy.providers.base import UpstreamRequest, openai_style_error
from proxy.providers.fields import FieldSpec
from proxy.providers.openai_stream import FramedStream, usage_only
from proxy.reply import Chunk, Completion
from proxy.schema import Usage
from proxy.sse import SSEEvent
from proxy.target import Target

AuthStyle = Literal["bearer", "api-key", "none"]


class CompatRow(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    base_url: str | None  # None: a custom host is required
    auth: AuthStyle = "bearer"
    key_required: bool = True
    path: str = "/chat/completions"
    # documents stream_options.include_usage: a stream is asked for its usage event
    asks_usage: bool = False


ROWS: tuple[CompatRow, ...] = (
    CompatRow(name="openai", base_url="https://api.openai.com/v1", asks_usage=True),
    CompatRow(name="groq", base_url="https://api.groq.com/openai/v1", asks_usage=True),
    CompatRow(name="mistral-ai", base_url="https://api.mistral.ai/v1"),
    CompatRow(name="together-ai", base_url="https://api.together.xyz/v1", asks_usage=True),
    CompatRow(name="deepseek", base_url="https://api.deepseek.com/v1", asks_usage=True),
    CompatRow(name="fireworks-ai", base_url="https://api.fireworks.ai/inference/v1"),
    CompatRow(name="openrouter", base_url="https://openrouter.ai/api/v1"),
    CompatRow(name="perplexity-ai", base_url="https://api.perplexity.ai"),
    CompatRow(name="x-ai", base_url="https://api.x.ai/v1"),
    CompatRow(name="cerebras", base_url="https://api.cerebras.ai/v1"),
    CompatRow(name="sambanova", base_url="https://api.sambanova.ai/v1"),
    CompatRow(name="ollama", base_url="http://localhost:11434/v1", key_required=False),
    CompatRow(name="lm-studio", base_url="http://localhost:1234/v1", key_required=False),
    CompatRow(name="vllm", base_url=None, key_required=False, asks_usage=True),
    CompatRow(name="openai-compatible", base_url=None, key_required=False),
)


class _AnswerShape(msgspec.Struct):
    """What a relayed answer must be: a JSON object with a choices list (usage read in the
    same pass). The rest is skipped, not built: the bytes go to the client as they came."""

    choices: list[msgspec.Raw]
    usage: Usage | None = None


class _EventShape(msgspec.Struct):
    """What a relayed stream event must be: a JSON object; its usage and error, if any."""

    usage: Usage | None = None
    error: Any = None


class _ModelList(msgspec.Struct):
    data: list[msgspec.Raw]


_answer_decoder = msgspec.json.Decoder(_AnswerShape)
_models_decoder = msgspec.json.Decoder(_ModelList)
_event_decoder = msgspec.json.Decoder(_EventShape)


def checked_answer(raw: bytes, provider: str) -> Completion:
    """A relayed chat answer, validated once; 502 when it is not one."""
    try:
        shape = _answer_decoder.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
        raise UpstreamInvalid(
            f"{provider} answered with a body that is not a chat completion ({exc})",
            provider=provider,
        ) from None
    return Completion(raw=raw, usage=shape.usage)


class PassthroughStream:
    """An OpenAI SSE stream relayed as is: each data payload becomes one Chunk.

    OpenAI ends every stream with ``data: [DONE]``; a stream that stops without it was cut
    off, and saying so beats handing the client a silently truncated answer.

    ``drop_usage``: the gateway asked for the usage event, the client did not. The event
    (usage, no choices) is read, not relayed: its count is ``dropped``, which the relay
    puts on the request (``ctx.upstream_usage``) for stream accounting.
    """

    __slots__ = ("_done", "_drop", "_provider", "dropped")

    def __init__(self, provider: str, drop_usage: bool = False) -> None:
        self._provider = provider
        self._drop = drop_usage
        self._done = False
        self.dropped: Usage | None = None

    def feed(self, event: SSEEvent) -> list[Chunk]:
        data = event.data
        if data == b"[DONE]":
            self._done = True
            return []
        if not data:
            return []
        try:
            shape = _event_decoder.decode(data)
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
            raise UpstreamInvalid(
                f"{self._provider} sent a stream event that is not a chunk ({exc})",
                provider=self._provider,
            ) from None
        if event.event == "error" or shape.error is not None:
            raise stream_error(self._provider, data)
        if self.drops(shape.usage, data):
            return []
        return [Chunk(raw=data, usage=shape.usage)]

    def drops(self, usage: Usage | None, payload: bytes) -> bool:
        """True for the usage event this stream leaves out of the relay, whose count it
        keeps as ``dropped`` (the fast scan asks it too: one decision for both paths)."""
        if usage is None or not self._drop or not usage_only(payload):
            return False
        self.dropped = usage
        return True

    def finish(self) -> list[Chunk]:
        if not self._done:
            raise UpstreamError(
                f"{self._provider} stream ended before [DONE] (truncated)",
                status=502,
                code="upstream_stream_truncated",
            )
        return []


def stream_error(provider: str, data: bytes) -> GatewayError:
    err = openai_style_error(500, {}, data, provider)
    return UpstreamError(err.message, status=err.status, type=err.type, code=err.code)


class OpenAICompatAdapter:
    """One adapter instance per row."""

    def __init__(self, row: CompatRow) -> None:
        self.row = row
        self.name = row.name

    def base_url(self, target: Target) -> str:
        base = target.custom_host or self.row.base_url
        if not base:
            raise InvalidRequest(
                f"provider {self.name!r} needs a custom host "
                "(x-portkey-custom-host header or custom_host in settings/config)",
                param="x-portkey-custom-host",
                code="missing_custom_host",
            )
        return base.rstrip("/")

    def auth_headers(self, target: Target) -> dict[str, str]:
        key = target.api_key
        if not key:
            if self.row.key_required:
                raise AuthenticationError(
                    f"no API key for provider {self.name!r}: send Authorization: Bearer <key>, "
                    "x-portkey-api-key, or configure the provider in settings",
                    code="missing_api_key",
                )
            return {}
        if self.row.auth == "api-key":
            return {"api-key": key}
        if self.row.auth == "none":
            return {}
        return {"Authorization": f"Bearer {key}"}

    def account_headers(self, target: Target) -> dict[str, str]:
        """The credential and the account it acts for (bind() ruled on both)."""
        headers = self.auth_headers(target)
        org, project = target.text("openai_organization"), target.text("openai_project")
        if org:
            headers["OpenAI-Organization"] = org
        if project:
            headers["OpenAI-Project"] = project
        return headers

    def api_url(self, target: Target, model: str, path: str, query: str = "") -> str:
        """The URL of another endpoint of this provider's API (``path`` relative to the API's
        base, e.g. ``completions`` or ``audio/transcriptions``), on the target's host only."""
        return join_url(self.base_url(target), path, query)

    def build_request(self, body: RequestBody, target: Target, model: str) -> UpstreamRequest:
        headers = {"Content-Type": "application/json", **self.account_headers(target)}
        overrides = {"model": model} if model != body.head.model else {}
        return UpstreamRequest(
            url=self.base_url(target) + self.row.path,
            headers=headers,
            body=body.passthrough_bytes(overrides, self.row.asks_usage),
            stream=body.head.stream,
        )

    def parse_response(
        self, status: int, headers: Mapping[str, str], raw: bytes, model: str
    ) -> Completion:
        return checked_answer(raw, self.name)

    def parse_error(self, status: int, headers: Mapping[str, str], raw: bytes) -> GatewayError:
        return openai_style_error(status, headers, raw, self.name)

    def stream_translator(self, model: str, include_usage: bool) -> PassthroughStream:
        return PassthroughStream(self.name, self.row.asks_usage and not include_usage)

    def framed_stream(self, include_usage: bool) -> FramedStream:
        """The scanning reader for a stream nobody reads event by event (openai_stream.py).
        A row that asks for the usage event gets the provider's count: the scan need not
        count the text for an estimate, and drops the event when the client did not ask."""
        asks = self.row.asks_usage
        drop = asks and not include_usage  # the event by event reader decides for both
        return FramedStream(self.name, PassthroughStream(self.name, drop), count_text=not asks)

    def models_request(self, target: Target) -> UpstreamRequest:
        """``GET .../models`` beside the chat URL, with the same auth."""
        chat = self.build_request(_EMBEDDINGS_PROBE, target, "")
        head, sep, tail = chat.url.rpartition("/chat/completions")
        url = head + "/models" + tail if sep else chat.url
        headers = {k: v for k, v in chat.headers.items() if k.lower() != "content-type"}
        return UpstreamRequest(method="GET", url=url, headers=headers, body=b"")

    def parse_models(self, raw: bytes) -> bytes:
        """OpenAI's list as the provider sent it, once checked to be one."""
        try:
            _models_decoder.decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
            raise UpstreamInvalid(
                f"{self.name} answered with a body that is not a model list ({exc})",
                provider=self.name,
            ) from None
        return raw

    def build_embeddings_request(self, body: bytes, target: Target, model: str) -> UpstreamRequest:
        """``POST .../embeddings`` beside the chat URL, with the same auth.

        Built from this adapter's own chat call so that subclasses with another URL scheme
        (Azure's deployments and api-version) get the right embeddings URL for free.
        """
        chat = self.build_request(_EMBEDDINGS_PROBE, target, model)
        head, sep, tail = chat.url.rpartition("/chat/completions")
        url = head + "/embeddings" + tail if sep else chat.url
        return UpstreamRequest(url=url, headers=chat.headers, body=body)


# a stand-in chat body: build_embeddings_request only reuses the URL and headers of a chat call
_EMBEDDINGS_PROBE = RequestBody(b'{"model":"","messages":[]}', RequestHead())


# one path segment as a client may name it: RFC 3986 unreserved and sub-delims, ":" and "@".
# No "%" (an encoded "/", "\\" or "." could be decoded into a new path somewhere on the way),
# no empty segment ("//host"), and "." / ".." are refused below.
_SEGMENT = re.compile(r"[A-Za-z0-9._~:@!$&'()*+,;=-]+")
_QUERY = re.compile(r"[A-Za-z0-9._~:@!$&'()*+,;=/?%-]*")


def check_path(path: str, query: str = "") -> None:
    """400 for a client path (relative, no leading ``/``) or query a URL must not carry: a
    segment that could climb out (``..``), hide a separator (``%2f``, ``\\``) or start a
    new authority (``//host``)."""
    for segment in path.split("/"):
        if not _SEGMENT.fullmatch(segment) or segment in (".", ".."):
            raise InvalidRequest(
                f"path segment {segment[:40]!r} is not allowed in a pass-through path",
                param="path",
                code="invalid_path",
            )
    if not _QUERY.fullmatch(query):
        raise InvalidRequest(
            "the query string holds characters a URL cannot carry",
            param="query",
            code="invalid_path",
        )


def join_url(base: str, path: str, query: str = "") -> str:
    """``base`` + ``/path`` (+ ``?query``), where path and query come from a client: the
    result always has the base's scheme, host and port and lies under the base's path."""
    check_path(path, query)
    url = base.rstrip("/") + "/" + path + (f"?{query}" if query else "")
    b, u = URL(base), URL(url)
    under = b.path.rstrip("/") + "/"
    if (u.scheme, u.host, u.port) != (b.scheme, b.host, b.port) or not u.path.startswith(under):
        raise InvalidRequest(
            "the path would leave the provider's API", param="path", code="invalid_path"
        )
    return url


# OpenAI's account selectors: whom a key acts for (bind() keeps a gateway key's own)
FIELDS = (
    FieldSpec(name="openai_organization", header="x-portkey-openai-organization", scoping=True),
    FieldSpec(name="openai_project", header="x-portkey-openai-project", scoping=True),
)
ADAPTERS = tuple(OpenAICompatAdapter(row) for row in ROWS)
