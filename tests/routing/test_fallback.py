"""Fallback across targets: status codes, resets, timeouts, headers and logs of every try."""

from __future__ import annotations

import time

import openai
import pytest

from tests.routing.conftest import access_lines, ask, client


def test_three_providers_keep_answering_while_two_fail(routed, upstream, logs) -> None:
    down = upstream(503, name="openai-up")
    cut = upstream("reset", name="groq-up")
    good = upstream("ok", name="together-up")
    config = {
        "strategy": {"mode": "fallback"},
        "targets": [down.target("openai"), cut.target("groq"), good.target("together-ai")],
    }
    c = client(routed, config)
    for i in range(3):
        raw = ask(c)
        answer = raw.parse()
        assert answer.choices[0].message.content == "together-up: hello"
        assert raw.headers["x-portkey-last-used-option-index"] == "config.targets[2]"
        assert raw.headers["x-portkey-provider"] == "together-ai"
        assert raw.headers["x-portkey-retry-attempt-count"] == "0"
        assert (down.calls, cut.calls, good.calls) == (i + 1, i + 1, i + 1)
    lines = access_lines(logs)
    assert len(lines) == 3
    for line in lines:
        assert line["status"] == 200
        assert line["attempts"] == 3
        assert line["provider"] == "together-ai"
        assert line["targets"] == ["config.targets[0]", "config.targets[1]", "config.targets[2]"]
    failed = [x for x in logs() if x.get("event") == "upstream attempt failed"]
    assert [(x["index"], x["provider"], x["status"]) for x in failed[:2]] == [
        ("config.targets[0]", "openai", 503),
        ("config.targets[1]", "groq", 502),
    ]


def test_on_status_codes_limit_fallback(routed, upstream) -> None:
    first = upstream(400)
    second = upstream("ok")
    config = {
        "strategy": {"mode": "fallback", "on_status_codes": [429, 503]},
        "targets": [first.target(), second.target()],
    }
    with pytest.raises(openai.BadRequestError) as info:
        ask(client(routed, config))
    assert info.value.response.headers["x-portkey-last-used-option-index"] == "config.targets[0]"
    assert second.calls == 0
    # a connection failure falls back whatever on_status_codes says
    cut = upstream("reset")
    config["targets"] = [cut.target(), second.target()]
    assert ask(client(routed, config)).headers["x-portkey-last-used-option-index"].endswith("[1]")
    assert second.calls == 1


def test_all_targets_fail_returns_last_error_with_headers(routed, upstream) -> None:
    a, b = upstream(500), upstream(429)
    config = {"strategy": {"mode": "fallback"}, "targets": [a.target(), b.target()]}
    with pytest.raises(openai.RateLimitError) as info:
        ask(client(routed, config))
    err = info.value
    assert err.status_code == 429
    assert err.response.headers["x-portkey-last-used-option-index"] == "config.targets[1]"
    assert err.body["code"] == "scripted_429"


def test_request_timeout_falls_back_then_408(routed, upstream) -> None:
    slow = upstream("hang")
    good = upstream("ok")
    config = {
        "strategy": {"mode": "fallback"},
        "request_timeout": 300,
        "targets": [slow.target(), good.target()],
    }
    t0 = time.monotonic()
    raw = ask(client(routed, config))
    assert raw.headers["x-portkey-last-used-option-index"] == "config.targets[1]"
    assert 0.25 < time.monotonic() - t0 < 3
    # nothing else answers: 408 timeout_error, as Portkey
    config["targets"] = [slow.target(), upstream(("slow", 5)).target()]
    with pytest.raises(openai.APIStatusError) as info:
        ask(client(routed, config))
    assert info.value.status_code == 408
    assert info.value.body["type"] == "timeout_error"
    assert info.value.body["code"] == "request_timeout"


def test_timeout_header_applies_to_every_target(routed, upstream) -> None:
    slow = upstream(("slow", 5))
    good = upstream("ok")
    config = {"strategy": {"mode": "fallback"}, "targets": [slow.target(), good.target()]}
    raw = ask(client(routed, config, x_portkey_request_timeout="250"))
    assert raw.headers["x-portkey-last-used-option-index"] == "config.targets[1]"


def test_each_attempt_starts_from_the_clients_body(routed, upstream) -> None:
    first = upstream(503)
    second = upstream("ok")
    config = {
        "strategy": {"mode": "fallback"},
        "targets": [
            first.target(override_params={"model": "gpt-4o", "temperature": 0.1}),
            second.target(override_params={"max_tokens": 7}),
        ],
    }
    ask(client(routed, config), model="gpt-4o-mini", temperature=0.9)
    sent_first = first.mock.requests[0]["json"]
    sent_second = second.mock.requests[0]["json"]
    assert (sent_first["model"], sent_first["temperature"]) == ("gpt-4o", 0.1)
    assert sent_second["model"] == "gpt-4o-mini"
    assert sent_second["temperature"] == 0.9
    assert sent_second["max_tokens"] == 7
    assert "max_tokens" not in sent_first


def test_nested_fallback_holds_a_loadbalancer(routed, upstream) -> None:
    a, b, c = upstream(503), upstream(502), upstream("ok")
    config = {
        "strategy": {"mode": "fallback"},
        "targets": [
            {
                "strategy": {"mode": "loadbalance"},
                "targets": [a.target(weight=1), b.target(weight=1)],
            },
            c.target(),
        ],
    }
    raw = ask(client(routed, config))
    assert raw.headers["x-portkey-last-used-option-index"] == "config.targets[1]"
    assert a.calls + b.calls == 1
    # the inner node's answer names its own leaf
    config["targets"][0]["targets"] = [c.target(weight=0), c.target(weight=2)]
    raw = ask(client(routed, config))
    assert raw.headers["x-portkey-last-used-option-index"] == "config.targets[0].targets[1]"
