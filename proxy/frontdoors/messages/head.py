"""What the gateway reads of a ``/v1/messages`` request: the head and Anthropic's headers.

Only what routing, caching, guardrails and accounting use is decoded and checked (model,
messages as a non-empty list of objects, max_tokens, stream); the rest of the body stays
bytes, relayed untouched to a provider that speaks Messages. ``anthropic-version`` and
``anthropic-beta`` are checked for shape here, since they reach upstream headers (and, on
Bedrock, the body); they never choose where a request goes.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import msgspec

from proxy.body import RequestBody, RequestHead
from proxy.errors import InvalidRequest
from proxy.frontdoors.base import decode_head
from proxy.frontdoors.messages.to_chat import to_chat

if TYPE_CHECKING:
    from multidict import CIMultiDictProxy

_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_BETA = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
MAX_BETAS = 32

# top-level fields that mean the same in the Messages and the chat form, or exist only in
# Messages: override_params of these keep a native body native
SAME_FIELDS = frozenset(
    {"model", "max_tokens", "temperature", "top_p", "top_k", "thinking", "output_config"}
)


class MessagesHead(RequestHead, kw_only=True):
    version: str | None = None  # anthropic-version, as the client sent it
    betas: tuple[str, ...] = ()  # anthropic-beta, split
    beta_query: bool = False  # POST /v1/messages?beta=true


class _In(msgspec.Struct):
    model: str
    messages: list[msgspec.Raw]
    max_tokens: int | None = None
    stream: bool | None = False


_decoder = msgspec.json.Decoder(_In, strict=False)  # an integral 5.0 is an integer


def _bad(message: str, param: str) -> InvalidRequest:
    return InvalidRequest(message, param=param, code="invalid_value")


def client_version(headers: CIMultiDictProxy[str]) -> str | None:
    value = headers.get("anthropic-version")
    if value is None:
        return None
    if not _VERSION.match(value.strip()):
        raise _bad("anthropic-version must be a date like 2023-06-01", "anthropic-version")
    return value.strip()


def client_betas(headers: CIMultiDictProxy[str]) -> tuple[str, ...]:
    names = [b.strip() for b in headers.getall("anthropic-beta", []) for b in b.split(",")]
    names = [b for b in names if b]
    if len(names) > MAX_BETAS:
        raise _bad(f"anthropic-beta names at most {MAX_BETAS} betas", "anthropic-beta")
    for name in names:
        if not _BETA.match(name):
            raise _bad(f"anthropic-beta: {name[:40]!r} is not a beta name", "anthropic-beta")
    return tuple(dict.fromkeys(names))


def decode_messages(
    raw: bytes, headers: CIMultiDictProxy[str], count: bool, beta_query: bool
) -> RequestBody:
    """A Messages (or count_tokens) body: 400 naming the field when the head is wrong."""
    h = decode_head(_decoder, raw)
    if not h.messages:
        raise _bad("messages: must hold at least one message", "messages")
    for i, m in enumerate(h.messages):
        if bytes(memoryview(m)[:1]) != b"{":
            raise _bad(f"messages[{i}]: must be an object", f"messages[{i}]")
    if not count:
        if h.max_tokens is None:
            raise _bad("max_tokens: is required", "max_tokens")
        if h.max_tokens < 1:
            raise _bad("max_tokens: must be at least 1", "max_tokens")
    stream = bool(h.stream) and not count
    head = MessagesHead(
        model=h.model,
        stream=stream,
        include_usage=stream,  # a translated stream needs usage for message_delta
        max_output=h.max_tokens,
        version=client_version(headers),
        betas=client_betas(headers),
        beta_query=beta_query,
    )
    return RequestBody(raw, head, wire="anthropic", to_chat=to_chat, same_fields=SAME_FIELDS)
