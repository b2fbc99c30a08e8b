"""The incremental SSE decoder, against every way bytes can be split."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.errors import UpstreamTooLarge
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
    with pytest.raises(UpstreamTooLarge):
        for _ in range(20):
            d.feed(b"x" * 1024 * 1024)


def test_a_huge_event_in_small_reads_is_joined_once() -> None:
    """Reads that complete no event are only stored (no rescan of what came before)."""
    d = SSEDecoder()
    assert d.feed(b"data: ") == []
    for _ in range(2000):
        assert d.feed(b"y" * 1000) == []
    assert len(d._parts) == 2001  # stored, never joined while no event can end
    [event] = d.feed(b"\r\n\r\n")
    assert event.data == b"y" * 2_000_000


@settings(max_examples=300, deadline=None)
@given(
    events=st.lists(
        st.tuples(st.sampled_from([None, "delta", "error"]), st.binary(max_size=40)),
        max_size=6,
    ),
    newline=st.sampled_from([b"\n", b"\r\n", b"\r"]),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=12),
)
def test_any_split_of_a_stream_decodes_to_the_same_events(events, newline, cuts) -> None:
    wire = b""
    expected = []
    for name, data in events:
        data = data.replace(b"\r", b"").replace(b"\n", b"")
        if name:
            wire += b"event: " + name.encode() + newline
        wire += b"data: " + data + newline + newline
        expected.append((name, data))
    d = SSEDecoder()
    got = []
    last = 0
    for cut in sorted({c for c in cuts if c <= len(wire)}):
        got += d.feed(wire[last:cut])
        last = cut
    got += d.feed(wire[last:]) + d.flush()
    assert [(e.event, e.data) for e in got] == expected


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
