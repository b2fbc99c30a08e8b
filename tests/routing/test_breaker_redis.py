"""Circuit breaker state in Redis: two gateway processes see the same breakers."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from proxy.routing.breaker import BreakerPolicy
from proxy.routing.breaker_redis import RedisBreakerStore
from proxy.routing.config import CircuitBreakerConfig
from tests.routing.conftest import FAST_BACKOFF, ask, client
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
DB = 13
COOLDOWN_MS = 1500

pytestmark = pytest.mark.redis


class Proc:
    """``python -m proxy`` on a free port, as a real replica would run."""

    def __init__(self, settings: Path, log: Path) -> None:
        self.port = free_port()
        self.log = log.open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "proxy",
                "--config",
                str(settings),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gateway exited with {self.proc.returncode}")
            try:
                with urllib.request.urlopen(self.url + "/ready", timeout=1) as r:  # noqa: S310
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise TimeoutError("gateway did not get ready")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.log.close()


@pytest.fixture
def cb_prefix(redis_url: str) -> Iterator[str]:
    prefix = f"test-routing-{uuid.uuid4().hex[:12]}:"
    yield prefix
    r = redis.Redis.from_url(f"{redis_url}/{DB}")
    keys = list(r.scan_iter(match=prefix + "*"))
    if keys:
        r.delete(*keys)
    r.close()


def test_two_processes_share_one_breaker(tmp_path, upstream, redis_url, cb_prefix) -> None:
    a, b = upstream(503), upstream("ok")
    settings = {
        "logging": {"format": "json", "level": "warning"},
        "middleware": [
            {"class": "middleware.logging:LoggingMiddleware"},
            {
                "class": "middleware.router:RouterMiddleware",
                "options": {
                    "circuit_breaker": {
                        "store": "redis",
                        "redis_url": f"{redis_url}/{DB}",
                        "key_prefix": cb_prefix,
                    },
                    "backoff": FAST_BACKOFF,
                },
            },
        ],
        "configs": {
            "shared": {
                "strategy": {
                    "mode": "fallback",
                    "cb_config": {"failure_threshold": 2, "cooldown_interval": COOLDOWN_MS},
                },
                "targets": [a.target(), b.target()],
            }
        },
    }
    path = tmp_path / "settings.yaml"
    path.write_text(json.dumps(settings))  # JSON is YAML
    procs = [Proc(path, tmp_path / f"gw{i}.log") for i in range(2)]
    try:
        for p in procs:
            p.wait_ready()
        one, two = (client(p.url, "shared") for p in procs)
        ask(one)
        ask(two)
        assert a.calls == 2  # one failure seen by each process: together, two
        r = redis.Redis.from_url(f"{redis_url}/{DB}")
        key = cb_prefix + "id:shared|config.targets[0]"
        assert r.hget(key, "f") == b"2"
        assert r.hget(key, "oa") is not None  # opened
        for c in (one, two, one):
            raw = ask(c)
            assert raw.headers["x-portkey-last-used-option-index"] == "config.targets[1]"
        assert a.calls == 2  # skipped by both processes
        time.sleep(COOLDOWN_MS / 1000 + 0.1)
        ask(two)
        assert a.calls == 3  # one half-open probe (fails: open again)
        ask(one)
        assert a.calls == 3
        a.mock.script = ["ok"]
        time.sleep(COOLDOWN_MS / 1000 + 0.1)
        raw = ask(one)
        assert raw.headers["x-portkey-last-used-option-index"] == "config.targets[0]"
        raw = ask(two)  # closed for the other process too
        assert raw.headers["x-portkey-last-used-option-index"] == "config.targets[0]"
        assert a.calls == 5
        assert r.hget(key, "oa") is None  # closed: counting afresh
        assert r.hget(key, "f") == b"0"
        assert r.pttl(key) > 0  # idle breakers expire on their own
        r.close()
    finally:
        for p in procs:
            p.stop()


def test_unreachable_redis_fails_open() -> None:
    async def run() -> None:
        store = RedisBreakerStore(f"redis://127.0.0.1:{free_port()}/0", "x:", timeout=0.2)
        policy = BreakerPolicy.of(CircuitBreakerConfig(failure_threshold=1))
        await store.record("k", policy, True)
        assert await store.check("k", policy) == "closed"
        await store.close()

    asyncio.run(run())
