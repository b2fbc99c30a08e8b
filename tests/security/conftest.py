"""The attacker's view: the gateway in its own process, driven over HTTP.

An attack that burns CPU on the gateway's event loop also holds the GIL; with the gateway in
a thread of the test process, the test's own clock and client would stall with it, and a
blocked ``/health`` could look fast. So these tests run ``python -m proxy`` as a subprocess
(mock upstreams and sinks stay in-process: they only need to answer or count).
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import PROVIDER_KEY
from tests.mock_openai import MockOpenAI
from tests.security.sinks import Sink, start_sink
from tests.servers import ServerThread, free_port

ROOT = pathlib.Path(__file__).resolve().parents[2]
NO_UVLOOP = "import sys; sys.modules['uvloop'] = None; from proxy.__main__ import main; main()"


class GatewayProcess:
    def __init__(self, settings: dict[str, Any], tmp: pathlib.Path, uvloop: bool = True) -> None:
        path = tmp / f"settings-{free_port()}.json"
        path.write_text(json.dumps(settings))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp / f"gateway-{self.port}.log"
        self._out = self.log.open("wb")
        # one pooled client: httpx.get() builds a client (and an SSL context) per call, ~15 ms
        self.http = httpx.Client(timeout=30)
        port = str(self.port)
        # without uvloop: an install without the speed extra, on asyncio's own loop (whose
        # getaddrinfo runs on the default executor)
        entry = ["-m", "proxy"] if uvloop else ["-c", NO_UVLOOP]
        self.proc = subprocess.Popen(
            [sys.executable, *entry, "-c", str(path), "--host", "127.0.0.1", "-p", port],
            cwd=ROOT,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "GATEWAY_LOG_FORMAT": "json"},
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"gateway exited: {self.log.read_text()[-2000:]}")
            try:
                if self.http.get(self.url + "/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise AssertionError("gateway never became ready")

    def lines(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log.read_bytes().splitlines():
            if line.startswith(b"{"):
                out.append(json.loads(line))
        return out

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self._out.close()
        self.http.close()

    def post(
        self, body: dict[str, Any], headers: dict[str, str], timeout: float = 30
    ) -> tuple[int, dict[str, Any], float]:
        """POST /v1/chat/completions: (status, JSON body, seconds)."""
        t0 = time.monotonic()
        r = self.send(body, headers, timeout)
        return r.status_code, r.json(), time.monotonic() - t0

    def send(self, body: dict[str, Any], headers: dict[str, str], timeout: float = 30) -> Any:
        """POST /v1/chat/completions: the whole httpx response."""
        return self.http.post(
            self.url + "/v1/chat/completions", json=body, headers=headers, timeout=timeout
        )

    def get(self, path: str, timeout: float = 30) -> tuple[int, bytes]:
        r = self.http.get(self.url + path, timeout=timeout)
        return r.status_code, r.content

    def health_while(self, attack: Callable[[], Any], settle: float = 0.1) -> tuple[float, Any]:
        """Run ``attack`` in a thread and poll ``/health`` until it ends.

        Returns the slowest ``/health`` answer (seconds) and the attack's result.
        """
        out: dict[str, Any] = {}
        th = threading.Thread(target=lambda: out.update(result=attack()))
        th.start()
        time.sleep(settle)
        slowest = 0.0
        while True:
            t0 = time.monotonic()
            status, _ = self.get("/health", timeout=30)
            assert status == 200
            slowest = max(slowest, time.monotonic() - t0)
            if not th.is_alive():
                break
            time.sleep(0.02)
        th.join()
        return slowest, out["result"]


@pytest.fixture
def gateway_process(tmp_path: pathlib.Path) -> Iterator[Callable[..., GatewayProcess]]:
    started: list[GatewayProcess] = []

    def make(settings: dict[str, Any], uvloop: bool = True) -> GatewayProcess:
        g = GatewayProcess(settings, tmp_path, uvloop)
        started.append(g)
        return g

    yield make
    for g in started:
        g.stop()


@pytest.fixture
def upstream() -> Iterator[tuple[MockOpenAI, ServerThread]]:
    mock = MockOpenAI()
    with ServerThread(mock.app) as server:
        yield mock, server


def client_headers(upstream: ServerThread, config: dict[str, Any] | None = None) -> dict[str, str]:
    h = {
        "authorization": f"Bearer {PROVIDER_KEY}",
        "x-portkey-provider": "openai",
        "x-portkey-custom-host": upstream.url + "/v1",
    }
    if config is not None:
        h["x-portkey-config"] = json.dumps(config)
    return h


def chat(text: str) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]}


@pytest.fixture
def sink() -> Iterator[tuple[Sink, ServerThread]]:
    s, server = start_sink()
    yield s, server
    server.stop()
