"""The console's API on a real gateway: rows, details, live feed, health, playground."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from typing import Any

import aiohttp
import msgspec

from proxy.__main__ import dev_defaults
from proxy.settings import parse_settings
from tests.console.conftest import SETTINGS_KEY, Env, get
from tests.servers import free_port


def test_each_request_becomes_a_row_with_its_outcome(env: Env) -> None:
    env.chat("one", **{"x-portkey-trace-id": "t-one"})
    env.chat("two", model="error-503")
    status, data = env.api("/console/api/requests")
    assert status == 200
    failed, ok = data["rows"]  # newest first
    assert ok["trace_id"] == "t-one" and ok["status"] == 200 and ok["provider"] == "openai"
    assert ok["tokens_in"] > 0 and ok["tokens_out"] > 0 and ok["cost"] > 0
    assert ok["endpoint"] == "chat" and ok["latency_ms"] > 0 and ok["cache"] == "DISABLED"
    assert failed["status"] == 503 and failed["error"]
    status, data = env.api("/console/api/requests?status=5xx")
    assert [r["status"] for r in data["rows"]] == [503]


def test_the_detail_of_a_fallback_lists_every_attempt(env: Env) -> None:
    status, _ = env.chat("fb", **{"x-portkey-config": "fallback-lb"})
    assert status == 200
    (row,) = env.api("/console/api/requests")[1]["rows"]
    assert row["attempts"] == 2 and row["index"] == "config.targets[1]" and "retries" not in row
    status, d = env.api(f"/console/api/requests/{row['id']}")
    assert status == 200
    first, second = d["attempts"]
    assert first["config"] == "fallback-lb" and first["option"].startswith("config.targets[0].")
    assert first["status"] in (500, 502) and first["outcome"] != "ok" and first["ms"] >= 0
    assert second == {**second, "option": "config.targets[1]", "status": 200, "outcome": "ok"}
    status, gone = env.api("/console/api/requests/nope")
    assert status == 404 and gone["error"]["code"] == "console_request_gone"


def test_retries_are_counted(make_env: Any) -> None:
    cfg = {"retry": {"attempts": 2, "on_status_codes": [503]},
           "override_params": {"model": "error-503"}}  # fmt: skip
    env = make_env()
    status, _ = env.chat("x", **{"x-portkey-config": json.dumps(
        {**cfg, "provider": "openai", "custom_host": env.upstream.url + "/v1"})})  # fmt: skip
    assert status == 503
    (row,) = env.api("/console/api/requests")[1]["rows"]
    assert row["attempts"] == 3 and row["retries"] == 2


def test_guardrail_results_are_in_the_row_and_the_detail(env: Env) -> None:
    cfg = json.dumps({"provider": "openai", "custom_host": env.upstream.url + "/v1",
                      "input_guardrails": ["needs-please"]})  # fmt: skip
    status, _ = env.chat("no magic word", **{"x-portkey-config": cfg})
    assert status == 446
    (row,) = env.api("/console/api/requests")[1]["rows"]
    assert row["guardrail"] == "deny" and row["status"] == 446
    hooks = env.api(f"/console/api/requests/{row['id']}")[1]["hooks"]
    (hook,) = hooks
    assert hook["phase"] == "input" and hook["id"] == "needs-please" and hook["deny"] is True
    assert hook["checks"][0]["id"] == "default.contains" and hook["checks"][0]["verdict"] is False


async def test_the_live_feed_pushes_new_rows_within_a_second(env: Env) -> None:
    env.chat("before", **{"x-portkey-trace-id": "t-before"})
    headers = {"x-gateway-console": "1"}
    async with (
        aiohttp.ClientSession() as session,
        session.get(env.url + "/console/api/live?provider=openai", headers=headers) as resp,
    ):
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        events = _events(resp)
        assert (await anext(events))[0] == "hello"
        name, backlog = await anext(events)
        assert name == "rows" and [r["trace_id"] for r in backlog["rows"]] == ["t-before"]
        sent = time.monotonic()
        await asyncio.to_thread(env.chat, "now", **{"x-portkey-trace-id": "t-live"})
        name, data = await asyncio.wait_for(anext(events), 1.0)
        assert [r["trace_id"] for r in data["rows"]] == ["t-live"]
        assert time.monotonic() - sent < 1.0


async def _events(resp: aiohttp.ClientResponse) -> Any:
    event = None
    async for line in resp.content:
        text = line.decode().rstrip("\n")
        if text.startswith("event: "):
            event = text[7:]
        elif text.startswith("data: "):
            yield event, json.loads(text[6:])


def test_health_per_provider_and_target(env: Env) -> None:
    for _ in range(4):
        env.chat("ok")
    env.chat("bad", model="error-500")
    env.chat("fb", **{"x-portkey-config": "fallback-lb"})
    status, h = env.api("/console/api/health?window=60")
    assert status == 200 and h["bucket_s"] == 10
    openai = h["providers"]["openai"]
    assert openai["requests"] == 6 and openai["error_rate"] == round(1 / 6, 4)
    assert openai["p50_ms"] > 0 and openai["p95_ms"] >= openai["p50_ms"]
    assert openai["tokens_in"] > 0 and openai["cost_usd"] > 0
    assert len(openai["points"]) == 6 and sum(p[1] for p in openai["points"]) == 6
    ok_target = h["targets"]["fallback-lb/config.targets[1]"]
    assert ok_target["breaker"] == "closed" and ok_target["error_rate"] == 0
    failed = [v for k, v in h["targets"].items() if k.startswith("fallback-lb/config.targets[0].")]
    assert failed and all(t["error_rate"] == 1 for t in failed)


def test_configs_are_listed_with_credentials_masked(make_env: Any) -> None:
    env = make_env(configs={"keyed": {"provider": "openai", "api_key": SETTINGS_KEY,
                                      "virtual_key": "mock"}})  # fmt: skip
    status, data = env.api("/console/api/configs")
    assert status == 200
    assert data["configs"]["keyed"] == {"provider": "openai", "api_key": "********",
                                        "virtual_key": "mock"}  # fmt: skip
    assert SETTINGS_KEY not in json.dumps(data)
    assert data["slugs"] == {"mock": {"provider": "openai", "models": []}}
    assert "openai" in data["providers"]


def test_validation_gives_the_same_error_as_the_api(env: Env) -> None:
    bad = {"strategy": {"mode": "conditional"}, "targets": [{"provider": "openai"}]}
    api_status, api_error = env.chat("x", **{"x-portkey-config": json.dumps(bad)})
    status, error = env.api("/console/api/validate", {"config": bad})
    assert (status, error) == (api_status, api_error) == (400, api_error)
    assert error["error"]["code"] == "invalid_config"
    status, error = env.api("/console/api/validate", {"config": "{not json"})
    assert status == 400 and error == env.chat("x", **{"x-portkey-config": "{not json"})[1]
    assert env.api("/console/api/validate", {"config": "fallback-lb"}) == (
        200, {"valid": True, "config": "fallback-lb", "mode": "fallback"})  # fmt: skip
    status, error = env.api("/console/api/validate", {"config": "missing-id"})
    assert error == env.chat("x", **{"x-portkey-config": "missing-id"})[1]


def test_dry_run_walks_the_tree_and_calls_no_provider(env: Env) -> None:
    calls = env.mock.calls
    status, plan = env.api("/console/api/dryrun", {"config": "fallback-lb"})
    assert status == 200 and plan["routing"] == "config"
    tree = plan["tree"]
    assert tree["mode"] == "fallback" and tree["on_status_codes"] is None
    lb, last = tree["children"]
    assert lb["mode"] == "loadbalance" and [c["share"] for c in lb["children"]] == [0.75, 0.25]
    assert [c["target"]["model"] for c in lb["children"]] == ["error-500", "error-502"]
    assert last["target"]["retries"] == 2 and 503 in last["target"]["retry_on"]
    assert last["target"]["slug"] == "mock" and last["target"]["provider"] == "openai"
    conditional = {
        "strategy": {"mode": "conditional", "default": "small",
                     "conditions": [{"query": {"metadata.tier": "pro"}, "then": "big"}]},
        "targets": [{"name": "big", "provider": "anthropic"},
                    {"name": "small", "provider": "openai", "request_timeout": 5000,
                     "output_guardrails": ["needs-please"]}],
    }  # fmt: skip
    sample = {"model": "gpt-4o", "messages": [], "metadata": {"tier": "pro"}}
    plan = env.api("/console/api/dryrun", {"config": conditional, "request": sample})[1]
    big, small = plan["tree"]["children"]
    assert big["chosen"] is True and big["why"] == "conditions[0] matched"
    assert small["chosen"] is False and small["guardrails"] == {"output": ["needs-please"]}
    sample["metadata"] = {"tier": "free"}
    plan = env.api("/console/api/dryrun", {"config": conditional, "request": sample})[1]
    assert plan["tree"]["children"][1]["chosen"] and plan["tree"]["children"][1]["target"][
        "timeout_ms"] == 5000  # fmt: skip
    unknown = {"virtual_key": "nope"}
    plan = env.api("/console/api/dryrun", {"config": unknown})[1]
    assert plan["tree"]["target"]["error"]["code"] == "unknown_provider"
    plan = env.api("/console/api/dryrun", {"config": "fallback-lb",
                                           "request": {"model": "@mock/gpt-4o"}})[1]  # fmt: skip
    assert plan["routing"] == "slug" and plan["tree"]["target"]["provider"] == "openai"
    assert env.mock.calls == calls


def test_no_settings_file_is_the_dev_proxy_with_its_console_on(monkeypatch: Any) -> None:
    for var in ("GATEWAY_SETTINGS", "GATEWAY_CONSOLE"):
        monkeypatch.delenv(var, raising=False)
    settings = parse_settings({}, {})
    assert settings.console.enabled is False
    assert dev_defaults(settings, None).console.enabled is True
    assert dev_defaults(settings, "settings.yaml").console.enabled is False
    monkeypatch.setenv("GATEWAY_CONSOLE", "0")
    assert dev_defaults(parse_settings({}), None).console.enabled is False
    monkeypatch.setenv("GATEWAY_CONSOLE", "1")
    assert parse_settings({}).console.enabled is True


def test_with_workers_each_answer_says_which_worker(tmp_path: Any) -> None:
    port = free_port()
    env = {**os.environ, "GATEWAY_CONSOLE": "1", "GATEWAY_LOG_LEVEL": "warning"}
    env.pop("GATEWAY_SETTINGS", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "proxy", "--host", "127.0.0.1", "--port", str(port),
         "--workers", "2"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}/console/api/info"
        deadline = time.monotonic() + 20
        pids: set[int] = set()
        while time.monotonic() < deadline and len(pids) < 2:
            try:
                status, info = get(url, {"x-gateway-console": "1"})
            except OSError:
                time.sleep(0.1)
                continue
            assert status == 200 and info["workers"] == 2
            pids.add(info["pid"])
        assert len(pids) == 2  # new connections reach both, and each says who it is
        assert proc.pid not in pids
    finally:
        proc.terminate()
        proc.wait(15)


def test_rows_encode_without_defaults() -> None:
    from proxy.console.record import Row

    row = Row(1, 0.0, "id", "t", "chat", 200, 1.0)
    assert msgspec.json.decode(msgspec.json.encode(row)) == {
        "seq": 1, "ts": 0.0, "id": "id", "trace_id": "t", "endpoint": "chat", "status": 200,
        "latency_ms": 1.0,
    }  # fmt: skip
