"""A bad config is a 400 whose message names the field."""

from __future__ import annotations

import openai
import pytest

from tests.routing.conftest import ask, client

T = {"provider": "openai", "custom_host": "http://127.0.0.1:9/v1"}


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"strategy": {"mode": "fallbak"}, "targets": [T]}, "strategy.mode"),
        ({"strategy": {"mode": "fallback"}, "targets": [{**T, "wieght": 1}]}, "targets[0]"),
        (
            {"strategy": {"mode": "loadbalance"}, "targets": [{**T, "weight": -1}]},
            "targets[0].weight",
        ),
        ({"retry": {"attempts": 9}, **T}, "retry.attempts"),
        ({"request_timeout": 0, **T}, "request_timeout"),
        (
            {"strategy": {"mode": "fallback", "on_status_codes": [99]}, "targets": [T]},
            "strategy.on_status_codes[0]",
        ),
        (
            {
                "strategy": {
                    "mode": "conditional",
                    "conditions": [{"query": {"x": 1}, "then": "nope"}],
                },
                "targets": [{**T, "name": "a"}],
            },
            "strategy.conditions[0].then",
        ),
        (
            {
                "strategy": {
                    "mode": "conditional",
                    "conditions": [{"query": {"x": {"$like": 1}}, "then": "a"}],
                },
                "targets": [{**T, "name": "a"}],
            },
            "strategy.conditions[0].query",
        ),
        (
            {
                "strategy": {
                    "mode": "conditional",
                    "conditions": [{"query": {"x": {"$regex": "("}}, "then": "a"}],
                },
                "targets": [{**T, "name": "a"}],
            },
            "strategy.conditions[0].query",
        ),
        (
            {
                "strategy": {"mode": "fallback", "cb_config": {"cooldown_interval": 10}},
                "targets": [T],
            },
            "strategy.cb_config",
        ),
        (
            {
                "strategy": {
                    "mode": "fallback",
                    "cb_config": {"failure_threshold_percentage": 150},
                },
                "targets": [T],
            },
            "strategy.cb_config.failure_threshold_percentage",
        ),
        (
            {"targets": [{"targets": [{**T, "retry": {"attempts": "x"}}]}]},
            "targets[0].targets[0].retry.attempts",
        ),
    ],
)
def test_bad_config_names_the_field(routed, config, field) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        ask(client(routed, config))
    body = info.value.body
    assert body["type"] == "invalid_request_error"
    assert body["param"] == "x-portkey-config"
    assert body["message"].startswith(f"invalid config: {field}"), body["message"]


def test_unknown_config_id(routed) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        ask(client(routed, "no-such-config"))
    assert info.value.body["code"] == "unknown_config"


def test_camel_case_config_keys_are_accepted(routed, upstream) -> None:
    """Portkey's gateway takes camelCase keys too; user data inside stays as written."""
    a, b = upstream(503), upstream("ok")
    config = {
        "strategy": {
            "mode": "fallback",
            "onStatusCodes": [503],
            "cbConfig": {"failureThreshold": 5},
        },
        "targets": [
            {**a.target(), "requestTimeout": 5000},
            {**b.target(), "overrideParams": {"max_tokens": 7}},
        ],
    }
    raw = ask(client(routed, config))
    assert raw.headers["x-portkey-last-used-option-index"] == "config.targets[1]"
    assert b.mock.requests[-1]["json"]["max_tokens"] == 7
