"""A ``POST /v1/responses`` body: the head the gateway reads, the rest kept as bytes.

The head is what routing, caching and accounting use (model, stream, the output bound)
plus what the door itself needs (``store``, ``previous_response_id``). Everything else
stays in the client's bytes: OpenAI and Azure get them as sent (``native_bytes``), unknown
fields, item and tool types included; other providers get the strict chat translation.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from proxy.body import RequestBody, RequestHead
from proxy.errors import InvalidRequest
from proxy.frontdoors.base import decode_head
from proxy.frontdoors.responses.codec import lenient_chat
from proxy.schema import encoder

RESPONSE_ID = re.compile(r"[A-Za-z0-9_-]{1,256}")

# chat edits (override_params) a Responses body takes under the same name ...
NATIVE_SAME = frozenset(
    {"model", "temperature", "top_p", "parallel_tool_calls", "user", "metadata", "store"}
    | {"service_tier", "top_logprobs", "prompt_cache_key", "safety_identifier", "truncation"}
)
# ... or under another
NATIVE_RENAMED = {"max_tokens": "max_output_tokens", "max_completion_tokens": "max_output_tokens"}


class ResponsesHead(msgspec.Struct):
    model: str = ""  # a stored prompt may name it; the provider says when it is missing
    input: str | list[msgspec.Raw] | None = None
    stream: bool | None = False
    store: bool | None = None
    previous_response_id: str | None = None
    max_output_tokens: int | None = None


_head = msgspec.json.Decoder(ResponsesHead, strict=False)


class ResponsesBody(RequestBody):
    """The request, and what the door learns of it on the way (once per request)."""

    __slots__ = ("history", "previous", "store", "turn")

    def __init__(self, raw: bytes, head: RequestHead, previous: str | None, store: bool) -> None:
        super().__init__(raw, head, wire="responses", to_chat=lenient_chat)
        self.previous = previous
        self.store = store
        self.history: list[Any] | None = None  # the continued conversation, once loaded
        # the conversation as the provider got it (no instructions), to store with the answer
        self.turn: list[Any] | None = None

    def native_bytes(self, wire: str, **overrides: Any) -> bytes | None:
        """The body for OpenAI or Azure: as sent, or with the edits that have a Responses
        name. None when an edit has none (a guardrail rewrote the messages, a chat-only
        override): the request then takes the chat path."""
        if wire != "responses":
            return None
        if not self.patch and not overrides:
            return self.raw
        native = dict(self.native_dict())
        for name, value in self.patch.items():
            if name in NATIVE_SAME:
                native[name] = value
            elif name in NATIVE_RENAMED:
                native[NATIVE_RENAMED[name]] = value
            elif name == "reasoning_effort":
                native["reasoning"] = {**(native.get("reasoning") or {}), "effort": value}
            else:
                return None
        native.update(overrides)
        return encoder.encode(native)


def decode_responses(raw: bytes) -> ResponsesBody:
    """400 naming the field when the head is not what the Responses API takes."""
    h = decode_head(_head, raw)
    if isinstance(h.input, list):
        for i, item in enumerate(h.input):
            if bytes(memoryview(item)[:1]) != b"{":
                raise InvalidRequest(
                    f"input[{i}]: must be an object", param=f"input[{i}]", code="invalid_value"
                )
    prev = h.previous_response_id
    if prev is not None and not RESPONSE_ID.fullmatch(prev):
        raise InvalidRequest(
            "previous_response_id: not a response id (letters, digits, '_' and '-')",
            param="previous_response_id",
            code="invalid_value",
        )
    head = RequestHead(
        model=h.model,
        stream=bool(h.stream),
        include_usage=True,  # response.completed always carries the usage
        max_output=h.max_output_tokens,
    )
    return ResponsesBody(raw, head, prev, h.store is not False)
