"""SIGTERM drains: the listener closes, an in-flight stream still finishes (rolling deploys)."""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import httpx
import pytest

from tests.conftest import PROVIDER_KEY
from tests.servers import free_port

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _wait_ready(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        assert proc.poll() is None
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("gateway never became ready")


def test_sigterm_lets_an_open_stream_finish(mock_openai) -> None:
    mock, upstream = mock_openai
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "proxy", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "GATEWAY_LOG_FORMAT": "json"},
    )
    try:
        _wait_ready(port, proc)
        headers = {
            "authorization": f"Bearer {PROVIDER_KEY}",
            "x-portkey-provider": "openai",
            "x-portkey-custom-host": upstream.url + "/v1",
        }
        body = {
            "model": "slow-stream",  # 200 chunks, 50 ms apart: ~10 s
            "messages": [{"role": "user", "content": "x"}],
            "stream": True,
        }
        with (
            httpx.Client(timeout=30) as client,
            client.stream(
                "POST", f"http://127.0.0.1:{port}/v1/chat/completions", json=body, headers=headers
            ) as resp,
        ):
            lines = resp.iter_lines()
            first = next(line for line in lines if line.startswith("data: "))
            assert "chat.completion.chunk" in first
            proc.send_signal(signal.SIGTERM)
            rest = [line for line in lines if line.startswith("data: ")]
        assert rest[-1] == "data: [DONE]"
        assert len(rest) >= 200  # every token arrived after the signal
        assert mock.completed_streams == 1
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def test_sigterm_fails_readiness_before_the_listener_closes() -> None:
    """With server.drain_delay, /ready is 503 at once while the listener still serves."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "proxy", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "GATEWAY_LOG_FORMAT": "json", "GATEWAY_DRAIN_DELAY": "1.5"},
    )
    try:
        _wait_ready(port, proc)
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        with (
            pytest.raises(urllib.error.HTTPError) as info,
            urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=1),
        ):
            pass
        assert info.value.code == 503
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
            assert r.status == 200  # still serving during the drain delay
        assert proc.wait(10) == 0
        with pytest.raises(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def test_probe_module_answers_for_a_pod_local_gateway(gateway) -> None:
    from proxy.probe import main as probe

    assert probe(["ready", "--port", str(gateway.port)]) == 0
    assert probe(["health", "--port", str(gateway.port)]) == 0
    assert probe(["ready", "--port", str(free_port())]) == 1
