"""Anthropic Messages API adapter (``POST {base}/messages``).

Request shaping in ``request.py`` and ``structured.py``, answers in ``response.py``,
streams in ``stream.py``, errors in ``errors.py``; see docs/providers/anthropic.md.
``messages.py``: the Messages API relayed natively for ``POST /v1/messages`` (and the
``anthropic`` wire codec, registered on import).
"""

from __future__ import annotations

from collections.abc import Mapping

from proxy.body import RequestBody
from proxy.errors import GatewayError
from proxy.providers.anthropic import api, models
from proxy.providers.anthropic.errors import parse_error
from proxy.providers.anthropic.messages import (
    MessagesTranslation,
    direct_request,
    direct_translation,
)
from proxy.providers.anthropic.native import encoder
from proxy.providers.anthropic.request import build_body
from proxy.providers.anthropic.response import parse_response
from proxy.providers.anthropic.stream import AnthropicStream
from proxy.providers.base import MessagesCall, UpstreamRequest
from proxy.providers.fields import FieldSpec
from proxy.reply import Completion
from proxy.target import Target


class AnthropicAdapter:
    name = "anthropic"

    def build_request(self, body: RequestBody, target: Target, model: str) -> UpstreamRequest:
        headers = api.headers(target)
        native = build_body(body, model)
        return UpstreamRequest(
            url=api.url(target),
            headers=headers,
            body=encoder.encode(native),
            stream=body.head.stream,
        )

    def parse_response(
        self, status: int, headers: Mapping[str, str], raw: bytes, model: str
    ) -> Completion:
        return parse_response(status, headers, raw, model)

    def parse_error(self, status: int, headers: Mapping[str, str], raw: bytes) -> GatewayError:
        return parse_error(status, headers, raw)

    def stream_translator(self, model: str, include_usage: bool) -> AnthropicStream:
        return AnthropicStream(model, include_usage)

    def models_request(self, target: Target) -> UpstreamRequest:
        return models.models_request(target)

    def parse_models(self, raw: bytes) -> bytes:
        return models.parse_models(raw)

    # ``POST /v1/messages`` relayed natively (proxy/providers/anthropic/messages.py)

    def speaks_messages(self, target: Target, model: str) -> bool:
        return True

    def messages_request(self, body: bytes, call: MessagesCall) -> UpstreamRequest:
        return direct_request(body, call)

    def messages_translation(self, chat: bool) -> MessagesTranslation:
        return direct_translation(chat)


FIELDS = (  # Portkey's anthropic_beta / anthropic_version
    FieldSpec(name="anthropic_beta", header="x-portkey-anthropic-beta"),
    FieldSpec(name="anthropic_version", header="x-portkey-anthropic-version"),
)
ADAPTERS = (AnthropicAdapter(),)

__all__ = ["ADAPTERS", "FIELDS", "AnthropicAdapter"]
