"""The incremental SSE decoder, against every way bytes can be split."""

from __future__ import annotations

import pytest

from proxy.errors import UpstreamError
from proxy.hostpolicy import HostPolicy
from proxy.settings import CustomHostSettings
from proxy.sse import SSEDecoder

STREAM = (
    b": comment\n\n"
    b'event: message_start\ndata: {"a": 1}\n\n'
    b"data: line1\ndata: line2\n\n"
    b"id: 7\ndata:no-space\n\n"
    b"data: [DONE]\n\n"
)
EXPECTED = [
    ("message_start", b'{"a": 1}'),
    (None, b"line1\nline2"),
    (None, b"no-space"),
    (None, b"[DONE]"),
]


def decode_all(data: bytes, sizes: int) -> list[tuple[str | None, bytes]]:
    d = SSEDecoder()
    out = []
    for i in range(0, len(data), sizes):
        out += [(e.event, e.data) for e in d.feed(data[i : i + sizes])]
    out += [(e.event, e.data) for e in d.flush()]
    return out


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 10_000])
@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
def test_any_split_any_newline(size: int, newline: bytes) -> None:
    data = STREAM.replace(b"\n", newline)
    assert decode_all(data, size) == EXPECTED


def test_last_event_without_blank_line_is_flushed() -> None:
    assert decode_all(b"data: tail", 3) == [(None, b"tail")]


def test_oversized_event_is_refused() -> None:
    d = SSEDecoder()
    with pytest.raises(UpstreamError):
        for _ in range(20):
            d.feed(b"x" * 1024 * 1024)


@pytest.mark.parametrize(
    ("allow", "url", "ok"),
    [
        ([], "http://anything:1/v1", True),
        (["api.example.com"], "https://api.example.com/v1", True),
        (["api.example.com"], "https://evil.example.com/v1", False),
        (["*.corp.example"], "https://llm.corp.example/v1", True),
        (["*.corp.example"], "https://corp.example.evil.io/v1", False),
        (["10.0.0.0/8"], "http://10.1.2.3:8000/v1", True),
        (["10.0.0.0/8"], "http://11.1.2.3:8000/v1", False),
        (["::1/128"], "http://[::1]:9/v1", True),
    ],
)
def test_host_policy(allow: list[str], url: str, ok: bool) -> None:
    policy = HostPolicy(CustomHostSettings(allow=allow))
    if ok:
        policy.check(url)
    else:
        with pytest.raises(Exception) as info:
            policy.check(url)
        assert getattr(info.value, "status", None) == 403
