"""One error type, rendered into the OpenAI error envelope in one place (the handler).

Every failure a client can see is a ``GatewayError``: it carries the HTTP status and the
four OpenAI fields. Nothing else reaches the client; unexpected exceptions become a generic
500 whose details stay in the log.
"""

from __future__ import annotations

from typing import Any

import msgspec


class ErrorBody(msgspec.Struct, omit_defaults=False):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorEnvelope(msgspec.Struct):
    error: ErrorBody


_encoder = msgspec.json.Encoder()


class GatewayError(Exception):
    """An error with an HTTP status and an OpenAI-shaped body."""

    status: int = 500
    type: str = "api_error"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        type: str | None = None,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        provider: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if type is not None:
            self.type = type
        self.param = param
        self.code = code
        # headers the client should see with this error (e.g. retry-after from a 429)
        self.headers = headers or {}
        self.provider = provider

    def body(self) -> ErrorEnvelope:
        return ErrorEnvelope(ErrorBody(self.message, self.type, self.param, self.code))

    def to_json(self) -> bytes:
        return _encoder.encode(self.body())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.status}, {self.type!r}, {self.message!r})"


class InvalidRequest(GatewayError):
    status = 400
    type = "invalid_request_error"


class AuthenticationError(GatewayError):
    status = 401
    type = "authentication_error"


class PermissionDenied(GatewayError):
    status = 403
    type = "permission_error"


class NotFound(GatewayError):
    status = 404
    type = "not_found_error"


class RequestTooLarge(GatewayError):
    status = 413
    type = "invalid_request_error"


class UpstreamError(GatewayError):
    """The provider answered with an error; status and message are the provider's."""

    type = "api_error"


class UpstreamUnreachable(GatewayError):
    status = 502
    type = "api_connection_error"


class UpstreamInvalid(GatewayError):
    """The upstream answered with something its provider does not speak: a wrong content
    type, JSON that is not the documented shape, a broken SSE or eventstream frame, a
    redirect. Always a 502 ``upstream_invalid_response``; never relayed, never a 500."""

    status = 502
    type = "api_error"

    def __init__(self, message: str, *, provider: str | None = None) -> None:
        super().__init__(message, code="upstream_invalid_response", provider=provider)


class UpstreamTooLarge(GatewayError):
    """An upstream answer (or one stream event) over the gateway's limit, counted in
    decompressed bytes: a 502, never an out-of-memory."""

    status = 502
    type = "api_error"

    def __init__(self, message: str, *, provider: str | None = None) -> None:
        super().__init__(message, code="upstream_too_large", provider=provider)


class UpstreamTimeout(GatewayError):
    status = 504
    type = "timeout_error"


# OpenAI's error `type` for each status, used when a provider gives none.
_TYPE_BY_STATUS: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    409: "conflict_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


def type_for_status(status: int) -> str:
    return _TYPE_BY_STATUS.get(status, "api_error" if status >= 500 else "invalid_request_error")


def validation_where(exc: Exception) -> tuple[str, str | None]:
    """Split msgspec's ``"<message> - at `$.a.b[0]`"`` into ("<message>", "a.b[0]").

    The field is "" for the top level and None when msgspec named no place.
    """
    text = str(exc)
    message, sep, where = text.rpartition(" - at `")
    if not sep:
        return text, None
    return message, where.rstrip("`").removeprefix("$").lstrip(".")


def as_str_or_none(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)
