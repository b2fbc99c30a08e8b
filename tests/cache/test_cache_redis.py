"""The Redis backend against the real Redis server (db 14, a unique key prefix, cleaned up).

Two gateway processes share one cache; a Redis that dies mid-run degrades to MISS with a log
line and never fails a request; it is picked up again when it comes back.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
import yaml

from tests.cache.conftest import cache_config, chain
from tests.cache.helpers import ask, ask_stream, text_of
from tests.conftest import SECRETS, openai_client
from tests.servers import free_port

pytestmark = pytest.mark.redis

ROOT = Path(__file__).resolve().parents[2]
REDIS_EPHEMERAL = ("--save", "", "--appendonly", "no", "--daemonize", "no")


def _bind(port: int) -> list[str]:
    return ["--host", "127.0.0.1", "--port", str(port)]


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"gateway exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(url + "/ready", timeout=0.5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise AssertionError("gateway did not become ready")


@pytest.fixture
def gateway_process(tmp_path: Path) -> Iterator[object]:
    """Start ``python -m proxy --config <yaml>`` processes on free ports, in parallel."""
    procs: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(*all_settings: dict[str, object]) -> list[str]:
        started = [_spawn(s) for s in all_settings]
        for url, proc, log in started:
            _wait_ready(url, proc, log)
        return [url for url, _, _ in started]

    def _spawn(settings: dict[str, object]) -> tuple[str, subprocess.Popen[bytes], Path]:
        port = free_port()
        config = tmp_path / f"settings-{port}.yaml"
        config.write_text(yaml.safe_dump(settings))
        log = tmp_path / f"gateway-{port}.log"
        env = {**os.environ, "GATEWAY_LOG_FORMAT": "json", "GATEWAY_API_KEYS": ""}
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "proxy", "--config", str(config), *_bind(port)],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        procs.append((proc, log))
        return f"http://127.0.0.1:{port}", proc, log

    yield start
    for proc, log in procs:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        text = log.read_text()
        leaked = [s for s in SECRETS if s in text]
        assert not leaked, f"credentials in a gateway's log: {leaked}"


def test_two_gateway_processes_share_redis(gateway_process, mock_openai, redis_cache) -> None:
    mock, upstream = mock_openai
    settings = {"middleware": chain(redis_cache)}
    a_url, b_url = gateway_process(settings, settings)  # type: ignore[operator]
    config = cache_config(upstream, max_age=60)

    class Gw:
        def __init__(self, url: str) -> None:
            self.url = url

    a = openai_client(Gw(a_url), upstream, x_portkey_config=config)  # type: ignore[arg-type]
    b = openai_client(Gw(b_url), upstream, x_portkey_config=config)  # type: ignore[arg-type]
    first, s1 = ask(a, "shared across replicas")
    second, s2 = ask(b, "shared across replicas")
    chunks, s3 = ask_stream(b, "shared across replicas")
    assert (s1, s2, s3) == ("MISS", "HIT", "HIT")
    assert second.model_dump() == first.model_dump()
    assert text_of(chunks) == "echo: shared across replicas"
    assert mock.calls == 1
    # stored with TTL = max_age, and the stored value holds no credential
    client = redis.Redis.from_url(redis_cache["redis_url"])
    keys = list(client.scan_iter(match=redis_cache["redis_prefix"] + "e:*"))
    assert len(keys) == 1
    assert 0 < client.ttl(keys[0]) <= 60
    value = client.get(keys[0])
    assert value is not None and b"echo: shared across replicas" in value
    assert not any(s.encode() in value for s in SECRETS)
    client.close()


def test_redis_expiry(make_gateway, mock_openai, redis_cache) -> None:
    mock, upstream = mock_openai
    gw = make_gateway({"middleware": chain(redis_cache)})
    client = openai_client(gw, upstream, x_portkey_config=cache_config(upstream, max_age=1))
    assert [ask(client, "ttl")[1], ask(client, "ttl")[1]] == ["MISS", "HIT"]
    time.sleep(1.1)
    assert ask(client, "ttl")[1] == "MISS"
    assert mock.calls == 2


def _start_redis(port: int) -> subprocess.Popen[bytes]:
    exe = shutil.which("redis-server")
    assert exe, "redis-server is needed for this test"
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", *REDIS_EPHEMERAL],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if redis.Redis(port=port, socket_timeout=0.2).ping():
                return proc
        except redis.RedisError:
            time.sleep(0.05)
    proc.kill()
    raise AssertionError("private redis-server did not start")


def test_redis_killed_mid_run_degrades_to_miss(make_gateway, mock_openai, logs) -> None:
    mock, upstream = mock_openai
    port = free_port()
    own = _start_redis(port)
    try:
        options = {"backend": "redis", "redis_url": f"redis://127.0.0.1:{port}/0"}
        gw = make_gateway({"middleware": chain(options)})
        client = openai_client(gw, upstream, x_portkey_config=cache_config(upstream))
        assert [ask(client, "outage")[1], ask(client, "outage")[1]] == ["MISS", "HIT"]
        own.send_signal(signal.SIGKILL)
        own.wait(5)
        t0 = time.monotonic()
        statuses = [ask(client, "outage")[1] for _ in range(5)]
        chunks, stream_status = ask_stream(client, "outage")
        elapsed = time.monotonic() - t0
        assert statuses == ["MISS"] * 5 and stream_status == "MISS"
        assert text_of(chunks) == "echo: outage"
        assert mock.calls == 7
        assert elapsed < 3.0  # short timeouts and back-off: no request waits on a dead Redis
        down = [x for x in logs() if x.get("event") == "cache backend unavailable"]
        assert len(down) == 1 and down[0]["backend"] == "redis"
        # Redis returns: after the back-off the cache works again
        own = _start_redis(port)
        time.sleep(1.1)
        assert [ask(client, "back")[1], ask(client, "back")[1]] == ["MISS", "HIT"]
        assert any(x.get("event") == "cache backend reachable again" for x in logs())
    finally:
        own.kill()
        own.wait(5)
