"""Google's error body -> the OpenAI error shape, HTTP status preserved.

Google answers ``{"error": {"code", "message", "status", "details"}}`` (Vertex sometimes
wraps it in a one-element list). ``status`` (``INVALID_ARGUMENT``, ``RESOURCE_EXHAUSTED``,
...) becomes the OpenAI ``code``. A 429's ``RetryInfo.retryDelay`` ("33s", "1.5s") becomes
a ``retry-after`` header in whole seconds when Google sent no such header itself.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import msgspec

from proxy.errors import GatewayError, UpstreamError, type_for_status
from proxy.providers.base import error_headers
from proxy.providers.google import native as g

RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"


def retry_delay(details: list[dict[str, object]] | None) -> str | None:
    for d in details or []:
        delay = d.get("retryDelay")
        if d.get("@type") == RETRY_INFO and isinstance(delay, str) and delay.endswith("s"):
            try:
                seconds = float(delay[:-1])
            except ValueError:
                return None
            return str(max(0, math.ceil(seconds)))
    return None


def decode_status(raw: bytes) -> g.ErrorStatus | None:
    env: g.ErrorEnvelope | list[g.ErrorEnvelope]
    try:
        env = g.error_decoder.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    if isinstance(env, list):
        env = env[0] if env else g.ErrorEnvelope()
    return env.error


def parse_error(status: int, headers: Mapping[str, str], raw: bytes, provider: str) -> GatewayError:
    err = decode_status(raw)
    out_headers = error_headers(headers)
    message = err.message if err is not None and err.message else None
    if not message:
        message = raw[:500].decode("utf-8", "replace").strip() or f"upstream returned HTTP {status}"
    if status == 429 and "retry-after" not in out_headers and err is not None:
        delay = retry_delay(err.details)
        if delay is not None:
            out_headers["retry-after"] = delay
    return UpstreamError(
        f"{provider} error: {message}",
        status=status,
        type=type_for_status(status),
        code=err.status if err is not None and err.status else None,
        headers=out_headers,
        provider=provider,
    )


def stream_error(err: g.ErrorStatus, provider: str) -> GatewayError:
    """An error event inside a stream (the HTTP status was already 200)."""
    status = err.code if isinstance(err.code, int) and 400 <= err.code < 600 else 500
    return UpstreamError(
        f"{provider} error: {err.message or 'stream failed'}",
        status=status,
        type=type_for_status(status),
        code=err.status,
        provider=provider,
    )
