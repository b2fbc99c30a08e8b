"""Streamed uploads: what a retry or a fallback does with them, their size cap, and the
gateway's memory while a large one goes through (measured on a gateway process of its own).

A body streams to the provider as it arrives, so it cannot be sent twice: up to
REPLAY_BYTES it is kept and a second attempt replays it; past that the request gets one
attempt and a fallback answers with the first target's error, saying why.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from aiohttp import web

from proxy.terminal.passthrough import REPLAY_BYTES
from tests.conftest import PROVIDER_KEY
from tests.mock_openai_api import MockOpenAIAPI
from tests.servers import ServerThread, free_port
from tests.test_shutdown import _wait_ready

MB = 1024 * 1024
ROOT = pathlib.Path(__file__).resolve().parent.parent


class Flaky:
    """Reads every byte of a request, then answers 503 for the first ``failures`` ones."""

    def __init__(self, failures: int = 1 << 30) -> None:
        self.failures = failures
        self.seen: list[int] = []
        self.inner = MockOpenAIAPI()

    def app(self) -> web.Application:
        app = self.inner.app()
        app.middlewares.append(self.fail)
        return app

    @web.middleware
    async def fail(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if len(self.seen) < self.failures:
            self.seen.append(len(await request.read()))
            err = {"message": "overloaded", "type": "server_error", "param": None, "code": None}
            return web.json_response({"error": err}, status=503)
        self.seen.append(-1)
        result: web.StreamResponse = await handler(request)
        return result


@pytest.fixture
def api() -> Iterator[tuple[MockOpenAIAPI, ServerThread]]:
    mock = MockOpenAIAPI()
    with ServerThread(mock.app) as server:
        yield mock, server


@pytest.fixture
def flaky() -> Iterator[tuple[Flaky, ServerThread]]:
    f = Flaky()
    with ServerThread(f.app) as server:
        yield f, server


def client(gw: ServerThread, config: dict[str, Any]) -> openai.OpenAI:
    return openai.OpenAI(
        api_key="unused",
        base_url=gw.url + "/v1",
        max_retries=0,
        default_headers={"x-portkey-config": json.dumps(config)},
    )


def fallback(*hosts: str) -> dict[str, Any]:
    targets = [{"provider": "openai", "api_key": PROVIDER_KEY, "custom_host": h} for h in hosts]
    return {"strategy": {"mode": "fallback"}, "targets": targets}


def test_a_small_upload_is_replayed_to_the_fallback(gateway, api, flaky) -> None:
    mock, upstream = api
    bad, bad_server = flaky
    data = os.urandom(REPLAY_BYTES // 2)
    c = client(gateway, fallback(bad_server.url + "/v1", upstream.url + "/v1"))
    r = c.audio.transcriptions.with_raw_response.create(model="whisper-1", file=("a.wav", data))
    assert r.headers["x-portkey-last-used-option-index"] == "config.targets[1]"
    assert bad.seen[0] > len(data)  # the first target read it all
    assert mock.uploads[-1]["sha256"] == hashlib.sha256(data).hexdigest()


def test_a_large_upload_gets_one_attempt(gateway, api, flaky, logs) -> None:
    mock, upstream = api
    bad, bad_server = flaky
    data = os.urandom(3 * REPLAY_BYTES)
    c = client(gateway, fallback(bad_server.url + "/v1", upstream.url + "/v1"))
    with pytest.raises(openai.InternalServerError) as ei:
        c.audio.transcriptions.create(model="whisper-1", file=("a.wav", data))
    err = ei.value.response.json()["error"]
    assert ei.value.status_code == 503 and "overloaded" in err["message"]
    assert "not retried" in err["message"]
    assert mock.uploads == [] and len(bad.seen) == 1


def test_a_large_upload_falls_back_when_nothing_was_sent(gateway, api) -> None:
    """A target that cannot be reached took none of the body: the next one gets it all."""
    mock, upstream = api
    data = os.urandom(3 * REPLAY_BYTES)
    dead = f"http://127.0.0.1:{free_port()}/v1"
    c = client(gateway, fallback(dead, upstream.url + "/v1"))
    c.audio.transcriptions.create(model="whisper-1", file=("a.wav", data))
    assert mock.uploads[-1]["sha256"] == hashlib.sha256(data).hexdigest()


def test_a_retry_replays_a_small_upload(gateway) -> None:
    flaky = Flaky(failures=1)
    with ServerThread(flaky.app) as server:
        config = {
            "provider": "openai",
            "api_key": PROVIDER_KEY,
            "custom_host": server.url + "/v1",
            "retry": {"attempts": 2, "on_status_codes": [503]},
        }
        data = os.urandom(200_000)
        r = client(gateway, config).files.with_raw_response.create(
            file=("b.jsonl", data), purpose="batch"
        )
        assert r.headers["x-portkey-retry-attempt-count"] == "1"
        assert flaky.inner.uploads[-1]["sha256"] == hashlib.sha256(data).hexdigest()


def _chunked(total: int) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        piece = b"\0" * min(256 * 1024, total - sent)
        sent += len(piece)
        yield piece


@pytest.mark.parametrize("with_length", [True, False])
def test_the_upload_cap(make_gateway, api, with_length) -> None:
    mock, upstream = api
    gw = make_gateway({"server": {"max_upload_bytes": 100_000}})
    headers = {
        "authorization": f"Bearer {PROVIDER_KEY}",
        "x-portkey-provider": "openai",
        "x-portkey-custom-host": upstream.url + "/v1",
        "content-type": "application/octet-stream",
    }
    body: Any = b"\0" * 300_000 if with_length else _chunked(300_000)
    r = httpx.post(gw.url + "/v1/echo/upload", content=body, headers=headers, timeout=10)
    assert r.status_code == 413, r.text
    assert r.json()["error"]["code"] == "body_too_large"
    if with_length:
        assert mock.requests == []  # refused on its Content-Length, before any byte went
    else:  # counted as it streamed: the provider got a broken request, never a whole one
        assert all(x["bytes"] <= 100_000 for x in mock.requests if "bytes" in x)


def _peak_rss_kb(pid: int) -> int:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


@pytest.mark.skipif(not pathlib.Path("/proc/self/status").exists(), reason="needs /proc")
def test_memory_stays_flat_during_a_large_upload(api) -> None:
    mock, upstream = api
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "proxy", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "GATEWAY_LOG_LEVEL": "warning"},
    )
    try:
        _wait_ready(port, proc)
        gw = f"http://127.0.0.1:{port}/v1"
        headers = {"x-portkey-provider": "openai", "x-portkey-custom-host": upstream.url + "/v1"}
        c = openai.OpenAI(api_key=PROVIDER_KEY, base_url=gw, default_headers=headers)
        c.audio.transcriptions.create(model="whisper-1", file=("warm.wav", b"x" * MB))
        before = _peak_rss_kb(proc.pid)
        size = 200 * MB
        files = {"file": ("big.wav", _Stream(size), "audio/wav"), "model": (None, "whisper-1")}
        r = httpx.post(
            gw + "/audio/transcriptions",
            files=files,
            headers={**headers, "authorization": f"Bearer {PROVIDER_KEY}"},
            timeout=120,
        )
        assert r.status_code == 200, r.text
        grew_mb = (_peak_rss_kb(proc.pid) - before) / 1024
        print(f"\npeak RSS growth of the gateway during a {size // MB} MB upload: {grew_mb:.1f} MB")
        assert mock.uploads[-1]["size"] == size
        assert grew_mb < 32, f"the gateway's peak RSS grew by {grew_mb:.0f} MB"
    finally:
        proc.terminate()
        proc.wait(15)


class _Stream:
    """A file-like source of ``size`` bytes that httpx streams without knowing its length."""

    def __init__(self, size: int) -> None:
        self.left = size

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        self.left -= n
        return b"\1" * n
