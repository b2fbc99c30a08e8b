"""Metric labels stay bounded whatever clients send, and the guardrail verdicts are real.

Before: ``gateway_guardrail_verdicts_total`` was filled only by a test stand-in (the real
middleware never recorded its verdicts), and ``gateway_breaker_state`` was labelled with
the bare option index, so every new shape of inline config minted a new series.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.conftest import PROVIDER_KEY, GatewayFactory
from tests.observability.helpers import scrape, value

OBSERVED = [
    {"class": "middleware.logging:LoggingMiddleware"},
    {"class": "middleware.observability:ObservabilityMiddleware"},
]
GUARDRAILS = {
    "no-secrets": {"checks": [{"id": "default.secrets"}], "deny": True},
    "short": {"checks": [{"id": "default.wordCount", "parameters": {"maxWords": 5}}]},
}


def post(client: httpx.Client, url: str, text: str, **headers: str) -> httpx.Response:
    h = {"authorization": f"Bearer {PROVIDER_KEY}", "x-portkey-provider": "openai"}
    h.update({k.replace("_", "-"): v for k, v in headers.items()})
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]}
    return client.post(url + "/v1/chat/completions", json=body, headers=h)


def test_real_guardrail_verdicts_reach_metrics_and_the_log_line(
    make_gateway: GatewayFactory, mock_openai: Any, logs: Any
) -> None:
    _, upstream = mock_openai
    guardrails = {"class": "middleware.guardrails:GuardrailsMiddleware"}
    gw = make_gateway(
        {
            "middleware": [
                *OBSERVED,
                {**guardrails, "options": {"guardrails": GUARDRAILS}},
                {"class": "middleware.router:RouterMiddleware"},
            ],
            "configs": {"guarded": {"input_guardrails": ["no-secrets", "short"]}},
        }
    )
    host = {"x_portkey_custom_host": upstream.url + "/v1"}
    with httpx.Client(timeout=10) as c:
        assert post(c, gw.url, "hello there", x_portkey_config="guarded", **host).status_code == 200
        long = "one two three four five six seven"
        assert post(c, gw.url, long, x_portkey_config="guarded", **host).status_code == 246
        secret = "token ghp_" + "a1B2" * 9
        assert post(c, gw.url, secret, x_portkey_config="guarded", **host).status_code == 446
        # clients name their own guardrails: 500 ids, one label
        for i in range(500):
            check = {"checks": [{"id": "default.notNull"}], "id": f"client-guard-{i}"}
            cfg = json.dumps({"input_guardrails": [check]})
            assert post(c, gw.url, "x", x_portkey_config=cfg, **host).status_code == 200
    m = scrape(gw.url)
    name = "gateway_guardrail_verdicts_total"
    assert value(m, name, guardrail="no-secrets", verdict="pass") == 2
    assert value(m, name, guardrail="no-secrets", verdict="deny") == 1
    assert value(m, name, guardrail="short", verdict="pass") == 2
    assert value(m, name, guardrail="short", verdict="fail") == 1
    assert value(m, name, guardrail="inline", verdict="pass") == 500
    labels = {dict(ls)["guardrail"] for (n, ls) in m if n == name}
    assert labels == {"no-secrets", "short", "inline"}
    lines = [x for x in logs() if x.get("event") == "request"]
    assert [line["guardrails"] for line in lines[:3]] == [
        [{"id": "no-secrets", "verdict": "pass"}, {"id": "short", "verdict": "pass"}],
        [{"id": "no-secrets", "verdict": "pass"}, {"id": "short", "verdict": "fail"}],
        [{"id": "no-secrets", "verdict": "deny"}, {"id": "short", "verdict": "pass"}],
    ]
    assert lines[3]["guardrails"] == [{"id": "inline", "verdict": "pass"}]


def test_five_hundred_inline_configs_add_one_breaker_label(
    make_gateway: GatewayFactory, mock_openai: Any
) -> None:
    _, upstream = mock_openai
    leaf = {"provider": "openai", "api_key": PROVIDER_KEY, "custom_host": upstream.url + "/v1"}
    fallback = {
        "strategy": {"mode": "fallback"},
        "targets": [{**leaf, "override_params": {"model": "error-500"}}, leaf],
    }
    gw = make_gateway(
        {
            "middleware": [*OBSERVED, {"class": "middleware.router:RouterMiddleware"}],
            "configs": {"fb": fallback},
        }
    )

    def shaped(width: int, depth: int) -> dict[str, Any]:
        """The only weighted target sits at targets[width], ``depth`` levels down."""
        zero = {**leaf, "weight": 0}
        node: dict[str, Any] = {
            "strategy": {"mode": "loadbalance"},
            "targets": [*[zero] * width, {**leaf, "weight": 1}],
        }
        for _ in range(depth):
            node = {"targets": [node]}
        return node

    with httpx.Client(timeout=10) as c:
        assert post(c, gw.url, "hi", x_portkey_config="fb").status_code == 200
        indexes = set()
        for width in range(20):
            for depth in range(25):
                r = post(c, gw.url, "hi", x_portkey_config=json.dumps(shaped(width, depth)))
                assert r.status_code == 200
                indexes.add(r.headers["x-portkey-last-used-option-index"])
    assert len(indexes) == 500  # 500 distinct option indexes were used...
    m = scrape(gw.url)
    targets = {dict(ls)["target"] for (n, ls) in m if n == "gateway_breaker_state"}
    # ...and the gauge has one series for all of them, besides the settings config's own
    assert targets == {"inline", "fb:config.targets[0]", "fb:config.targets[1]"}
    assert value(m, "gateway_breaker_state", target="fb:config.targets[1]") == 0
