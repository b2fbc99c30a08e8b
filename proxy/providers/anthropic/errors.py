"""Anthropic's error body -> GatewayError (status preserved, OpenAI error shape).

Body: ``{"type": "error", "error": {"type": "...", "message": "..."}, "request_id": ...}``.
The Anthropic error type is kept as the OpenAI ``code`` so clients can tell
``overloaded_error`` (529, retryable like a 503) from ``api_error`` (500).
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from proxy.errors import GatewayError, UpstreamError, type_for_status
from proxy.providers.anthropic.native import ErrorBody, error_decoder
from proxy.providers.base import error_headers

# Anthropic error type -> (HTTP status it comes with, OpenAI error type)
ERROR_TYPES: dict[str, tuple[int, str]] = {
    "invalid_request_error": (400, "invalid_request_error"),
    "authentication_error": (401, "authentication_error"),
    "billing_error": (402, "invalid_request_error"),
    "permission_error": (403, "permission_error"),
    "not_found_error": (404, "not_found_error"),
    "request_too_large": (413, "invalid_request_error"),
    "rate_limit_error": (429, "rate_limit_error"),
    "api_error": (500, "api_error"),
    "timeout_error": (504, "timeout_error"),
    "overloaded_error": (529, "api_error"),
}


def _decode(raw: bytes) -> ErrorBody | None:
    try:
        return error_decoder.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


def _headers(headers: Mapping[str, str]) -> dict[str, str]:
    out = error_headers(headers)
    for name, value in headers.items():
        if name.lower().startswith("anthropic-ratelimit-"):
            out[name.lower()] = value
    return out


def parse_error(
    status: int, headers: Mapping[str, str], raw: bytes, provider: str = "anthropic"
) -> GatewayError:
    """``provider``: who answered in Anthropic's shape (Claude on Bedrock or Vertex too)."""
    body = _decode(raw)
    detail = body.error if body is not None else None
    etype = detail.type if detail is not None and detail.type else None
    message = detail.message if detail is not None and detail.message else None
    if not message:
        message = raw[:500].decode("utf-8", "replace").strip() or f"upstream returned HTTP {status}"
    mapped = ERROR_TYPES.get(etype or "")
    return UpstreamError(
        f"{provider} error: {message}",
        status=status,
        type=mapped[1] if mapped else type_for_status(status),
        code=etype,
        headers=_headers(headers),
        provider=provider,
    )


def is_anthropic_error(raw: bytes) -> bool:
    """Whether an error body is in Anthropic's shape (a host of Claude may answer in its
    own shape for errors of the platform and in Anthropic's for errors of the model)."""
    body = _decode(raw)
    return body is not None and body.error is not None and bool(body.error.type)


def stream_error(data: bytes, provider: str = "anthropic") -> GatewayError:
    """An ``error`` event inside a 200 stream: the status comes from the error type."""
    body = _decode(data)
    etype = body.error.type if body is not None and body.error is not None else ""
    status = ERROR_TYPES.get(etype, (500, "api_error"))[0]
    return parse_error(status, {}, data, provider)
