"""Start, watch and stop the processes of a benchmark run (all on loopback)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = os.sysconf("SC_PAGE_SIZE")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(
    args: list[str], cpus: str | None, log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    if cpus and shutil.which("taskset"):
        args = ["taskset", "-c", cpus, *args]
    return subprocess.Popen(
        args,
        cwd=ROOT,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
        start_new_session=True,
    )


# the gateway as every benchmark runs it: JSON access lines, the console off
GATEWAY_ENV = {"GATEWAY_LOG_FORMAT": "json", "GATEWAY_CONSOLE": "0"}


def start_mock(cpus: str | None, log: Path, *extra: str) -> tuple[int, subprocess.Popen[bytes]]:
    """bench/mock_upstream.py on a free port: (port, process)."""
    port = free_port()
    cmd = [sys.executable, "-m", "bench.mock_upstream", "--port", str(port), *extra]
    return port, start(cmd, cpus, log)


def start_gateway(cpus: str | None, log: Path, *extra: str) -> tuple[int, subprocess.Popen[bytes]]:
    """``python -m proxy`` on a free loopback port (``extra``: more arguments)."""
    port = free_port()
    cmd = [sys.executable, "-m", "proxy", "--host", "127.0.0.1", "--port", str(port), *extra]
    return port, start(cmd, cpus, log, env=GATEWAY_ENV)


def stop(p: subprocess.Popen[bytes]) -> None:
    if p.poll() is None:
        os.killpg(p.pid, signal.SIGTERM)
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(5)


def wait_ready(url: str, p: subprocess.Popen[bytes], timeout: float = 20.0) -> float:
    """Seconds until ``url`` answers 200."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if p.poll() is not None:
            sys.exit(f"process exited early with {p.returncode}: see its log")
        try:
            with urllib.request.urlopen(url, timeout=1) as r:  # noqa: S310 - our http URL
                if r.status == 200:
                    return time.perf_counter() - t0
        except OSError:
            time.sleep(0.01)
    sys.exit(f"{url} not ready after {timeout}s")


def wait_port(port: int, timeout: float = 10.0) -> None:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.01)
    sys.exit(f"port {port} never opened")


def tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants."""
    pids, seen = [pid], set()
    total = 0
    while pids:
        p = pids.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * PAGE
            with open(f"/proc/{p}/task/{p}/children") as f:
                pids += [int(c) for c in f.read().split()]
        except OSError:
            continue
    return total


class RSSSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(0.1):
            self.peak = max(self.peak, tree_rss(self.pid))

    def stop(self) -> int:
        self._halt.set()
        self.join()
        return self.peak
