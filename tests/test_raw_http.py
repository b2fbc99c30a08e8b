"""Bytes no HTTP client library would send: the answer and the log stay clean.

A header with a NUL byte, a header name with a control character, a garbage request line:
aiohttp refuses them before any handler runs. The client gets OpenAI's error shape without
its bytes quoted back; the log gets one JSON line without the header value.
"""

from __future__ import annotations

import json
import socket

import pytest

SECRET = "sk-test-provider-key-0001"


def raw_request(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(data)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out


@pytest.mark.parametrize(
    "data",
    [
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nx-portkey-api-key: "
        + SECRET.encode()
        + b"\x00v\r\nContent-Length: 2\r\n\r\n{}",
        b"GET /health HTTP/1.1\r\nHost: x\r\nBad Header\x01: " + SECRET.encode() + b"\r\n\r\n",
        b"GET /health HTTP/1.1\r\nHost: x\r\nauthorization: Bearer "
        + SECRET.encode()
        + b"\r\n\x7f\r\n\r\n",
    ],
)
def test_malformed_http_gets_a_clean_error_and_one_log_line(gateway, logs, data) -> None:
    answer = raw_request(gateway.port, data)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.") and b" 400 " in head.split(b"\r\n")[0]
    assert b"application/json" in head
    err = json.loads(body)["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert SECRET.encode() not in answer
    lines = [x for x in logs() if x.get("event") == "malformed request"]
    assert lines, "the refusal is logged"
    assert SECRET not in json.dumps(lines)
    assert lines[-1]["exception"]["type"].startswith("aiohttp.")


def test_a_library_traceback_is_one_json_line(logs) -> None:
    import logging

    try:
        raise ValueError("line one\nline two")
    except ValueError:
        logging.getLogger("some.library").exception("it broke")
    [line] = [x for x in logs() if x.get("logger") == "some.library"]
    assert line["event"] == "it broke" and line["level"] == "error"
    assert line["exception"]["type"] == "builtins.ValueError"
    assert line["exception"]["message"] == "line one\nline two"
    assert any("test_raw_http.py" in f for f in line["exception"]["frames"])
