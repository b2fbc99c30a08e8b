"""AWS eventstream framing (``application/vnd.amazon.eventstream``) as a FrameDecoder.

Each binary frame is: total length, headers length, prelude CRC, typed headers, payload,
message CRC. botocore's ``EventStreamBuffer`` parses and CRC-checks them; it is imported
on first use so a gateway that never talks to Bedrock does not pay for botocore.
"""

from __future__ import annotations

from typing import Any

from proxy.errors import UpstreamError, UpstreamInvalid


class Frame:
    """One decoded eventstream message: its string headers and raw payload."""

    __slots__ = ("headers", "payload")

    def __init__(self, headers: dict[str, Any], payload: bytes) -> None:
        self.headers = headers
        self.payload = payload

    @property
    def message_type(self) -> str:
        return str(self.headers.get(":message-type", "event"))

    @property
    def event_type(self) -> str:
        return str(self.headers.get(":event-type", ""))

    @property
    def exception_type(self) -> str:
        return str(self.headers.get(":exception-type", ""))

    def __repr__(self) -> str:
        return f"Frame({self.message_type}:{self.event_type or self.exception_type})"


class EventStreamDecoder:
    """``feed(bytes) -> list[Frame]`` over any byte split; ``flush()`` checks nothing is left."""

    __slots__ = ("_broken", "_buf", "_errors", "_pending")

    def __init__(self) -> None:
        from botocore.eventstream import (  # type: ignore[import-untyped]
            EventStreamBuffer,
            ParserError,
        )

        self._buf = EventStreamBuffer()
        self._errors: type[Exception] = ParserError
        self._pending = 0  # bytes fed but not yet part of a whole frame
        self._broken: UpstreamInvalid | None = None

    def feed(self, data: bytes) -> list[Frame]:
        if self._broken is not None:
            raise self._broken
        self._buf.add_data(data)
        self._pending += len(data)
        frames: list[Frame] = []
        try:
            for m in self._buf:
                self._pending -= m.prelude.total_length
                frames.append(Frame(dict(m.headers), bytes(m.payload)))
        except self._errors as exc:
            self._broken = UpstreamInvalid(
                f"bedrock sent a malformed eventstream frame ({type(exc).__name__})",
                provider="bedrock",
            )
            if not frames:
                raise self._broken from None
            # the frames before the bad one are sound: hand them on, fail on the next call
        return frames

    def flush(self) -> list[Frame]:
        if self._broken is not None:
            raise self._broken
        if self._pending:
            raise UpstreamError(
                "bedrock stream ended in the middle of an eventstream frame",
                status=502,
                code="upstream_stream_truncated",
                provider="bedrock",
            )
        return []
