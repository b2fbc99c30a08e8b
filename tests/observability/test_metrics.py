"""GET /metrics after real requests through the real gateway (openai SDK -> mock upstream)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import openai
import pytest

from proxy.context import RequestContext
from proxy.pipeline import Next
from proxy.reply import Reply
from tests.conftest import PROVIDER_KEY, openai_client
from tests.observability.helpers import access_lines, scrape, value

HELLO = [{"role": "user", "content": "hello there"}]
MODEL = "gpt-4o-mini"


class StampVerdicts:
    """A stand-in for the guardrails middleware: records verdicts where observability reads."""

    async def __call__(self, ctx: RequestContext, call_next: Next) -> Reply:
        ctx.guardrail_verdicts += [("no-pii", "pass"), ("len", "deny")]
        return await call_next(ctx)


def chain(*extra: str) -> list[dict[str, Any]]:
    names = [
        "middleware.logging:LoggingMiddleware",
        "middleware.observability:ObservabilityMiddleware",
        *extra,
        "middleware.router:RouterMiddleware",
    ]
    return [{"class": n} for n in names]


def test_series_and_values_after_real_requests(make_gateway, mock_openai, logs) -> None:
    _, upstream = mock_openai
    gw = make_gateway({"middleware": chain("tests.observability.test_metrics:StampVerdicts")})
    client = openai_client(gw, upstream)
    for _ in range(2):
        client.chat.completions.create(model=MODEL, messages=HELLO)
    with client.chat.completions.create(
        model=MODEL, messages=HELLO, stream=True, stream_options={"include_usage": True}
    ) as s:
        assert [c for c in s]
    with client.chat.completions.create(model=MODEL, messages=HELLO, stream=True) as s:
        assert [c for c in s]
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="error-429", messages=HELLO)

    m = scrape(gw.url)
    ok = {"provider": "openai", "model": MODEL, "status": "200", "cache_status": "none"}
    assert value(m, "gateway_requests_total", **ok) == 4
    assert value(m, "gateway_requests_total", **ok, stream="true") == 2
    assert value(m, "gateway_requests_total", model="error-429", status="429") == 1
    # mock usage: 2 prompt words, 3 answer words ("echo: hello there") per request; the
    # stream whose client did not ask for usage too (the gateway asked OpenAI for it)
    reported = {"provider": "openai", "model": MODEL, "estimated": "false"}
    assert value(m, "gateway_tokens_total", **reported, direction="input") == 8
    assert value(m, "gateway_tokens_total", **reported, direction="output") == 12
    est = {"provider": "openai", "model": MODEL, "estimated": "true"}
    assert value(m, "gateway_tokens_total", **est) == 0
    # gpt-4o-mini: $0.15 in, $0.60 out per million tokens
    expected = (8 * 0.15 + 12 * 0.60) / 1e6
    assert value(m, "gateway_cost_usd_total", model=MODEL) == pytest.approx(expected)
    assert value(m, "gateway_in_flight_requests") == 0
    assert value(m, "gateway_in_flight_streams") == 0
    assert value(m, "gateway_overhead_seconds_count") == 5
    assert value(m, "gateway_overhead_seconds_count", stream="true") == 2
    assert value(m, "gateway_ttfb_seconds_count", model=MODEL) == 2
    assert value(m, "gateway_request_duration_seconds_count", model=MODEL) == 4
    assert value(m, "gateway_upstream_duration_seconds_count", model=MODEL) == 4
    assert value(m, "gateway_guardrail_verdicts_total", guardrail="no-pii", verdict="pass") == 5
    assert value(m, "gateway_guardrail_verdicts_total", guardrail="len", verdict="deny") == 5
    # the OpenTelemetry GenAI instruments, under their Prometheus names
    genai = {"gen_ai_system": "openai", "gen_ai_request_model": MODEL}
    assert value(m, "gen_ai_client_token_usage_count", **genai, gen_ai_token_type="input") == 4
    assert value(m, "gen_ai_client_token_usage_sum", **genai, gen_ai_token_type="output") == 12
    assert value(m, "gen_ai_client_operation_duration_seconds_count", **genai) == 4
    assert value(m, "gen_ai_server_time_to_first_token_seconds_count", **genai) == 2
    assert value(m, "gen_ai_client_operation_duration_seconds_count", error_type="mock_error")

    lines = access_lines(logs())
    assert len(lines) == 5
    costs = [line.get("cost_usd") for line in lines]
    assert costs[:2] == [pytest.approx((2 * 0.15 + 3 * 0.60) / 1e6)] * 2
    assert "usage_estimated" not in lines[3] and lines[3]["completion_tokens"] == 3
    assert "usage_estimated" not in lines[2]
    assert "cost_usd" not in lines[4]  # error-429: no usage, no cost
    for line in lines:
        assert line["overhead_ms"] >= 0
        assert line["upstream_ms"] >= 0
        assert line["guardrails"]
        assert "messages" not in json.dumps(line) and "hello there" not in json.dumps(line)


def test_fallback_and_retry_counters(make_gateway, mock_openai) -> None:
    mock, upstream = mock_openai
    host = upstream.url + "/v1"
    bad = {"provider": "openai", "api_key": PROVIDER_KEY, "custom_host": host}
    config = {
        "strategy": {"mode": "fallback"},
        "targets": [{**bad, "override_params": {"model": "error-500"}}, bad],
    }
    gw = make_gateway({"middleware": chain()})
    client = openai_client(gw, None, x_portkey_config=json.dumps(config))
    client.chat.completions.create(model=MODEL, messages=HELLO)
    m = scrape(gw.url)
    assert mock.calls == 2
    assert value(m, "gateway_fallbacks_total", provider="openai") == 1
    assert value(m, "gateway_retries_total") == 0
    assert value(m, "gateway_breaker_state", target="inline") == 0  # a client's config


def test_metrics_off_is_404_in_openai_shape(make_gateway) -> None:
    gw = make_gateway({"observability": {"metrics": False}})
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(gw.url + "/metrics", timeout=5)  # noqa: S310 - loopback
    assert info.value.code == 404
    body = json.loads(info.value.read())
    assert body["error"]["message"] == "no route for GET /metrics"


def test_model_label_cardinality_is_bounded() -> None:
    from proxy.observability import metrics as mod

    m = mod.Metrics()
    for i in range(mod.MAX_MODELS):
        assert m.labels("openai", f"m{i}") == ("openai", f"m{i}")
    assert m.labels("openai", "one-too-many") == ("openai", mod.OTHER)
    assert m.labels("openai", "m0") == ("openai", "m0")


def test_guardrail_denials_are_counted(make_gateway, mock_openai) -> None:
    mock, upstream = mock_openai
    short = {"checks": [{"id": "default.wordCount", "parameters": {"maxWords": 5}}], "deny": True}
    guardrails = {"guardrails": {"short": short}}
    gw = make_gateway(
        {
            "middleware": [
                {"class": "middleware.logging:LoggingMiddleware"},
                {"class": "middleware.observability:ObservabilityMiddleware"},
                {"class": "middleware.guardrails:GuardrailsMiddleware", "options": guardrails},
                {"class": "middleware.router:RouterMiddleware"},
            ],
            "configs": {"guarded": {"input_guardrails": ["short"]}},
        }
    )
    client = openai_client(gw, upstream, x_portkey_config="guarded")
    long = [{"role": "user", "content": "one two three four five six seven"}]
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model=MODEL, messages=long)
    status = str(info.value.status_code)
    assert mock.calls == 0
    m = scrape(gw.url)
    assert value(m, "gateway_requests_total", status=status) == 1
    assert value(m, "gateway_in_flight_requests") == 0


def test_cache_hit_costs_nothing_and_counts_the_saving(make_gateway, mock_openai, logs) -> None:
    mock, upstream = mock_openai
    names = ["logging", "observability", "cache", "router"]
    classes = {
        "logging": "middleware.logging:LoggingMiddleware",
        "observability": "middleware.observability:ObservabilityMiddleware",
        "cache": "middleware.cache:CacheMiddleware",
        "router": "middleware.router:RouterMiddleware",
    }
    gw = make_gateway({"middleware": [{"class": classes[n]} for n in names]})
    config = {
        "provider": "openai",
        "api_key": PROVIDER_KEY,
        "custom_host": upstream.url + "/v1",
        "cache": {"mode": "simple", "max_age": 60},
    }
    client = openai_client(gw, None, x_portkey_config=json.dumps(config))
    for _ in range(2):
        client.chat.completions.create(model=MODEL, messages=HELLO)
    assert mock.calls == 1
    one = (2 * 0.15 + 3 * 0.60) / 1e6
    m = scrape(gw.url)
    assert value(m, "gateway_requests_total", cache_status="HIT") == 1
    assert value(m, "gateway_cost_usd_total", model=MODEL) == pytest.approx(one)
    assert value(m, "gateway_cache_saved_usd_total", model=MODEL) == pytest.approx(one)
    assert value(m, "gateway_tokens_total", model=MODEL, direction="output") == 3
    lines = access_lines(logs())
    assert [x["cache_status"] for x in lines] == ["MISS", "HIT"]
    assert lines[1]["cost_usd"] == 0.0


def test_a_stream_without_reported_usage_is_estimated(make_gateway, mock_openai) -> None:
    """A provider not known to take stream_options is not asked for usage: its stream's
    tokens are estimated (~4 chars a token plus chat formatting) and labelled so."""
    _, upstream = mock_openai
    gw = make_gateway({"middleware": chain()})
    client = openai_client(gw, upstream, x_portkey_provider="openai-compatible")
    with client.chat.completions.create(model=MODEL, messages=HELLO, stream=True) as s:
        assert [c for c in s]
    m = scrape(gw.url)
    est = {"provider": "openai-compatible", "model": MODEL, "estimated": "true"}
    assert value(m, "gateway_tokens_total", **est, direction="input") == 3 + 3 + 3
    assert value(m, "gateway_tokens_total", **est, direction="output") == 4  # 17 chars
