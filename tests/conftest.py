"""Shared fixtures: real gateway and mock upstream servers on loopback ports.

Every log line of the whole run goes to one in-memory sink (structlog caches its loggers,
so it is configured once); tests read the lines they caused, and a session-end check scans
every line for the credentials the tests used.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import openai
import pytest

from proxy.app import create_app
from proxy.logsetup import configure_logging
from proxy.settings import LoggingSettings, Settings, parse_settings
from tests.mock_openai import MockOpenAI
from tests.servers import ServerThread

# credentials used by the tests; none may ever appear in a log line or an error body
SECRETS = [
    "sk-test-provider-key-0001",
    "gw-test-key-0002",
    "sk-settings-key-0003",
    # the gateway's own AWS identity in tests/providers/bedrock/test_credentials.py
    "gateway-base-secret-0005",
    "gateway-profile-secret-0006",
    "container-auth-token-0007",
]
# the fakes add what they issue as they run: Google access tokens, lines of the test
# service-account keys, AWS temporary keys and session tokens (tests/providers/*/fake_*.py)
PROVIDER_KEY = SECRETS[0]


class LogSink(io.RawIOBase):
    """A thread-safe binary stream keeping every line written to it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.lines: list[bytes] = []
        self._partial = b""

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        b = bytes(data)
        with self.lock:
            buf = self._partial + b
            *done, self._partial = buf.split(b"\n")
            self.lines.extend(done)
        return len(b)

    def mark(self) -> int:
        with self.lock:
            return len(self.lines)

    def since(self, mark: int) -> list[dict[str, Any]]:
        with self.lock:
            lines = self.lines[mark:]
        return [json.loads(line) for line in lines if line.startswith(b"{")]


LOGS = LogSink()
configure_logging(LoggingSettings(level="debug", format="json"), stream=LOGS)  # type: ignore[arg-type]


@pytest.fixture(scope="session", autouse=True)
def _no_secret_in_logs() -> Iterator[None]:
    yield
    with LOGS.lock:
        text = b"\n".join(LOGS.lines).decode("utf-8", "replace")
    leaked = [s for s in SECRETS if s in text]
    assert not leaked, f"credentials leaked into the logs: {leaked}"


@pytest.fixture
def logs() -> Callable[[], list[dict[str, Any]]]:
    """Call it to get the JSON log lines written since the test started."""
    mark = LOGS.mark()
    return lambda: LOGS.since(mark)


@pytest.fixture
def mock_openai() -> Iterator[tuple[MockOpenAI, ServerThread]]:
    mock = MockOpenAI()
    with ServerThread(mock.app) as server:
        yield mock, server


GatewayFactory = Callable[..., ServerThread]


@pytest.fixture
def make_gateway() -> Iterator[GatewayFactory]:
    started: list[ServerThread] = []

    def make(raw: dict[str, Any] | None = None, env: dict[str, str] | None = None) -> ServerThread:
        settings: Settings = parse_settings(raw or {}, env or {})
        server = ServerThread(lambda: create_app(settings)).start()
        started.append(server)
        return server

    yield make
    for s in started:
        s.stop()


@pytest.fixture
def gateway(make_gateway: GatewayFactory) -> ServerThread:
    return make_gateway()


def openai_client(
    gateway: ServerThread, upstream: ServerThread | None = None, **headers: str
) -> openai.OpenAI:
    default = {"x-portkey-provider": "openai"}
    if upstream is not None:
        default["x-portkey-custom-host"] = upstream.url + "/v1"
    default.update({k.replace("_", "-"): v for k, v in headers.items()})
    return openai.OpenAI(
        api_key=PROVIDER_KEY, base_url=gateway.url + "/v1", default_headers=default, max_retries=0
    )


def async_openai_client(
    gateway: ServerThread, upstream: ServerThread, **headers: str
) -> openai.AsyncOpenAI:
    default = {"x-portkey-provider": "openai", "x-portkey-custom-host": upstream.url + "/v1"}
    default.update({k.replace("_", "-"): v for k, v in headers.items()})
    return openai.AsyncOpenAI(
        api_key=PROVIDER_KEY, base_url=gateway.url + "/v1", default_headers=default, max_retries=0
    )


REDIS_URL = "redis://127.0.0.1:6379"  # tests append their own db number: f"{redis_url}/14"


@pytest.fixture
def redis_url() -> str:
    """The shared Redis server. In CI (CI=true) a missing Redis fails the test, never skips it."""
    import os
    import socket

    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            pass
    except OSError:
        if os.environ.get("CI") == "true":
            pytest.fail("Redis on 127.0.0.1:6379 is required in CI and is not reachable")
        pytest.skip("no Redis on 127.0.0.1:6379")
    return REDIS_URL


POSTGRES_DSN = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture
def postgres_url() -> str:
    """The shared PostgreSQL server (trust auth, database ``test``). In CI (CI=true) a
    missing PostgreSQL fails the test, never skips it."""
    import os
    import socket

    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            pass
    except OSError:
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL on 127.0.0.1:5432 is required in CI and is not reachable")
        pytest.skip("no PostgreSQL on 127.0.0.1:5432")
    return POSTGRES_DSN
