"""Audit sink: JSON lines to a rotated file or batches to a webhook, never on the request path."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from proxy.observability.audit import RotatingFile
from tests.conftest import PROVIDER_KEY, openai_client
from tests.observability.helpers import scrape, value
from tests.observability.test_metrics import HELLO, MODEL, chain
from tests.servers import ServerThread


def wait_for(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def read_lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text().splitlines() if x]


class Webhook:
    """A collector: records each POSTed batch; can be slow or failing."""

    def __init__(self, delay: float = 0.0, status: int = 200) -> None:
        self.delay = delay
        self.status = status
        self.batches: list[list[dict[str, Any]]] = []
        self.headers: list[dict[str, str]] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/audit", self.post)
        return app

    async def post(self, request: web.Request) -> web.Response:
        self.headers.append(dict(request.headers))
        self.batches.append(await request.json())
        await asyncio.sleep(self.delay)
        return web.Response(status=self.status)


def hook(w: Webhook) -> Iterator[tuple[Webhook, ServerThread]]:
    with ServerThread(w.app) as server:
        yield w, server


@pytest.fixture
def webhook() -> Iterator[tuple[Webhook, ServerThread]]:
    yield from hook(Webhook())


@pytest.fixture
def slow_webhook() -> Iterator[tuple[Webhook, ServerThread]]:
    yield from hook(Webhook(delay=1.0))


def test_file_sink_writes_one_record_per_request(make_gateway, mock_openai, tmp_path) -> None:
    _, upstream = mock_openai
    path = tmp_path / "audit.jsonl"
    audit = {"file": str(path), "flush_interval": 0.05}
    gw = make_gateway({"middleware": chain(), "observability": {"audit": audit}})
    client = openai_client(gw, upstream, x_portkey_metadata='{"team": "a"}')
    ids = [client.chat.completions.with_raw_response.create(model=MODEL, messages=HELLO)]
    with client.chat.completions.create(model=MODEL, messages=HELLO, stream=True) as s:
        list(s)
    wait_for(lambda: len(read_lines(path)) == 2)
    first, second = read_lines(path)
    assert first["trace_id"] == ids[0].headers["x-portkey-trace-id"]
    assert first["status"] == 200 and first["provider"] == "openai" and first["model"] == MODEL
    assert first["usage"]["prompt_tokens"] == 2 and first["cost_usd"] > 0
    assert first["metadata"] == {"team": "a"} and first["ts"].endswith("+00:00")
    assert 0 <= first["overhead_ms"] < first["latency_ms"]
    # the gateway asked the provider for the stream's usage: counted, not estimated
    assert second["stream"] is True and second["usage_estimated"] is False
    assert second["usage"]["completion_tokens"] == 3
    assert second["ttfb_ms"] > 0 and second["overhead_ms"] >= 0
    text = path.read_text()
    assert "hello there" not in text and PROVIDER_KEY not in text  # no bodies unless enabled


def test_bodies_only_when_enabled(make_gateway, mock_openai, tmp_path, logs) -> None:
    _, upstream = mock_openai
    path = tmp_path / "audit.jsonl"
    obs = {"log_bodies": True, "audit": {"file": str(path), "flush_interval": 0.05}}
    gw = make_gateway({"middleware": chain(), "observability": obs})
    client = openai_client(gw, upstream)
    client.chat.completions.create(model=MODEL, messages=HELLO)
    with client.chat.completions.create(model=MODEL, messages=HELLO, stream=True) as s:
        list(s)
    wait_for(lambda: len(read_lines(path)) == 2)
    for rec in read_lines(path):
        assert rec["request_messages"] == HELLO
        assert rec["response_text"] == "echo: hello there"
    lines = [x for x in logs() if x.get("event") == "request"]
    assert lines[-1]["response_text"] == "echo: hello there"


def test_webhook_gets_json_batches(make_gateway, mock_openai, webhook) -> None:
    _, upstream = mock_openai
    w, server = webhook
    audit = {
        "webhook": server.url + "/audit",
        "webhook_headers": {"x-collector-token": "t0k"},
        "batch_size": 3,
        "flush_interval": 0.05,
    }
    gw = make_gateway({"middleware": chain(), "observability": {"audit": audit}})
    client = openai_client(gw, upstream)
    for _ in range(4):
        client.chat.completions.create(model=MODEL, messages=HELLO)
    wait_for(lambda: sum(len(b) for b in w.batches) == 4)
    assert all(1 <= len(b) <= 3 for b in w.batches)
    assert all(h["x-collector-token"] == "t0k" for h in w.headers)
    assert {r["status"] for b in w.batches for r in b} == {200}


def test_slow_or_failing_sink_never_slows_requests(make_gateway, mock_openai, slow_webhook):
    _, upstream = mock_openai
    _, server = slow_webhook
    audit = {
        "webhook": server.url + "/audit",
        "batch_size": 1,
        "queue_size": 2,
        "timeout": 0.3,  # the collector takes 1 s: every POST fails
        "flush_interval": 0.01,
    }
    gw = make_gateway({"middleware": chain(), "observability": {"audit": audit}})
    client = openai_client(gw, upstream)
    client.chat.completions.create(model=MODEL, messages=HELLO)  # warm the connections
    slowest = 0.0
    for _ in range(10):
        t0 = time.perf_counter()
        client.chat.completions.create(model=MODEL, messages=HELLO)
        slowest = max(slowest, time.perf_counter() - t0)
    assert slowest < 0.25  # a 1-second collector would show here if it were on the path
    # the queue holds 2 and the sender is stuck on one: the rest are dropped at once, and
    # the ones it does send fail (timeout): all 11 end up counted, none delayed a request
    wait_for(lambda: value(scrape(gw.url), "gateway_audit_dropped_total") == 11, timeout=5)


def test_rotation_keeps_the_configured_backups(tmp_path) -> None:
    path = tmp_path / "a.jsonl"
    f = RotatingFile(str(path), max_bytes=100, backups=2)
    for i in range(5):
        f.write(f"{i}".encode() * 60 + b"\n")
    f.close()
    assert path.read_bytes().startswith(b"4")
    assert (tmp_path / "a.jsonl.1").read_bytes().startswith(b"3")
    assert (tmp_path / "a.jsonl.2").read_bytes().startswith(b"2")
    assert not (tmp_path / "a.jsonl.3").exists()
