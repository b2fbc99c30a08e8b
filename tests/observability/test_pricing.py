"""Cost arithmetic against the price table, its overrides, and the stream usage estimator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from proxy.observability.pricing import PriceTable, cost_usd, shipped
from proxy.observability.settings import ObservabilitySettings, Price
from proxy.observability.usage_estimate import StreamUsage, estimate_prompt_tokens
from proxy.pipeline import SettingsError
from proxy.reply import Chunk
from proxy.schema import PromptTokensDetails, Usage
from proxy.settings import parse_settings
from tests.conftest import GatewayFactory, openai_client
from tests.observability.helpers import access_lines
from tests.observability.test_metrics import HELLO, chain
from tests.providers.anthropic.mock import MockAnthropic
from tests.servers import ServerThread


def table(**kw: object) -> PriceTable:
    return PriceTable.from_settings(ObservabilitySettings(**kw))  # type: ignore[arg-type]


def test_shipped_table_names_its_sources_and_date() -> None:
    f = shipped()
    assert f.checked == "2026-11-23"
    assert set(f.prices) <= set(f.sources)
    for models in f.prices.values():
        for p in models.values():
            assert p.input > 0 and p.output >= p.input
            assert p.cached_input is None or p.cached_input <= p.input


def test_lookup_exact_dated_prefix_and_alias() -> None:
    t = table()
    assert t.lookup("openai", "gpt-4o") == Price(input=2.5, output=10.0, cached_input=1.25)
    # a dated snapshot takes its family's price; the longest family wins
    assert t.lookup("openai", "gpt-4o-mini-2024-07-18") == t.lookup("openai", "gpt-4o-mini")
    assert t.lookup("openai", "gpt-4o-2024-08-06") == t.lookup("openai", "gpt-4o")
    assert t.lookup("anthropic", "claude-sonnet-4-5-20250929").input == 3.0  # type: ignore[union-attr]
    # Azure OpenAI deployments of OpenAI models cost what OpenAI lists
    assert t.lookup("azure-openai", "gpt-4o") == t.lookup("openai", "gpt-4o")
    assert t.lookup("openai", "gpt-4omni") is None  # a prefix only counts before a dash
    assert t.lookup("groq", "gpt-4o") is None
    assert t.lookup(None, "gpt-4o") is None


def test_cost_arithmetic_with_cached_tokens() -> None:
    p = Price(input=2.5, output=10.0, cached_input=1.25)
    u = Usage(prompt_tokens=1_000_000, completion_tokens=500_000, total_tokens=1_500_000)
    assert cost_usd(p, u) == pytest.approx(2.5 + 5.0)
    u.prompt_tokens_details = PromptTokensDetails(cached_tokens=400_000)
    assert cost_usd(p, u) == pytest.approx(600_000 * 2.5e-6 + 400_000 * 1.25e-6 + 5.0)
    # no cached price listed: cached tokens cost the input price
    assert cost_usd(Price(input=2.0, output=4.0), u) == pytest.approx(2.0 + 2.0)
    assert cost_usd(p, Usage()) == 0.0


def test_overrides_file_then_inline(tmp_path: Path) -> None:
    f = tmp_path / "prices.json"
    f.write_text(
        json.dumps(
            {
                "prices": {
                    "groq": {"llama-3.3-70b": {"input": 0.59, "output": 0.79}},
                    "openai": {"gpt-4o": {"input": 1.0, "output": 2.0}},
                },
                "aliases": {"my-groq": "groq"},
            }
        )
    )
    t = table(
        prices_file=str(f),
        prices={"openai": {"gpt-4o": Price(input=3.0, output=4.0)}},
    )
    assert t.lookup("my-groq", "llama-3.3-70b") == Price(input=0.59, output=0.79)
    assert t.lookup("openai", "gpt-4o") == Price(input=3.0, output=4.0)  # inline wins
    assert t.lookup("openai", "gpt-4o-mini") == table().lookup("openai", "gpt-4o-mini")


def test_bad_price_settings_fail_at_start_up(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="prices_file"):
        table(prices_file=str(tmp_path / "missing.json"))
    bad = tmp_path / "bad.json"
    bad.write_text('{"prices": {"openai": {"gpt-4o": {"input": "cheap"}}}}')
    with pytest.raises(SettingsError, match="prices_file"):
        table(prices_file=str(bad))
    with pytest.raises(SettingsError, match=r"observability\.prices"):
        parse_settings({"observability": {"prices": {"openai": {"x": {"inptu": 1}}}}}, {})


def test_inline_price_reaches_the_log_line(make_gateway, mock_openai, logs) -> None:
    _, upstream = mock_openai
    prices = {"openai": {"house-model": {"input": 1000.0, "output": 2000.0}}}
    gw = make_gateway({"middleware": chain(), "observability": {"prices": prices}})
    openai_client(gw, upstream).chat.completions.create(model="house-model", messages=HELLO)
    line = access_lines(logs())[-1]
    assert line["cost_usd"] == pytest.approx((2 * 1000.0 + 3 * 2000.0) / 1e6)


def test_estimator_counts_text_and_tool_arguments() -> None:
    req = [
        {"role": "system", "content": "x" * 40},
        {"role": "user", "content": [{"type": "text", "text": "y" * 40}]},
    ]
    assert estimate_prompt_tokens(req) == 10 + 10 + 2 * 3 + 3
    counter = StreamUsage(keep_text=True)
    counter.feed(Chunk(b'{"choices":[{"index":0,"delta":{"content":"abcdefgh"}}]}'))
    call = {"index": 0, "function": {"arguments": "1234"}}
    counter.feed(Chunk(json.dumps({"choices": [{"delta": {"tool_calls": [call]}}]}).encode()))
    counter.feed(Chunk(b"not json"))  # ignored, never raises
    usage, estimated = counter.result(req)
    assert estimated and usage.completion_tokens == 3 and usage.prompt_tokens == 29
    assert counter.text == ["abcdefgh"]
    counter.feed(
        Chunk(b'{"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":5,"total_tokens":12}}')
    )
    assert counter.result(req) == (Usage(7, 5, 12), False)


def test_cache_writes_cost_the_write_price() -> None:
    p = Price(input=3.0, output=15.0, cached_input=0.3, cache_write_input=3.75)
    u = Usage(prompt_tokens=1_000_000, completion_tokens=0, total_tokens=1_000_000)
    u.prompt_tokens_details = PromptTokensDetails(cached_tokens=200_000, cache_write_tokens=300_000)
    assert cost_usd(p, u) == pytest.approx(500_000 * 3e-6 + 200_000 * 0.3e-6 + 300_000 * 3.75e-6)
    # no write price listed: written tokens cost the input price
    assert cost_usd(Price(input=3.0, output=15.0), u) == pytest.approx(3.0)
    # a hostile count cannot exceed what the prompt holds
    u.prompt_tokens_details = PromptTokensDetails(cached_tokens=900_000, cache_write_tokens=900_000)
    assert cost_usd(p, u) == pytest.approx(900_000 * 0.3e-6 + 100_000 * 3.75e-6)


def test_shipped_cache_prices_and_hosts_of_claude() -> None:
    t = table()
    sonnet = t.lookup("anthropic", "claude-sonnet-4-5-20250929")
    assert sonnet is not None and sonnet.cache_write_input == 3.75 and sonnet.cached_input == 0.3
    # Claude on Vertex AI (model@date) and on Bedrock (with or without a region prefix)
    assert t.lookup("vertex-ai", "claude-sonnet-4-5@20250929") == sonnet
    assert t.lookup("vertex-ai", "gemini-2.5-flash") == t.lookup("google", "gemini-2.5-flash")
    for model in (
        "anthropic.claude-sonnet-4-5-20250929-v1:0",
        "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
    ):
        assert t.lookup("bedrock", model) == sonnet, model
    assert t.lookup("bedrock", "amazon.nova-pro-v1:0") is None  # not listed: no guess
    assert t.lookup("openai", "gpt-4.1") is not None  # a dot in a model name is not a region


def test_claude_cache_writes_and_reads_reach_the_cost(make_gateway, logs) -> None:
    """Anthropic's cache counts, through the translation, priced by the shipped table."""
    with ServerThread(MockAnthropic().app) as upstream:
        claude_costs(make_gateway, upstream, logs)


def claude_costs(make_gateway: GatewayFactory, upstream: ServerThread, logs: Any) -> None:
    gw = make_gateway({"middleware": chain()})
    sdk = openai_client(
        gw, x_portkey_provider="anthropic", x_portkey_custom_host=upstream.url + "/v1"
    )
    system = [{"type": "text", "text": "rules " * 200, "cache_control": {"type": "ephemeral"}}]
    sonnet = Price(input=3.0, output=15.0, cached_input=0.3, cache_write_input=3.75)
    for question in ("one", "two"):
        r = sdk.chat.completions.create(
            model="claude-sonnet-4-5",
            messages=[{"role": "system", "content": system}, {"role": "user", "content": question}],
        )
        line = access_lines(logs())[-1]
        assert r.usage is not None
        usage = msgspec.convert(r.usage.model_dump(exclude_none=True), Usage)
        assert line["cost_usd"] == pytest.approx(cost_usd(sonnet, usage))
    details = r.usage.prompt_tokens_details
    assert details is not None and details.cached_tokens and details.cached_tokens > 100


def _reference_cost(price: Price, usage: Usage) -> float:
    """The cost formula written out in full, every term always computed."""
    d = usage.prompt_tokens_details
    cached = written = 0
    if isinstance(d, PromptTokensDetails):
        if isinstance(d.cached_tokens, int):
            cached = max(0, min(d.cached_tokens, usage.prompt_tokens))
        if isinstance(d.cache_write_tokens, int):
            written = max(0, min(d.cache_write_tokens, usage.prompt_tokens - cached))
    cached_price = price.cached_input if price.cached_input is not None else price.input
    write_price = price.cache_write_input if price.cache_write_input is not None else price.input
    return (
        (usage.prompt_tokens - cached - written) * price.input
        + cached * cached_price
        + written * write_price
        + usage.completion_tokens * price.output
    ) / 1_000_000.0


def test_cost_without_cache_details_is_the_full_formula() -> None:
    """``cost_usd`` skips the cache-detail lookups when the usage has no details: bit for
    bit the full formula's number, with and without details, zeros and real cache reads
    and writes."""
    import random

    rnd = random.Random(7)
    for _ in range(20_000):
        prompt = rnd.randrange(0, 200_000)
        details = rnd.choice(
            [
                None,
                PromptTokensDetails(),
                PromptTokensDetails(cached_tokens=0, audio_tokens=0),
                PromptTokensDetails(cached_tokens=rnd.randrange(0, prompt + 2)),
                PromptTokensDetails(
                    cached_tokens=rnd.randrange(0, prompt + 2),
                    cache_write_tokens=rnd.randrange(0, prompt + 2),
                ),
            ]
        )
        usage = Usage(prompt, rnd.randrange(0, 50_000), 0, prompt_tokens_details=details)
        price = Price(
            input=rnd.choice([0.0, 0.15, 2.5, rnd.uniform(0, 100)]),
            output=rnd.choice([0.6, 10.0, rnd.uniform(0, 100)]),
            cached_input=rnd.choice([None, 0.075, rnd.uniform(0, 10)]),
            cache_write_input=rnd.choice([None, 3.75, rnd.uniform(0, 10)]),
        )
        assert cost_usd(price, usage) == _reference_cost(price, usage), (price, usage)
