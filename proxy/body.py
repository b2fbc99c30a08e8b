"""RequestBody: the client's bytes, read only as far as a feature needs.

A gateway must not refuse what the provider would accept (OpenAI, Anthropic and Google add
fields, enum values and content types every month). So the front door decodes only a
``RequestHead`` — what routing, caching, guardrails and accounting use (model, stream,
usage options, the output bound) — and keeps the raw bytes. Everything else stays bytes:

- a destination that speaks the client's wire format gets ``native_bytes`` — the raw bytes
  as sent, or re-encoded with the few edits the gateway made (model, override_params);
- middlewares that read the conversation (guardrails, cache keys, conditional routing) get
  ``as_dict()``, the body in OpenAI chat form (converted from another wire by the front
  door's codec), with the edits applied;
- a translating adapter (Anthropic, Gemini, Bedrock) gets ``request``, the typed
  ``ChatRequest``, decoded on first use. What it cannot hold is a 400 naming the field,
  raised as ``Untranslatable`` and completed with the provider's name by the terminal step.

A body that is not read at all (a pass-through upload: audio, files) carries the client's
``stream`` instead, with its ``content_type``; ``raw`` is then empty and the views see an
empty object. Only the front door that left it unread sends it on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgspec

from proxy.errors import InvalidRequest, validation_where
from proxy.schema import ChatRequest, encoder

if TYPE_CHECKING:
    from aiohttp import StreamReader

# lenient as JSON Schema is: an integral 5.0 is an integer
_typed = msgspec.json.Decoder(ChatRequest, strict=False)


class RequestHead(msgspec.Struct, kw_only=True):
    """What the gateway itself reads of any request body (the rest is the provider's)."""

    model: str = ""
    stream: bool = False
    include_usage: bool = False  # stream_options.include_usage (or the wire's equivalent)
    stream_options_sent: bool = False  # the client's body holds a stream_options key
    max_output: int | None = None  # the answer's token bound, when the client set one


class Untranslatable(InvalidRequest):
    """A field the target's format cannot carry; the terminal step names the provider."""

    def for_provider(self, provider: str) -> InvalidRequest:
        return InvalidRequest(
            f"{self.message} (not supported by {provider})",
            param=self.param,
            code="unsupported_by_provider",
            provider=provider,
        )


class RequestBody:
    """The client's body in its front door's wire format, with views made on demand."""

    __slots__ = (
        "_chat",
        "_native",
        "_to_chat",
        "_typed",
        "content_type",
        "head",
        "patch",
        "raw",
        "same_fields",
        "stream",
        "wire",
    )

    def __init__(
        self,
        raw: bytes,
        head: RequestHead,
        wire: str = "chat",
        to_chat: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        same_fields: frozenset[str] = frozenset({"model"}),
        *,
        stream: StreamReader | None = None,
        content_type: str = "application/json",
    ) -> None:
        self.raw = raw
        self.head = head
        self.wire = wire  # the front door's format: chat, anthropic, responses, ...
        self.stream = stream  # the client's unread body (raw is then empty)
        self.content_type = content_type
        self.patch: dict[str, Any] = {}  # top-level edits, in chat parameter names
        self._to_chat = to_chat  # the front door's codec into chat form (None: is chat)
        # top-level edits that mean the same in this wire as in chat (override_params of
        # these keep a native body native; any other edit sends it through the chat form)
        self.same_fields = same_fields
        self._native: dict[str, Any] | None = None
        self._chat: dict[str, Any] | None = None
        self._typed: ChatRequest | None = None

    # ---------------------------------------------------------------- edits

    def set(self, **params: Any) -> None:
        """Change top-level parameters (override_params, guardrail mutators, model)."""
        self.patch.update(msgspec.to_builtins(params))
        self._typed = None

    def restore(self, patch: dict[str, Any]) -> None:
        """Back to an earlier set of edits (each routing attempt starts from the same)."""
        self.patch = dict(patch)
        self._typed = None

    @property
    def changed(self) -> bool:
        return bool(self.patch)

    # ---------------------------------------------------------------- views

    def native_dict(self) -> dict[str, Any]:
        """The body as sent, decoded (the front door checked it is a JSON object)."""
        if self._native is None:
            self._native = msgspec.json.decode(self.raw) if self.stream is None else {}
        return self._native

    def as_dict(self) -> dict[str, Any]:
        """The body in OpenAI chat form with every edit applied (unknown fields kept)."""
        if self._chat is None:
            native = self.native_dict()
            self._chat = native if self._to_chat is None else self._to_chat(native)
        if self.patch:
            return {**self._chat, **self.patch}
        return self._chat

    @property
    def request(self) -> ChatRequest:
        """The typed chat request a translating adapter reads; 400 ``Untranslatable``
        naming the field when the body holds something the typed schema cannot."""
        if self._typed is None:
            try:
                if self._to_chat is None and not self.patch:
                    self._typed = _typed.decode(self.raw)
                else:
                    self._typed = msgspec.convert(self.as_dict(), ChatRequest, strict=False)
            except msgspec.ValidationError as exc:
                message, field = validation_where(exc)
                raise Untranslatable(
                    f"{field}: {message}" if field else message,
                    param=field or None,
                    code="unsupported_by_provider",
                ) from None
        return self._typed

    def native_bytes(self, wire: str, **overrides: Any) -> bytes | None:
        """Bytes for an upstream speaking ``wire``: the raw bytes when nothing changed, the
        native body with the edits when the edits are plain top-level fields of both
        formats (``same_fields``: model, ...), else None (the adapter translates from the
        chat form)."""
        if wire != self.wire:
            return None
        if self._to_chat is None:  # chat: edits are in this wire's own names
            if not self.patch and not overrides:
                return self.raw
            return encoder.encode({**self.native_dict(), **self.patch, **overrides})
        if set(self.patch) - self.same_fields:
            return None
        if not self.patch and not overrides:
            return self.raw
        return encoder.encode({**self.native_dict(), **self.patch, **overrides})

    def passthrough_bytes(self, overrides: dict[str, Any], ask_usage: bool = False) -> bytes:
        """Chat bytes for an OpenAI-compatible upstream (raw when nothing changed).
        ``ask_usage``: the upstream honours ``stream_options.include_usage`` and a stream
        asks for it whatever the client said: the gateway bills and limits on the
        provider's count, not an estimate (the stream's reader keeps the usage event from
        a client that did not ask: providers/openai_compat.py ``PassthroughStream.drops``)."""
        if ask_usage and self.head.stream and not self.head.include_usage:
            if self.wire == "chat" and not (
                self.patch or overrides or self.head.stream_options_sent
            ):
                return with_usage_option(self.raw)  # the common case: no re-encode
            sent = self.as_dict().get("stream_options")
            overrides = {**overrides}
            overrides["stream_options"] = {
                **(sent if isinstance(sent, dict) else {}),
                "include_usage": True,
            }
        found = self.native_bytes("chat", **overrides)
        if found is not None:
            return found
        return encoder.encode({**self.as_dict(), **overrides})


_ASK_USAGE = b'"stream_options":{"include_usage":true},'


def with_usage_option(raw: bytes) -> bytes:
    """A chat body (a JSON object with members, without a ``stream_options`` key) with
    ``stream_options.include_usage`` set: one member spliced in after the opening brace."""
    at = raw.index(b"{") + 1  # only whitespace can come before it (the door checked)
    return raw[:at] + _ASK_USAGE + raw[at:]
