"""Gateway processes for the replica tests: real ``python -m proxy`` subprocesses sharing
the real Redis (and PostgreSQL for the ledger), each on its own loopback port."""

from __future__ import annotations

import os
import pathlib
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from typing import Any

import pytest
import yaml

from tests.servers import free_port

ROOT = pathlib.Path(__file__).resolve().parents[2]


def require(port: int, name: str) -> None:
    """A service the test needs: fail in CI when it is missing, skip elsewhere."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return
    except OSError:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} on 127.0.0.1:{port} is required in CI and is not reachable")
        pytest.skip(f"no {name} on 127.0.0.1:{port}")


class Proc:
    """One gateway process."""

    def __init__(self, config: pathlib.Path, log: pathlib.Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self._out = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "proxy", "--config", str(config), "--host", "127.0.0.1",
             "--port", str(self.port)],
            cwd=ROOT,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "GATEWAY_LOG_FORMAT": "json"},
        )  # fmt: skip

    def wait_ready(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"gateway exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "/ready", timeout=1) as r:  # noqa: S310
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("gateway never became ready")

    def terminate(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self._out.close()


def start(settings: dict[str, Any], folder: pathlib.Path, n: int) -> list[Proc]:
    config = folder / "settings.yaml"
    config.write_text(yaml.safe_dump(settings))
    procs = [Proc(config, folder / f"gateway{i}.log") for i in range(n)]
    try:
        for p in procs:
            p.wait_ready()
    except BaseException:
        for p in procs:
            p.stop()
        raise
    return procs
