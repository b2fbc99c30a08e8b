"""Incremental Server-Sent Events decoder and the encoder for our own output.

The decoder takes bytes as they arrive from the upstream (any split, CRLF or LF) and yields
complete events. It follows the WHATWG EventSource parsing rules for the fields a provider
uses (``event``, ``data``, ``id``; ``:`` comments ignored) and bounds its buffer.
"""

from __future__ import annotations

from proxy.errors import UpstreamError

MAX_EVENT_BYTES = 16 * 1024 * 1024


class SSEEvent:
    __slots__ = ("data", "event", "id")

    def __init__(self, data: bytes, event: str | None = None, id: str | None = None) -> None:
        self.data = data
        self.event = event
        self.id = id

    def __repr__(self) -> str:
        return f"SSEEvent(event={self.event!r}, data={self.data[:60]!r})"


class SSEDecoder:
    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, data: bytes) -> list[SSEEvent]:
        buf = self._buf + data if self._buf else data
        if b"\r" in buf:
            # a CR at the very end may be the first half of a CRLF: keep it for later
            keep_cr = buf.endswith(b"\r")
            body = buf[:-1] if keep_cr else buf
            buf = body.replace(b"\r\n", b"\n").replace(b"\r", b"\n") + (b"\r" if keep_cr else b"")
        events: list[SSEEvent] = []
        start = 0
        find = buf.find
        while True:
            end = find(b"\n\n", start)
            if end < 0:
                break
            block = buf[start:end]
            start = end + 2
            if block.startswith(b"data: ") and b"\n" not in block:
                events.append(SSEEvent(block[6:]))  # the common case: one data line
                continue
            ev = _parse_block(block)
            if ev is not None:
                events.append(ev)
        self._buf = buf[start:]
        if len(self._buf) > MAX_EVENT_BYTES:
            raise UpstreamError("upstream sent an SSE event larger than 16 MiB", status=502)
        return events

    def flush(self) -> list[SSEEvent]:
        """The last event if the stream ended without its blank line."""
        rest, self._buf = self._buf.rstrip(b"\r\n"), b""
        if not rest:
            return []
        ev = _parse_block(rest.replace(b"\r\n", b"\n"))
        return [ev] if ev is not None else []


def _parse_block(block: bytes) -> SSEEvent | None:
    data: list[bytes] = []
    event: str | None = None
    eid: str | None = None
    for line in block.split(b"\n"):
        if not line or line.startswith(b":"):
            continue
        name, sep, value = line.partition(b":")
        if sep and value.startswith(b" "):
            value = value[1:]
        if name == b"data":
            data.append(value)
        elif name == b"event":
            event = value.decode("utf-8", "replace")
        elif name == b"id":
            eid = value.decode("utf-8", "replace")
    if not data and event is None:
        return None
    return SSEEvent(b"\n".join(data), event, eid)


DONE = b"data: [DONE]\n\n"


def encode_data(payload: bytes) -> bytes:
    return b"data: " + payload + b"\n\n"
