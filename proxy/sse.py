"""Incremental Server-Sent Events decoder and the encoder for our own output.

The decoder takes bytes as they arrive from the upstream (any split, CRLF or LF) and yields
complete events. It follows the WHATWG EventSource parsing rules for the fields a provider
uses (``event``, ``data``, ``id``; ``:`` comments ignored) and bounds its buffer.

Work is linear in the bytes received: a read that completes no event is only stored, and
the pieces of an event are joined once, when its blank line arrives (rescanning the whole
buffer on every read would make one huge event quadratic).
"""

from __future__ import annotations

from proxy.errors import UpstreamTooLarge

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
    __slots__ = ("_cr", "_parts", "_size", "_tail_nl")

    def __init__(self) -> None:
        self._parts: list[bytes] = []  # bytes of an event not yet complete (CRs normalised)
        self._size = 0
        self._tail_nl = False  # the stored bytes end with a line break
        self._cr = False  # the last read ended with CR: a LF first in the next belongs to it

    def feed(self, data: bytes) -> list[SSEEvent]:
        if self._cr and data[:1] == b"\n":
            data = data[1:]
        if not data:
            return []
        if b"\r" in data:
            self._cr = data.endswith(b"\r")
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        else:
            self._cr = False
        if self._parts:
            if not (self._tail_nl and data[:1] == b"\n") and b"\n\n" not in data:
                self._store(data)  # no event ends in this read
                return []
            buf = b"".join((*self._parts, data))
            self._parts.clear()
            self._size = 0
        else:
            buf = data
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
        if start < len(buf):
            self._store(buf[start:] if start else buf)
        return events

    def _store(self, data: bytes) -> None:
        self._parts.append(data)
        self._size += len(data)
        self._tail_nl = data.endswith(b"\n")
        if self._size > MAX_EVENT_BYTES:
            raise UpstreamTooLarge("upstream sent an SSE event larger than 16 MiB")

    def flush(self) -> list[SSEEvent]:
        """The last event if the stream ended without its blank line."""
        rest = b"".join(self._parts).rstrip(b"\n")
        self._parts.clear()
        self._size = 0
        if not rest:
            return []
        ev = _parse_block(rest)
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
