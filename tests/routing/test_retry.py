"""Retries of one target: backoff, provider hints, status codes, the cap of five."""

from __future__ import annotations

import openai
import pytest

from tests.routing.conftest import access_lines, ask, client, router_settings


def test_retries_until_success_and_counts_them(routed, upstream, logs) -> None:
    up = upstream(503, 500, "ok")
    raw = ask(client(routed, {"retry": {"attempts": 3}, **up.target()}))
    assert raw.parse().choices[0].message.content.endswith("hello")
    assert raw.headers["x-portkey-retry-attempt-count"] == "2"
    assert raw.headers["x-portkey-last-used-option-index"] == "config"
    assert up.calls == 3
    (line,) = access_lines(logs)
    assert line["attempts"] == 3
    assert line["targets"] == ["config", "config", "config"]


def test_retry_after_ms_is_honoured(routed, upstream) -> None:
    up = upstream(
        ("status", 429, {"retry-after-ms": "400"}),
        ("status", 503, {"x-ms-retry-after-ms": "300"}),
        "ok",
    )
    ask(client(routed, {"retry": {"attempts": 2}, **up.target()}))
    t = up.mock.times
    assert t[1] - t[0] >= 0.39
    assert t[2] - t[1] >= 0.29


def test_retry_after_seconds_and_opt_out(routed, upstream) -> None:
    up = upstream(("status", 429, {"retry-after": "1"}), "ok")
    ask(client(routed, {"retry": {"attempts": 1}, **up.target()}))
    assert up.mock.times[1] - up.mock.times[0] >= 0.99
    # use_retry_after_headers: false -> our own (millisecond) backoff instead
    up = upstream(("status", 429, {"retry-after": "5"}), "ok")
    ask(client(routed, {"retry": {"attempts": 1, "use_retry_after_headers": False}, **up.target()}))
    assert up.mock.times[1] - up.mock.times[0] < 1


def test_hint_past_the_wait_budget_ends_retries(routed, upstream) -> None:
    up = upstream(("status", 429, {"retry-after": "120"}), "ok")
    with pytest.raises(openai.RateLimitError) as info:
        ask(client(routed, {"retry": {"attempts": 3}, **up.target()}))
    assert up.calls == 1
    assert info.value.response.headers["retry-after"] == "120"


def test_only_configured_codes_retry(routed, upstream) -> None:
    up = upstream(400, "ok")
    with pytest.raises(openai.BadRequestError):
        ask(client(routed, {"retry": {"attempts": 3}, **up.target()}))
    assert up.calls == 1
    up = upstream(400, "ok")
    ask(client(routed, {"retry": {"attempts": 3, "on_status_codes": [400]}, **up.target()}))
    assert up.calls == 2


def test_attempts_cap_is_enforced(routed, upstream) -> None:
    up = upstream(503)
    with pytest.raises(openai.BadRequestError) as info:
        ask(client(routed, {"retry": {"attempts": 6}, **up.target()}))
    assert "retry.attempts" in info.value.body["message"]
    assert up.calls == 0
    with pytest.raises(openai.InternalServerError) as err:
        ask(client(routed, {"retry": {"attempts": 5}, **up.target()}))
    assert up.calls == 6  # the first try and five retries, no more
    assert err.value.response.headers["x-portkey-retry-attempt-count"] == "5"


def test_retry_then_fallback_with_inherited_retry(routed, upstream) -> None:
    a = upstream(503)
    b = upstream(503, "ok")
    config = {
        "strategy": {"mode": "fallback"},
        "retry": {"attempts": 1},
        "targets": [a.target(), b.target()],
    }
    raw = ask(client(routed, config))
    assert (a.calls, b.calls) == (2, 2)
    assert raw.headers["x-portkey-last-used-option-index"] == "config.targets[1]"
    assert raw.headers["x-portkey-retry-attempt-count"] == "1"


def test_connection_reset_is_retried(routed, upstream) -> None:
    up = upstream("reset", "ok")
    raw = ask(client(routed, {"retry": {"attempts": 2}, **up.target()}))
    assert raw.headers["x-portkey-retry-attempt-count"] == "1"


def test_attempt_budget_bounds_one_request(make_gateway, upstream) -> None:
    gw = make_gateway(router_settings(max_attempts=4))
    a, b, c = upstream(503), upstream(503), upstream("ok")
    config = {
        "strategy": {"mode": "fallback"},
        "retry": {"attempts": 2},
        "targets": [a.target(), b.target(), c.target()],
    }
    with pytest.raises(openai.InternalServerError):
        ask(client(gw, config))
    assert (a.calls, b.calls, c.calls) == (3, 1, 0)  # four calls in all, then the last error
