"""Bedrock errors -> OpenAI-shaped GatewayErrors, status preserved.

An HTTP error names its type in the ``x-amzn-ErrorType`` header
(``ValidationException:http://internal.amazon.com/coral/...``) and carries
``{"message": "..."}``. Inside a stream, an exception is a frame with
``:message-type: exception`` and ``:exception-type: throttlingException``.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from proxy.errors import GatewayError, UpstreamError, type_for_status
from proxy.providers.base import error_headers
from proxy.providers.bedrock import native as nv
from proxy.providers.bedrock.eventstream import Frame

# the HTTP status each Converse exception is documented with
EXCEPTION_STATUS = {
    "validationexception": 400,
    "accessdeniedexception": 403,
    "resourcenotfoundexception": 404,
    "modeltimeoutexception": 408,
    "throttlingexception": 429,
    "modelnotreadyexception": 429,
    "servicequotaexceededexception": 400,
    "modelerrorexception": 424,
    "modelstreamerrorexception": 424,
    "internalserverexception": 500,
    "serviceunavailableexception": 503,
}


def _message(raw: bytes) -> str | None:
    try:
        body = nv.exception_decoder.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    return body.message or body.Message


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:  # plain dicts (tests, fixtures) are case-sensitive
        lower = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lower), None)
    return value


def parse_error(status: int, headers: Mapping[str, str], raw: bytes) -> GatewayError:
    etype = (_header(headers, "x-amzn-ErrorType") or "").split(":", 1)[0].strip() or None
    message = _message(raw) or raw[:500].decode("utf-8", "replace").strip()
    message = message or f"upstream returned HTTP {status}"
    label = f" ({etype})" if etype else ""
    return UpstreamError(
        f"bedrock error{label}: {message}",
        status=status,
        type=type_for_status(status),
        code=etype,
        headers=error_headers(headers),
        provider="bedrock",
    )


def stream_error(frame: Frame) -> GatewayError:
    """An exception (or eventstream error) frame in the middle of a ConverseStream."""
    if frame.message_type == "exception":
        etype = frame.exception_type or "exception"
        status = EXCEPTION_STATUS.get(etype.lower(), 500)
        message = _message(frame.payload) or "stream failed"
    else:  # :message-type error carries :error-code / :error-message headers
        etype = str(frame.headers.get(":error-code", "error"))
        status = 502
        message = str(frame.headers.get(":error-message", "stream failed"))
    return UpstreamError(
        f"bedrock stream error ({etype}): {message}",
        status=status,
        type=type_for_status(status),
        code=etype,
        provider="bedrock",
    )
