"""JSON log lines: buffered by the gateway itself, written soon and whole (a pipe gets at
most PIPE_BUF at a time: ``--workers`` share it)."""

from __future__ import annotations

import io
import os
import select
import signal
import subprocess
import sys
import time

import httpx
import pytest

from proxy.logsetup import _stdout
from tests.conftest import PROVIDER_KEY
from tests.servers import free_port
from tests.test_shutdown import ROOT, _wait_ready


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


@pytest.mark.parametrize("workers", [1, 2])
def test_access_lines_are_written_soon_and_all_of_them_at_exit(
    tmp_path, mock_openai, workers: int
) -> None:
    """Lines wait in the buffer for the end of the event loop's turn (one write(2) for all
    of them, not one per request) and the last ones are written when the server stops —
    in a ``--workers`` child too, which exits without running atexit hooks."""
    _, upstream = mock_openai
    port = free_port()
    out = os.path.join(tmp_path, "stdout")
    env = {
        **os.environ,
        "GATEWAY_LOG_FORMAT": "json",
        "PYTHONUNBUFFERED": "1",
        "GATEWAY_WORKERS": str(workers),
    }
    with open(out, "wb") as stdout:
        proc = subprocess.Popen(
            [sys.executable, "-m", "proxy", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            stdout=stdout,
            stderr=subprocess.DEVNULL,
            env=env,
        )
    try:
        _wait_ready(port, proc)
        headers = {
            "authorization": f"Bearer {PROVIDER_KEY}",
            "x-portkey-provider": "openai",
            "x-portkey-custom-host": upstream.url + "/v1",
        }
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        assert httpx.post(url, headers=headers, json=body, timeout=10).status_code == 200
        deadline = time.monotonic() + 2
        while b'"event":"request"' not in _read(out):
            assert time.monotonic() < deadline, "the access line was not written in time"
            time.sleep(0.01)
        for _ in range(5):
            httpx.post(url, headers=headers, json=body, timeout=10)
        proc.send_signal(signal.SIGTERM)  # straight away: the lines must not be lost
        proc.wait(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert _read(out).count(b'"event":"request"') == 6


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()
