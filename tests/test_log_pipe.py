"""JSON lines on a pipe are written at most PIPE_BUF at a time: ``--workers`` share it."""

from __future__ import annotations

import io
import os
import select
import sys

import pytest

from proxy.logsetup import _stdout


def test_a_pipe_gets_whole_lines_within_pipe_buf(monkeypatch: pytest.MonkeyPatch) -> None:
    r, w = os.pipe()
    os.set_blocking(r, False)
    with open(w, "wb") as raw:
        monkeypatch.setattr("sys.stdout", io.TextIOWrapper(raw))
        out = _stdout()
        line = b"x" * (select.PIPE_BUF - 96) + b"\n"
        out.write(line)
        assert not select.select([r], [], [], 0)[0], "one line stays buffered"
        out.write(b"y" * 199 + b"\n")  # does not fit: the first line goes out alone
        assert os.read(r, 2 * select.PIPE_BUF) == line
        out.flush()
        assert os.read(r, 2 * select.PIPE_BUF) == b"y" * 199 + b"\n"
        out.close()
    os.close(r)


def test_a_file_gets_a_buffer_even_when_python_is_unbuffered(
    monkeypatch: pytest.MonkeyPatch, tmp_path: os.PathLike[str]
) -> None:
    """PYTHONUNBUFFERED=1 (common in container images) leaves sys.stdout.buffer without a
    buffer: a write(2) per access line. The JSON lines get their own buffer, flushed once
    per turn of the event loop."""
    path = os.path.join(tmp_path, "log")
    with open(path, "wb", buffering=0) as raw:  # what PYTHONUNBUFFERED gives
        monkeypatch.setattr("sys.stdout", io.TextIOWrapper(raw, write_through=True))  # type: ignore[arg-type]
        out = _stdout()
        assert out is not sys.stdout.buffer
        out.write(b'{"event":"access"}\n')
        assert os.path.getsize(path) == 0, "the line waits for the flush"
        out.flush()
        with open(path, "rb") as f:
            assert f.read() == b'{"event":"access"}\n'
        out.close()
