"""Cohere's error body -> GatewayError (status preserved, OpenAI error shape).

Body: ``{"id": "...", "message": "..."}`` (the errors reference lists the messages per
status). The status is the only classification Cohere gives, so the OpenAI ``type``
follows it; Cohere's own 498 (invalid token) is an authentication failure.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from proxy.errors import GatewayError, UpstreamError, as_str_or_none, type_for_status
from proxy.providers.base import error_headers
from proxy.providers.cohere.native import error_decoder

TYPES: dict[int, str] = {
    402: "invalid_request_error",  # billing limit reached
    498: "authentication_error",  # invalid token
    499: "invalid_request_error",  # request cancelled
}
PREVIEW = 500  # characters of a body that is not Cohere's JSON, for the message


def message_of(raw: bytes) -> str | None:
    try:
        body = error_decoder.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    if isinstance(body.error, dict):  # an OpenAI-shaped error from a proxy in front
        return as_str_or_none(body.error.get("message")) or as_str_or_none(body.message)
    return as_str_or_none(body.message) or as_str_or_none(body.error)


def parse_error(status: int, headers: Mapping[str, str], raw: bytes) -> GatewayError:
    message = message_of(raw)
    if not message:
        preview = raw[:PREVIEW].decode("utf-8", "replace").strip()
        message = preview or f"upstream returned HTTP {status}"
    return UpstreamError(
        f"cohere error: {message}",
        status=status,
        type=TYPES.get(status) or type_for_status(status),
        headers=error_headers(headers),
        provider="cohere",
    )
