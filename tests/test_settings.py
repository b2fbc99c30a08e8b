"""Settings: defaults with no file, env overrides, ${VAR} references, field-named errors."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import time
import urllib.request

import pytest

from proxy.app import create_app
from proxy.pipeline import SettingsError
from proxy.settings import load_settings, parse_settings
from tests.servers import free_port

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_defaults_without_a_file() -> None:
    s = load_settings(None, env={})
    assert (s.server.host, s.server.port, s.server.workers) == ("0.0.0.0", 8787, 1)
    assert [m.cls for m in s.middleware][-1] == "middleware.router:RouterMiddleware"


def test_env_overrides_and_references(tmp_path: pathlib.Path) -> None:
    f = tmp_path / "s.yaml"
    f.write_text(
        "server: {port: 9000}\n"
        "providers:\n"
        "  p: {provider: openai, api_key: '${MY_KEY}', custom_host: '${HOST:-http://h/v1}'}\n"
    )
    env = {"MY_KEY": "k1", "GATEWAY_PORT": "9100", "GATEWAY_CUSTOM_HOSTS_ALLOW": "a.b, 10.0.0.0/8"}
    s = load_settings(str(f), env=env)
    assert s.server.port == 9100  # env beats the file
    assert s.providers["p"].api_key == "k1"
    assert s.providers["p"].custom_host == "http://h/v1"
    assert s.custom_hosts.allow == ["a.b", "10.0.0.0/8"]
    s2 = load_settings(None, env={"GATEWAY_SETTINGS": str(f), "MY_KEY": "k2"})
    assert s2.server.port == 9000 and s2.providers["p"].api_key == "k2"


@pytest.mark.parametrize(
    ("raw", "env", "field"),
    [
        ({"server": {"prot": 1}}, {}, "server"),
        ({"server": {"port": "eighty"}}, {}, "server.port"),
        ({"server": {"port": 70000}}, {}, "server.port"),
        ({"server": {"workers": 0}}, {}, "server.workers"),
        ({"logging": {"level": "loud"}}, {}, "logging.level"),
        ({"providers": {"p": {"api_key": "x"}}}, {}, "providers.p"),
        ({"providers": {"p": {"provider": "openai", "api_key": "${NOPE}"}}}, {}, "NOPE"),
        ({}, {"GATEWAY_PORT": "x"}, "GATEWAY_PORT"),
        ({"default_config": "missing"}, {}, "default_config"),
        ({"middleware": [{"clas": "x"}]}, {}, "middleware[0]"),
    ],
)
def test_invalid_settings_name_the_field(raw, env, field) -> None:
    with pytest.raises(SettingsError) as info:
        parse_settings(raw, env)
    assert field in str(info.value)


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"middleware": [{"class": "no.such.module:X"}]}, "middleware[0].class"),
        ({"middleware": [{"class": "proxy.settings:Nope"}]}, "middleware[0].class"),
        (
            {"middleware": [{"class": "middleware.auth:AuthMiddleware", "options": {"kyes": []}}]},
            "middleware[0].options",
        ),
        (
            {
                "middleware": [
                    {"class": "middleware.auth:AuthMiddleware", "options": {"keys": ["sha256:zz"]}}
                ]
            },
            "middleware[0].options",
        ),
        ({"providers": {"p": {"provider": "nonexistent"}}}, "providers.p.provider"),
        ({"configs": {"c": {"strategy": {"mode": "fallback"}}}}, "configs.c"),
    ],
)
def test_invalid_plugins_fail_at_start_up(raw, field) -> None:
    with pytest.raises(SettingsError) as info:
        create_app(parse_settings(raw, {}))
    assert field in str(info.value)


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "proxy", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, **(env or {})},
    )


def test_cli_rejects_invalid_settings_file(tmp_path: pathlib.Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text("upstream: {connect_timeout: -1}\n")
    result = _run("--config", str(f))
    assert result.returncode == 2
    assert "upstream.connect_timeout" in result.stderr
    assert "Traceback" not in result.stderr
    gr = tmp_path / "guardrail.yaml"  # checked by the guardrails middleware at start-up
    gr.write_text(
        "configs:\n  c1:\n    provider: openai\n"
        "    input_guardrails: [{default.wordCount: {minWrods: 3}, deny: true}]\n"
    )
    result = _run("--check", "--config", str(gr))
    assert result.returncode == 2 and "minWrods" in result.stderr
    ok = tmp_path / "ok.yaml"
    ok.write_text("server: {port: 8787}\n")
    assert _run("--check", "--config", str(ok)).stdout.strip() == "settings OK"


def test_cli_starts_with_no_settings_and_serves_health() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "proxy", "--port", str(port), "--host", "127.0.0.1"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={k: v for k, v in os.environ.items() if k != "GATEWAY_SETTINGS"},
    )
    try:
        start = time.monotonic()
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=1) as r:
                    assert r.status == 200
                    break
            except OSError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() - start < 15, "gateway did not start"
                time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait(15)
    assert proc.returncode == 0


def test_providers_named_in_settings_are_warmed_before_ready() -> None:
    """A bedrock entry makes start-up import botocore, so the first request does not."""
    code = (
        "import asyncio, sys\n"
        "from aiohttp import web\n"
        "from proxy.app import create_app\n"
        "from proxy.settings import parse_settings\n"
        "s = parse_settings({'providers': {'b': {'provider': 'bedrock'}}}, {})\n"
        "assert 'botocore.auth' not in sys.modules\n"
        "async def main():\n"
        "    r = web.AppRunner(create_app(s)); await r.setup(); await r.cleanup()\n"
        "asyncio.run(main())\n"
        "print('botocore.auth' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert out.stdout.strip() == "True", out.stderr
