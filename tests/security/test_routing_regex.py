"""A client's routing config: ``$regex`` in linear time (or a 400), and bounded nesting.

Before RE2, ``^(a+)+$`` on 28 characters held the event loop (and /health) for 6 s; and
targets nested 500 deep (7 KB of header) were a 500 (msgspec's RecursionError).
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from tests.security.conftest import chat, client_headers

ROUTER = {"middleware": [{"class": "middleware.router:RouterMiddleware"}]}


def conditional(upstream_url: str, pattern: Any, key: str = "params.messages.0.content") -> Any:
    target = {"provider": "openai", "custom_host": upstream_url + "/v1"}
    return {
        "strategy": {
            "mode": "conditional",
            "conditions": [{"query": {key: {"$regex": pattern}}, "then": "evil"}],
            "default": "plain",
        },
        "targets": [{**target, "name": "evil"}, {**target, "name": "plain"}],
    }


def test_catastrophic_pattern_costs_linear_time(gateway_process, upstream) -> None:
    gw = gateway_process(ROUTER)
    mock, server = upstream
    headers = client_headers(server, conditional(server.url, "^(a+)+$"))
    slowest, (status, body, seconds) = gw.health_while(
        lambda: gw.post(chat("a" * 5000 + "b"), headers), settle=0.05
    )
    assert status == 200, body
    assert slowest < 1.0
    assert seconds < 1.0
    # the pattern ran (and did not match): the request went to the default target
    status, body, _ = gw.post(chat("a" * 5000), headers)
    assert status == 200 and mock.calls == 2


def test_a_long_value_costs_at_most_the_regex_budget(gateway_process, upstream) -> None:
    gw = gateway_process(ROUTER)
    _, server = upstream
    # 2,004 RE2 instructions; on random a/b its DFA cache overflows and the NFA costs ~7 s
    # per MB (measured before the budget: /health waited 7 s)
    headers = client_headers(server, conditional(server.url, "[ab]{1,1000}z"))
    rng = random.Random(1)
    text = "".join(rng.choice("ab") for _ in range(1_000_000))
    slowest, r = gw.health_while(lambda: gw.send(chat(text), headers), settle=0)
    assert r.status_code == 200 and slowest < 1.0
    assert r.headers["x-portkey-last-used-option-index"] == "config.targets[1]"  # no match
    r = gw.send(chat("ab" * 1000 + "z"), headers)  # within the budget: searched, and matched
    assert r.headers["x-portkey-last-used-option-index"] == "config.targets[0]"


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        (r"^(a+)\1$", "invalid escape sequence"),  # backreference
        (r"^(?=a)a+$", "invalid perl operator"),  # lookahead
        ("a" * 1001, "longer than 1000 characters"),
    ],
)
def test_patterns_re2_cannot_run_are_a_400_naming_the_field(
    gateway_process, upstream, pattern: str, why: str
) -> None:
    gw = gateway_process(ROUTER)
    mock, server = upstream
    status, body, _ = gw.post(chat("aa"), client_headers(server, conditional(server.url, pattern)))
    assert status == 400
    err = body["error"]
    assert err["code"] == "invalid_config" and err["param"] == "x-portkey-config"
    assert "strategy.conditions[0].query" in err["message"] and why in err["message"]
    assert mock.calls == 0


def test_deep_query_nesting_and_odd_indexes_are_not_a_500(gateway_process, upstream) -> None:
    gw = gateway_process(ROUTER)
    _, server = upstream
    deep: Any = {"params.model": "x"}
    for _ in range(200):
        deep = {"$or": [deep]}
    cfg = conditional(server.url, "x")
    cfg["strategy"]["conditions"][0]["query"] = deep
    status, body, _ = gw.post(chat("hi"), client_headers(server, cfg))
    assert status == 400 and "nested deeper than" in body["error"]["message"]
    for key in ["params.messages.²", "params.messages." + "1" * 5000]:
        cfg = conditional(server.url, "x", key=key)
        status, body, _ = gw.post(chat("hi"), client_headers(server, cfg))
        assert status == 200, body  # no such element: the default target answers


def test_deep_target_nesting_is_a_400_not_a_500(gateway_process, upstream) -> None:
    gw = gateway_process(ROUTER)
    _, server = upstream
    leaf = json.dumps({"provider": "openai", "custom_host": server.url + "/v1"})
    for depth, status, why in [
        (32, 200, ""),
        (33, 400, "targets nested deeper than 32 levels"),
        (500, 400, "JSON nested too deeply"),
    ]:
        headers = client_headers(server)
        headers["x-portkey-config"] = '{"targets":[' * depth + leaf + "]}" * depth
        got, body, _ = gw.post(chat("hi"), headers)
        assert got == status, (depth, body)
        if status == 400:
            assert body["error"]["code"] == "invalid_config" and why in body["error"]["message"]
