"""A test-only AWS eventstream encoder (the wire format of ConverseStream).

Frame: total length (4) | headers length (4) | prelude CRC32 (4) | headers | payload |
message CRC32 (4), big-endian; each header is name length (1), name, type 7 (string),
value length (2), value. The gateway decodes with botocore; encoding here is independent.
"""

from __future__ import annotations

import json
import struct
import zlib
from typing import Any


def _headers(headers: dict[str, str]) -> bytes:
    out = b""
    for name, value in headers.items():
        n, v = name.encode(), value.encode()
        out += struct.pack("!B", len(n)) + n + b"\x07" + struct.pack("!H", len(v)) + v
    return out


def frame(headers: dict[str, str], payload: bytes) -> bytes:
    hdr = _headers(headers)
    total = 12 + len(hdr) + len(payload) + 4
    prelude = struct.pack("!II", total, len(hdr))
    prelude += struct.pack("!I", zlib.crc32(prelude) & 0xFFFFFFFF)
    body = prelude + hdr + payload
    return body + struct.pack("!I", zlib.crc32(body) & 0xFFFFFFFF)


def event(event_type: str, payload: dict[str, Any]) -> bytes:
    return frame(
        {
            ":event-type": event_type,
            ":content-type": "application/json",
            ":message-type": "event",
        },
        json.dumps(payload).encode(),
    )


def exception(exception_type: str, message: str) -> bytes:
    return frame(
        {
            ":exception-type": exception_type,
            ":content-type": "application/json",
            ":message-type": "exception",
        },
        json.dumps({"message": message}).encode(),
    )


def events(pairs: list[list[Any]]) -> bytes:
    """A whole stream from ``[[event_type, payload], ...]`` (the fixtures' shape)."""
    return b"".join(event(t, p) for t, p in pairs)
