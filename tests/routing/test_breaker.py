"""Circuit breakers in process memory: open, skip, half-open probe, close, bypass."""

from __future__ import annotations

import contextlib
import time

import openai
import pytest

from tests.routing.conftest import MESSAGES, access_lines, ask, client, router_settings


def breaker_config(a, b, **cb) -> dict:
    return {
        "strategy": {"mode": "fallback", "cb_config": {"cooldown_interval": 400, **cb}},
        "targets": [a.target(), b.target()],
    }


def test_open_skip_half_open_close(routed, upstream, logs) -> None:
    a, b = upstream(503), upstream("ok")
    c = client(routed, breaker_config(a, b, failure_threshold=2))
    ask(c)
    ask(c)
    assert a.calls == 2  # two failures: the circuit opens
    raw = ask(c)
    assert a.calls == 2  # open: skipped
    assert raw.headers["x-portkey-last-used-option-index"] == "config.targets[1]"
    assert access_lines(logs)[-1]["targets"] == [
        "config.targets[0]:circuit-open",
        "config.targets[1]",
    ]
    time.sleep(0.45)
    ask(c)
    assert a.calls == 3  # half-open probe, which fails: open again
    ask(c)
    assert a.calls == 3
    a.mock.script = ["ok"]
    time.sleep(0.45)
    raw = ask(c)
    assert a.calls == 4  # the probe succeeds: closed
    assert raw.headers["x-portkey-last-used-option-index"] == "config.targets[0]"
    ask(c)
    assert a.calls == 5


def test_failure_rate_with_minimum_requests(routed, upstream) -> None:
    a, b = upstream("ok", 503, "ok", 503, "ok"), upstream("ok")
    c = client(routed, breaker_config(a, b, failure_threshold_percentage=50, minimum_requests=4))
    for _ in range(4):
        ask(c)
    assert a.calls == 4
    ask(c)
    assert a.calls == 4  # 2 of 4 failed: 50 %, open


def test_only_failure_status_codes_count(routed, upstream) -> None:
    a, b = upstream(429), upstream("ok")
    c = client(routed, breaker_config(a, b, failure_threshold=1))
    for _ in range(3):
        ask(c)
    assert a.calls == 3  # default: only 5xx, timeouts and connection failures count
    a2 = upstream(429)
    c = client(routed, breaker_config(a2, b, failure_threshold=1, failure_status_codes=[429]))
    ask(c)
    ask(c)
    assert a2.calls == 1


def test_all_open_bypasses_the_breaker(routed, upstream) -> None:
    a, b = upstream(503), upstream(500)
    c = client(routed, breaker_config(a, b, failure_threshold=1))
    with pytest.raises(openai.InternalServerError):
        ask(c)
    assert (a.calls, b.calls) == (1, 1)
    b.mock.script = ["ok"]
    raw = ask(c)  # both open: tried anyway, in order
    assert (a.calls, b.calls) == (2, 2)
    assert raw.headers["x-portkey-last-used-option-index"] == "config.targets[1]"


def test_loadbalance_skips_open_targets(make_gateway, upstream) -> None:
    routed = make_gateway(router_settings(seed=3))  # seeded: target 0 is drawn early
    a, b = upstream(503), upstream("ok")
    config = {
        "strategy": {
            "mode": "loadbalance",
            "cb_config": {"failure_threshold": 1, "cooldown_interval": 60000},
        },
        "targets": [a.target(weight=1), b.target(weight=1)],
    }
    c = client(routed, config)
    for _ in range(12):
        with contextlib.suppress(openai.InternalServerError):
            ask(c)
    assert a.calls == 1  # once open, never drawn again
    assert b.calls == 11


def test_breaker_inherited_into_nested_fallback(routed, upstream) -> None:
    a, b = upstream(503), upstream("ok")
    config = {
        "cb_config": {"failure_threshold": 1, "cooldown_interval": 60000},
        "targets": [{"strategy": {"mode": "fallback"}, "targets": [a.target(), b.target()]}],
    }
    c = client(routed, config)
    ask(c)
    ask(c)
    assert (a.calls, b.calls) == (1, 2)


def test_a_stream_that_breaks_after_its_first_chunk_counts_as_a_failure(routed, upstream) -> None:
    a, b = upstream("break"), upstream("ok")
    c = client(routed, breaker_config(a, b, failure_threshold=2))
    for _ in range(2):
        with contextlib.suppress(openai.APIError):  # the error reaches the client mid-stream
            list(c.chat.completions.create(model="m", messages=MESSAGES, stream=True))
    assert a.calls == 2
    chunks = list(c.chat.completions.create(model="m", messages=MESSAGES, stream=True))
    assert a.calls == 2 and b.calls == 1  # open: the broken target is skipped
    assert chunks[-1].choices[0].finish_reason == "stop"
