"""Fixtures for the console: a gateway with the console on in front of the mock OpenAI
upstream, helpers for its API, and Debian's headless Chromium driven through Selenium
(chromedriver from the chromium-driver package: the same build as the browser).

The browser is required: in CI (CI=true) a missing chromium fails the tests, since
``make test`` installs it; elsewhere they are skipped with the command to run.
"""

from __future__ import annotations

import json
import os
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SECRETS, GatewayFactory
from tests.mock_openai import MockOpenAI
from tests.servers import ServerThread

SETTINGS_KEY = SECRETS[2]
ADMIN_KEY = "adm-console-key-0004"
GATEWAY_KEY = SECRETS[1]
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "console"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


def console_settings(upstream: str, **console: Any) -> dict[str, Any]:
    """Console on, bodies captured, a settings slug and configs pointing at the mock."""
    host = upstream + "/v1"
    return {
        "console": {"enabled": True, "capture_bodies": True, **console},
        "providers": {"mock": {"provider": "openai", "custom_host": host, "api_key": SETTINGS_KEY}},
        "configs": {
            # a fallback whose first option load-balances two failing targets
            "fallback-lb": {
                "strategy": {"mode": "fallback"},
                "targets": [
                    {
                        "strategy": {"mode": "loadbalance"},
                        "targets": [
                            {
                                "virtual_key": "mock",
                                "weight": 3,
                                "override_params": {"model": "error-500"},
                            },
                            {
                                "virtual_key": "mock",
                                "weight": 1,
                                "override_params": {"model": "error-502"},
                            },
                        ],
                    },
                    {"virtual_key": "mock", "retry": {"attempts": 2}},
                ],
            },
        },
        "middleware": [
            {"class": "middleware.logging:LoggingMiddleware"},
            {"class": "middleware.observability:ObservabilityMiddleware"},
            {"class": "middleware.auth:AuthMiddleware"},
            {
                "class": "middleware.guardrails:GuardrailsMiddleware",
                "options": {
                    "guardrails": {
                        "needs-please": {
                            "checks": [
                                {"id": "default.contains", "parameters": {"words": ["please"]}}
                            ],
                            "deny": True,
                        }
                    }
                },
            },
            {"class": "middleware.cache:CacheMiddleware"},
            {
                "class": "middleware.router:RouterMiddleware",
                "options": {"backoff": {"base_ms": 5, "max_backoff_ms": 10}},
            },
        ],
    }


class Env:
    def __init__(self, gateway: ServerThread, mock: MockOpenAI, upstream: ServerThread) -> None:
        self.gateway = gateway
        self.mock = mock
        self.upstream = upstream

    @property
    def url(self) -> str:
        return self.gateway.url

    def chat(
        self, content: str = "hello", model: str = "gpt-4o-mini", **headers: str
    ) -> tuple[int, dict[str, Any]]:
        """One chat request straight to the gateway; defaults to the mock as custom host."""
        h = {"content-type": "application/json", "authorization": f"Bearer {SECRETS[0]}"}
        if "x-portkey-config" not in headers and not model.startswith("@"):
            h["x-portkey-provider"] = "openai"
            h["x-portkey-custom-host"] = self.upstream.url + "/v1"
        h.update(headers)
        body = {"model": model, "messages": [{"role": "user", "content": content}]}
        return post(self.url + "/v1/chat/completions", body, h)

    def api(self, path: str, body: Any = None, **headers: str) -> tuple[int, Any]:
        h = {"x-gateway-console": "1", **headers}
        if body is None:
            return get(self.url + path, h)
        return post(self.url + path, body, h)


def get(url: str, headers: dict[str, str]) -> tuple[int, Any]:
    return _send(urllib.request.Request(url, headers=headers))  # noqa: S310 - loopback http


def post(url: str, body: Any, headers: dict[str, str]) -> tuple[int, Any]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    h = {"content-type": "application/json", **headers}
    return _send(urllib.request.Request(url, data=data, headers=h, method="POST"))  # noqa: S310


def _send(req: urllib.request.Request) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - loopback http
            raw, status = resp.read(), resp.status
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode("utf-8", "replace")


@pytest.fixture
def mock_upstream() -> Iterator[tuple[MockOpenAI, ServerThread]]:
    mock = MockOpenAI()
    with ServerThread(mock.app) as server:
        yield mock, server


@pytest.fixture
def make_env(make_gateway: GatewayFactory, mock_upstream: tuple[MockOpenAI, ServerThread]) -> Any:
    mock, server = mock_upstream

    def make(env: dict[str, str] | None = None, **overrides: Any) -> Env:
        raw = console_settings(server.url)
        for section, value in overrides.items():
            if isinstance(value, dict) and isinstance(raw.get(section), dict):
                raw[section] = {**raw[section], **value}
            else:
                raw[section] = value
        return Env(make_gateway(raw, env), mock, server)

    return make


@pytest.fixture
def env(make_env: Any) -> Env:
    result: Env = make_env()
    return result


@pytest.fixture(scope="session")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    binary, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not binary or not driver:
        message = (
            "Debian's chromium and chromium-driver are required for the console's browser "
            "tests: `make test` installs them (apt-get install -y chromium chromium-driver)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must never try to download
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    opts = Options()
    opts.binary_location = binary
    for flag in CHROMIUM_FLAGS:
        opts.add_argument(flag)
    opts.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium')}")
    opts.add_argument("--window-size=1400,900")
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    browser = webdriver.Chrome(service=Service(executable_path=driver), options=opts)
    browser.set_page_load_timeout(15)
    browser.set_script_timeout(10)
    try:
        yield browser
    finally:
        browser.quit()


@pytest.fixture
def browser(chromium: Any) -> Iterator[Any]:
    """The session's browser, reset between tests: a fresh tab state and window size."""
    chromium.set_window_size(1400, 900)
    chromium.get("about:blank")
    chromium.get_log("performance")  # drop what earlier tests did
    try:
        yield chromium
    finally:
        chromium.execute_script("try { sessionStorage.clear() } catch (e) {}")
        # leave the console page: its live feed retries forever, and once this test's
        # gateway is gone its port can be a later test's server (a sink saw the retries)
        chromium.get("about:blank")


def screenshot(browser: Any, name: str) -> None:
    """Screenshots for docs/console.md, written only when CONSOLE_SCREENSHOTS=1."""
    if os.environ.get("CONSOLE_SCREENSHOTS") == "1":
        SHOTS.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(SHOTS / f"{name}.png"))
