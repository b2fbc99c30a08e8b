"""JSON lines on a pipe are written at most PIPE_BUF at a time: ``--workers`` share it."""

from __future__ import annotations

import io
import os
import select

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


def test_a_file_keeps_the_usual_stdout(
    monkeypatch: pytest.MonkeyPatch, tmp_path: os.PathLike[str]
) -> None:
    with open(os.path.join(tmp_path, "log"), "wb") as raw:
        wrapper = io.TextIOWrapper(raw)
        monkeypatch.setattr("sys.stdout", wrapper)
        assert _stdout() is wrapper.buffer
