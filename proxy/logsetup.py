"""structlog, configured once at start-up for speed: cached loggers, msgspec JSON to stdout.

JSON lines by default (or pretty console output when attached to a TTY). A last-line-of-
defence processor masks values under credential-like keys, whatever a caller passed.

Every log event is one JSON line, including what aiohttp, asyncio or a library logs through
the standard ``logging`` module: those records are rendered by the same pipeline, and a
traceback is folded into an ``exception`` field (type, frames, message). The message of an
HTTP parsing error is left out: it quotes the raw request line or header, which may hold a
credential.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import os
import select
import stat
import sys
import time
import traceback
from collections.abc import Callable, MutableMapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, BinaryIO

import msgspec
import structlog

from proxy.redact import json_holds, redact_values
from proxy.settings import LoggingSettings

_SECRET_KEYS = frozenset(
    {
        "authorization",
        "api_key",
        "api-key",
        "x-api-key",
        "x-portkey-api-key",
        "x-goog-api-key",
        "aws_secret_access_key",
        "aws_session_token",
        "azure_ad_token",
        "password",
        "token",
        "secret",
    }
)


def mask_secrets(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in event.keys() & _SECRET_KEYS:
        event[key] = "***"
    return event


class _FastTimestamp:
    """``timestamp``: ISO 8601 UTC with microseconds, as structlog's TimeStamper writes it,
    at a fraction of the cost: the date-time part is formatted once per second."""

    __slots__ = ("_prefix", "_second")

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def __call__(
        self, _: Any, __: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        event["timestamp"] = self.now()
        return event

    def now(self) -> str:
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        return f"{self._prefix}.{int((now - second) * 1e6):06d}Z"


def _encode(obj: Any, **_: Any) -> bytes:
    return msgspec.json.encode(obj, enc_hook=str)


def fold_exception(exc: BaseException) -> dict[str, Any]:
    """A traceback as one JSON value: the exception chain's types, the frames, the message
    (left out for HTTP parse errors, which quote raw request bytes)."""
    from aiohttp.http_exceptions import HttpProcessingError

    frames = [
        f"{f.filename.rsplit('/site-packages/', 1)[-1]}:{f.lineno} {f.name}"
        for f in traceback.extract_tb(exc.__traceback__)[-20:]
    ]
    out: dict[str, Any] = {"type": f"{type(exc).__module__}.{type(exc).__qualname__}"}
    if not isinstance(exc, HttpProcessingError):
        out["message"] = str(exc)[:500]
    out["frames"] = frames
    cause = exc.__cause__ or exc.__context__
    if cause is not None and cause is not exc:
        out["cause"] = f"{type(cause).__module__}.{type(cause).__qualname__}"
    return out


def _fold_exc_info(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    info = event.pop("exc_info", None)
    if info is True:
        info = sys.exc_info()
    if isinstance(info, BaseException):
        event["exception"] = fold_exception(info)
    elif isinstance(info, tuple) and info[1] is not None:
        event["exception"] = fold_exception(info[1])
    return event


class _StdlibToJSON(logging.Handler):
    """Standard-library log records as the gateway's JSON lines, one per record."""

    def __init__(self, stream: BinaryIO) -> None:
        super().__init__()
        self.stream = stream

    def emit(self, record: logging.LogRecord) -> None:
        try:
            event: dict[str, Any] = {
                "event": record.getMessage(),
                "logger": record.name,
                "level": record.levelname.lower(),
            }
            _FastTimestamp()(None, "", event)
            if record.exc_info and record.exc_info[1] is not None:
                event["exception"] = fold_exception(record.exc_info[1])
            mask_secrets(None, "", event)
            self.stream.write(_encode(event) + b"\n")
            self.stream.flush()
        except Exception:  # a log line must never take the server down
            self.handleError(record)


_json_stream: BinaryIO | None = None  # where JSON lines go, when they are JSON
_info_enabled = True


class LogLine(msgspec.Struct, kw_only=True, omit_defaults=True, gc=False):
    """A line the writer takes as a struct (the access line, once per request): encoded
    without a dict's per-key work. Fields left ``UNSET`` are not written. A subclass ends
    with ``level`` and ``timestamp`` (``str | UnsetType``, default ``UNSET``): the
    writer's, last, as structlog puts them (a base class's fields would come first)."""

    if TYPE_CHECKING:  # a subclass's fields, declared for the writer's type checks only
        level: str | msgspec.UnsetType
        timestamp: str | msgspec.UnsetType

    def fields(self) -> dict[str, Any]:
        """The set fields in order, as a dict (for redaction, or a console line)."""
        out: dict[str, Any] = {}
        for name in self.__struct_fields__:
            value = getattr(self, name)
            if value is not msgspec.UNSET:
                out[name] = value
        return out


def json_line_writer() -> Callable[[dict[str, Any] | LogLine, tuple[str, ...]], None] | None:
    """A direct writer of one JSON log line (the access log, once per request), or None
    when lines are not JSON (console) or info is filtered out. The same fields and output as
    structlog's pipeline (level, timestamp, msgspec), without its per-call processor walk;
    the request's own credentials are redacted from any value (``secrets``)."""
    stream = _json_stream
    if stream is None or not _info_enabled:
        return None
    stamp = _FastTimestamp()
    write, flush = stream.write, stream.flush
    due = False

    def flush_once() -> None:
        nonlocal due
        due = False
        flush()

    def emit(event: dict[str, Any] | LogLine, secrets: tuple[str, ...] = ()) -> None:
        """One line; ``secrets`` (the request's own credentials) are redacted wherever a
        field holds one, decided on the encoded line (proxy/redact.py)."""
        # the line goes into the stream's buffer now; one flush per turn of the event loop
        # writes every line of that turn (under load, ~0.06 write(2) per request instead
        # of one); serve() flushes what is left when it stops
        nonlocal due
        if isinstance(event, LogLine):
            event.level = "info"
            event.timestamp = stamp.now()
        else:
            event["level"] = "info"
            event["timestamp"] = stamp.now()
        # no mask_secrets walk: the access line's keys are the logging middleware's own,
        # none of them credential-named; values holding a key are redacted below
        line = _encode(event)
        if secrets and json_holds(line, secrets):
            fields = event.fields() if isinstance(event, LogLine) else event
            line = _encode({k: redact_values(v, secrets) for k, v in fields.items()})
        write(line + b"\n")
        if not due:
            try:
                asyncio.get_running_loop().call_soon(flush_once)
            except RuntimeError:  # no loop (a tool, a test): flush at once
                flush()
                return
            due = True

    return emit


def flush_logs() -> None:
    """Write out buffered lines (at the end of serving: a ``--workers`` child exits
    without running atexit hooks)."""
    if _json_stream is not None:
        _flush_quietly(_json_stream)


def _stdout() -> BinaryIO:
    """stdout for JSON lines, always with a buffer of our own: lines are flushed once per
    turn of the event loop (``json_line_writer``), so the buffer saves a write(2) per
    request — even where PYTHONUNBUFFERED=1 (common in container images) leaves
    ``sys.stdout.buffer`` unbuffered. On a pipe (a container's log collector) the buffer is
    PIPE_BUF (4,096 bytes): every write(2) then carries whole lines and at most PIPE_BUF,
    which the kernel writes atomically, so the lines of ``--workers`` sharing the pipe never
    interleave mid-line (Python's default 8 KiB buffer can flush more than PIPE_BUF). A
    terminal keeps the usual stdout."""
    out = sys.stdout.buffer
    try:
        fd = out.fileno()
        if os.isatty(fd):
            return out
        size = select.PIPE_BUF if stat.S_ISFIFO(os.fstat(fd).st_mode) else LINE_BUFFER
        out.flush()
        own = open(fd, "wb", buffering=size, closefd=False)  # noqa: SIM115 - process-long
        atexit.register(_flush_quietly, own)
        return own
    except (OSError, ValueError, AttributeError):  # no real fd (captured in tests)
        return out


LINE_BUFFER = 64 * 1024


def _flush_quietly(out: BinaryIO) -> None:
    with contextlib.suppress(OSError, ValueError):  # closed, or the reader went away
        out.flush()


def configure_logging(settings: LoggingSettings, stream: BinaryIO | None = None) -> None:
    """Configure structlog for the process; ``stream`` (binary) defaults to stdout."""
    global _json_stream, _info_enabled
    level = getattr(logging, settings.level.upper())
    _info_enabled = level <= logging.INFO
    _json_stream = None
    console = settings.format == "console" or (
        settings.format == "auto" and stream is None and sys.stdout.isatty()
    )
    shared: list[Any] = [
        # the gateway binds no contextvars (fields are passed explicitly, per request);
        # a user middleware that wants them can bind and call merge_contextvars itself
        structlog.processors.add_log_level,
        _FastTimestamp(),
        mask_secrets,
    ]
    if console:
        structlog.configure(
            processors=[*shared, structlog.dev.ConsoleRenderer()],
            wrapper_class=structlog.make_filtering_bound_logger(level),
            logger_factory=structlog.PrintLoggerFactory(sys.stdout),
            cache_logger_on_first_use=True,
        )
    else:
        out = stream or _stdout()
        structlog.configure(
            processors=[
                *shared,
                _fold_exc_info,
                structlog.processors.JSONRenderer(serializer=_encode),
            ],
            wrapper_class=structlog.make_filtering_bound_logger(level),
            logger_factory=structlog.BytesLoggerFactory(out),
            cache_logger_on_first_use=True,
        )
        _json_stream = out
        root = logging.getLogger()
        for h in [h for h in root.handlers if isinstance(h, _StdlibToJSON)]:
            root.removeHandler(h)
        root.addHandler(_StdlibToJSON(out))
        root.setLevel(max(level, logging.INFO))
