"""Errors aiohttp answers itself, before any handler runs (malformed HTTP, oversize lines).

aiohttp writes them as ``text/plain`` quoting the offending request bytes (a header with a
NUL byte is echoed back, key and all) and logs a multi-line traceback. The gateway's
contract is one error shape and one JSON log line, so the server's error handler is
replaced: OpenAI's error envelope, nothing of the request quoted, one structured log line.
aiohttp offers no public hook for this; ``tests/test_raw_http.py`` pins the behaviour so
an aiohttp upgrade that moves it fails loudly.
"""

from __future__ import annotations

from typing import Any

import structlog
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestHandler

from proxy.errors import GatewayError
from proxy.logsetup import fold_exception

log = structlog.get_logger("gateway.http")


def _handle_error(
    self: RequestHandler,
    request: Any,
    status: int = 500,
    exc: BaseException | None = None,
    message: str | None = None,
) -> web.StreamResponse:
    fields: dict[str, Any] = {"status": status}
    if exc is not None:
        fields["exception"] = fold_exception(exc)
    log.warning("malformed request" if status < 500 else "server error", **fields)
    if request.writer.output_size > 0:  # some bytes went out: the connection is broken
        raise ConnectionError("response already started; cannot send the error")
    if status < 500:
        what = "malformed HTTP request" if isinstance(exc, HttpProcessingError) else "bad request"
        err = GatewayError(what, status=status, type="invalid_request_error", code="bad_http")
    else:
        err = GatewayError("internal gateway error", code="internal_error")
    resp = web.Response(body=err.to_json(), status=status, content_type="application/json")
    resp.force_close()
    return resp


def install() -> None:
    """Replace aiohttp's server error handler (idempotent)."""
    RequestHandler.handle_error = _handle_error  # type: ignore[method-assign]
