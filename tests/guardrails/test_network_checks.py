"""Webhook, log and async guardrails against a real hook server on loopback."""

from __future__ import annotations

import json
import time
from typing import Any

import openai
import pytest

from tests.guardrails.conftest import Env, guard


def hook(env: Env, mode: str, deny: bool = True, **params: Any) -> dict[str, Any]:
    return guard("default.webhook", {"webhookURL": f"{env.hooks_url}/hook/{mode}", **params}, deny)


def wait_for(pred: Any, seconds: float = 3.0) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.02)
    return pred()


def test_webhook_pass_and_payload(env: Env) -> None:
    cfg = {"input_guardrails": [hook(env, "pass", headers={"x-hook-token": "t0k"})]}
    status, body = env.chat("hello hook", cfg, x_portkey_metadata='{"user": "ann"}')
    assert status == 200
    check = body["hook_results"]["before_request_hooks"][0]["checks"][0]
    assert check["verdict"] is True and check["data"]["webhook_data"] == {"reason": "fine"}
    path, sent, headers = env.hooks.received[-1]
    assert path == "/hook/pass" and headers["x-hook-token"] == "t0k"
    assert sent["eventType"] == "beforeRequestHook" and sent["requestType"] == "chatComplete"
    assert sent["request"]["text"] == "hello hook"
    assert sent["request"]["json"]["messages"] == [{"role": "user", "content": "hello hook"}]
    assert sent["metadata"] == {"user": "ann"}


def test_webhook_fail_denies_before_upstream(env: Env) -> None:
    before = env.mock.calls
    with pytest.raises(openai.APIStatusError) as ei:
        env.chat("hi", {"input_guardrails": [hook(env, "fail")]})
    assert ei.value.status_code == 446
    assert env.mock.calls == before


@pytest.mark.parametrize("mode", ["slow", "error", "garbage", "noverdict"])
def test_failing_webhook_is_fail_open_by_default(env: Env, mode: str) -> None:
    t0 = time.monotonic()
    status, body = env.chat("hi", {"input_guardrails": [hook(env, mode, timeout=200)]})
    assert status == 200
    check = body["hook_results"]["before_request_hooks"][0]["checks"][0]
    assert check["verdict"] is True and check["error"]["message"].startswith("webhook ")
    assert "failing open" in check["data"]["explanation"]
    assert time.monotonic() - t0 < 1.5  # the 200 ms timeout held, not the 2 s sleep


def test_failing_webhook_fail_closed_denies(env: Env) -> None:
    before = env.mock.calls
    cfg = {"input_guardrails": [hook(env, "slow", timeout=150, failOnError=True)]}
    with pytest.raises(openai.APIStatusError) as ei:
        env.chat("hi", cfg)
    check = ei.value.response.json()["hook_results"]["before_request_hooks"][0]["checks"][0]
    assert check["error"]["message"] == "webhook timed out after 150 ms"
    assert env.mock.calls == before


def test_webhook_transforms_the_request(env: Env) -> None:
    status, body = env.chat("my secret plan", {"input_guardrails": [hook(env, "transform")]})
    assert status == 200
    assert env.mock.requests[-1]["json"]["messages"][0]["content"] == "[scrubbed by webhook]"
    assert body["hook_results"]["before_request_hooks"][0]["transformed"] is True


def test_webhook_on_output_sees_and_replaces_the_answer(env: Env) -> None:
    status, body = env.chat("q", {"output_guardrails": [hook(env, "transform-out")]})
    assert status == 200
    assert body["choices"][0]["message"]["content"] == "[answer replaced]"
    sent = env.hooks.received[-1][1]
    assert sent["eventType"] == "afterRequestHook"
    assert sent["response"]["text"] == "echo: q" and sent["response"]["statusCode"] == 200
    assert sent["request"]["text"] == "q"


def test_log_check_posts_sibling_results(env: Env) -> None:
    cfg = {
        "output_guardrails": [
            {
                "id": "audit",
                "checks": [
                    {"id": "default.log", "parameters": {"logURL": f"{env.hooks_url}/log"}},
                    {"id": "default.wordCount", "parameters": {"maxWords": 1}},
                ],
            }
        ]
    }
    status, _ = env.chat("two words", cfg)
    assert status == 246  # the word count failed; the log check itself always passes
    logged = env.hooks.bodies("/log")[-1]
    assert [r["id"] for r in logged["results"]] == ["default.wordCount"]
    assert logged["results"][0]["verdict"] is False
    assert logged["response"]["text"] == "echo: two words"


def test_async_guardrail_does_not_hold_or_deny(env: Env, logs) -> None:
    before = env.mock.calls
    cfg = {"input_guardrails": [{**hook(env, "slow"), "async": True, "id": "bg-check"}]}
    env.hooks.slow_seconds = 0.4
    t0 = time.monotonic()
    status, body = env.chat("hi", cfg)
    elapsed = time.monotonic() - t0
    assert status == 200 and "hook_results" not in body  # nothing synchronous ran
    assert elapsed < 0.35 and env.mock.calls == before + 1
    line = wait_for(
        lambda: [
            x
            for x in logs()
            if x.get("event") == "guardrails" and x["results"][0]["id"] == "bg-check"
        ]
    )
    assert line and line[-1]["verdict"] is True


def test_async_failing_deny_guardrail_only_logs(env: Env, logs) -> None:
    cfg = {
        "output_guardrails": [
            {**guard("default.contains", {"words": ["zzz"]}, deny=True), "async": True}
        ]
    }
    status, _ = env.chat("hi", cfg)
    assert status == 200
    line = wait_for(
        lambda: [x for x in logs() if x.get("event") == "guardrails" and x["phase"] == "output"]
    )
    assert line[-1]["verdict"] is False and line[-1]["denied"] is True


def test_shutdown_cancels_pending_async_guardrails(env_factory: Any) -> None:
    e = env_factory()
    e.hooks.slow_seconds = 30
    cfg = {"input_guardrails": [{**hook(e, "slow", timeout=30000), "async": True}]}
    assert e.chat("hi", cfg)[0] == 200
    assert wait_for(lambda: e.hooks.bodies("/hook/slow"))
    from middleware.guardrails import GuardrailsMiddleware
    from proxy.app import GATEWAY

    assert e.gateway.app is not None
    mws = e.gateway.app[GATEWAY].middlewares
    mw = next(m for m in mws if isinstance(m, GuardrailsMiddleware))
    tasks = list(mw._tasks)
    assert len(tasks) == 1 and not tasks[0].done()  # still waiting on the 30 s webhook
    t0 = time.monotonic()
    e.gateway.stop()
    assert time.monotonic() - t0 < 5
    assert tasks[0].cancelled() and not mw._tasks
    e.gateway.stop = lambda: None  # already stopped; the fixture's teardown skips it


def test_client_webhook_must_pass_the_egress_policy(env_factory: Any) -> None:
    e = env_factory()
    # a fresh gateway whose custom-host allow-list holds only the upstream's address
    from proxy.app import create_app
    from proxy.settings import parse_settings
    from tests.guardrails.conftest import settings
    from tests.servers import ServerThread

    raw = settings(e.hooks_url)
    raw["custom_hosts"] = {"allow": ["127.0.0.1"]}
    raw["middleware"][1]["options"]["guardrails"]["trusted-hook"] = {
        "checks": [
            {
                "id": "default.webhook",
                "parameters": {"webhookURL": f"http://localhost:{e.hook_server.port}/hook/pass"},
            }
        ]
    }
    gw = ServerThread(lambda: create_app(parse_settings(raw, {}))).start()
    try:
        e.gateway = gw
        bad = {
            "input_guardrails": [
                guard(
                    "default.webhook",
                    {"webhookURL": f"http://localhost:{e.hook_server.port}/hook/pass"},
                )
            ]
        }
        with pytest.raises(openai.PermissionDeniedError) as ei:
            e.chat("hi", bad)
        assert "input_guardrails[0]" in ei.value.message
        # the same URL from settings is the operator's choice and is trusted
        assert e.chat("hi", {"input_guardrails": ["trusted-hook"]})[0] == 200
    finally:
        gw.stop()


def test_webhook_payload_is_json_of_the_request(env: Env) -> None:
    cfg = {"input_guardrails": [hook(env, "pass")]}
    env.client(cfg).chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "x"}],
        temperature=0.2,
        extra_body={"vendor_field": 1},
    )
    sent = env.hooks.received[-1][1]["request"]["json"]
    assert sent["temperature"] == 0.2 and sent["vendor_field"] == 1
    assert json.dumps(sent)  # plain JSON all the way down


def test_stream_output_webhook_in_buffered_mode(env: Env) -> None:
    client = env.client({"output_guardrails": [hook(env, "transform-out")]})
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "tell"}], stream=True
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "[answer replaced]"
    sent = env.hooks.received[-1][1]
    assert sent["request"]["isStreamingRequest"] is True
    assert sent["response"]["text"] == "echo: tell"
    with pytest.raises(openai.APIStatusError) as ei:
        list(
            env.client({"output_guardrails": [hook(env, "fail")]}).chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}], stream=True
            )
        )
    assert ei.value.status_code == 446
