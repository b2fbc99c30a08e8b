"""/metrics under ``python -m proxy --workers 2``: every scrape sums both workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import SECRETS, openai_client
from tests.observability.helpers import scrape, value
from tests.observability.test_metrics import HELLO, MODEL
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]


def wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the gateway exited"
        try:
            with urllib.request.urlopen(url + "/ready", timeout=1) as r:  # noqa: S310
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the gateway did not become ready")


class Remote:
    """The gateway in a subprocess, shaped like a ServerThread for ``openai_client``."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[tuple[Remote, Path]]:
    port = free_port()
    metrics_dir = tmp_path / "metrics"
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    out = open(tmp_path / "stdout.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "proxy",
            "--workers",
            "2",
            "--port",
            str(port),
            "--host",
            "127.0.0.1",
        ],
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    server = Remote(port)
    try:
        wait_healthy(server.url, proc)
        yield server, metrics_dir
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        out.close()
        logged = (tmp_path / "stdout.log").read_text(errors="replace")
        assert not [s for s in SECRETS if s in logged]


def test_metrics_aggregate_across_two_workers(workers, mock_openai) -> None:
    gw, metrics_dir = workers
    _, upstream = mock_openai
    n = 16
    for _ in range(n):  # a new connection each time: SO_REUSEPORT spreads them
        client = openai_client(gw, upstream, connection="close")
        client.chat.completions.create(model=MODEL, messages=HELLO)
        client.close()
    pids = {p.stem.rsplit("_", 1)[-1] for p in metrics_dir.glob("counter_*.db")}
    assert len(pids) == 2, "both workers served requests"
    time.sleep(1.2)  # each worker hands its tallies to the shared files every second
    for _ in range(6):  # whichever worker answers the scrape, it reports the sum
        m = scrape(gw.url)
        assert value(m, "gateway_requests_total", model=MODEL, status="200") == n
        assert value(m, "gateway_tokens_total", model=MODEL, direction="output") == 3 * n
        assert value(m, "gateway_in_flight_requests") == 0


def test_supervisor_removes_the_directory_it_made(tmp_path: Path) -> None:
    code = (
        "import os; from proxy.observability import multiproc; "
        "p = multiproc.prepare(); assert os.environ['PROMETHEUS_MULTIPROC_DIR'] == p; "
        "print(p)"
    )
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, check=True
    )
    made = Path(done.stdout.decode().strip())
    assert made.name.startswith("llm-gateway-metrics-")
    assert not made.exists()
