"""Limits that hold exactly across replicas: two gateway processes sharing the real Redis.

200 concurrent requests on a key with RPM 50 get exactly 50 answers; token and budget
limits hold the same way for streamed, non-streamed and cancelled answers (reservations
are released); a revoked key fails on both processes within a second.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
import redis

from proxy.observability.pricing import PriceTable, cost_usd
from proxy.observability.settings import ObservabilitySettings
from proxy.observability.usage_estimate import estimate_prompt_tokens
from proxy.schema import Usage
from tests.mock_openai import MockOpenAI
from tests.quota.helpers import MSG, SETTINGS_KEY
from tests.quota.replicas import Proc, require, start
from tests.servers import ServerThread

ADMIN = "admin-test-key-0004"
RPM_KEY, TPM_KEY, BUDGET_KEY = "gw-rpm-key-01", "gw-tpm-key-01", "gw-budget-key-01"
MAX_TOKENS = 91
PROMPT = estimate_prompt_tokens(MSG)  # what the gateway reserves for MSG's prompt
EST_TOKENS = PROMPT + MAX_TOKENS
_price = PriceTable.from_settings(ObservabilitySettings()).lookup("openai", "gpt-4o-mini")
assert _price is not None
EST_MICROS = math.ceil(PROMPT * _price.input + MAX_TOKENS * _price.output)
TPM_FITS, BUDGET_FITS = 10, 10
# the mock's answer to MSG: 2 prompt tokens (its words), 3 completion ("echo: hello there")
REAL_TOKENS = 5
REAL_MICROS = round(cost_usd(_price, Usage(2, 3, 5)) * 1e6)


class Pair:
    def __init__(self, procs: list[Proc], mock: MockOpenAI, redis_url: str, prefix: str):
        self.a, self.b = procs
        self.procs = procs
        self.mock = mock
        self.redis_url = redis_url
        self.prefix = prefix

    def client(self, i: int, key: str, timeout: float = 30) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(
            api_key=key, base_url=self.procs[i % 2].url + "/v1", max_retries=0, timeout=timeout
        )

    def usage(self, key_id: str) -> dict[str, Any]:
        r = httpx.get(
            f"{self.a.url}/admin/keys/{key_id}/usage", headers={"x-portkey-admin-key": ADMIN}
        )
        assert r.status_code == 200, r.text
        return dict(r.json())


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    require(6379, "Redis")
    mock = MockOpenAI()
    prefix = f"test-replicas:{uuid.uuid4().hex[:10]}:"
    url = "redis://127.0.0.1:6379/13"
    with ServerThread(mock.app) as upstream:
        keys = [
            {"key": RPM_KEY, "name": "rpm", "rpm": 50},
            {"key": TPM_KEY, "name": "tpm", "tpm": TPM_FITS * EST_TOKENS, "max_parallel": 100},
            {
                "key": BUDGET_KEY,
                "name": "budget",
                "budget_usd": BUDGET_FITS * EST_MICROS / 1e6,
                "budget_period": "day",
            },
        ]
        settings = {
            "redis": {"url": url, "prefix": prefix},
            "admin": {"keys": [ADMIN]},
            "logging": {"level": "warning"},
            # "hang" (the mock never answers) priced like gpt-4o-mini, for the budget bursts
            "observability": {
                "prices": {"openai": {"hang": {"input": _price.input, "output": _price.output}}}
            },
            "middleware": [
                {"class": "middleware.observability:ObservabilityMiddleware"},
                {"class": "middleware.auth:AuthMiddleware", "options": {"keys": keys}},
                {"class": "middleware.router:RouterMiddleware"},
            ],
            "providers": {
                "main": {
                    "provider": "openai",
                    "api_key": SETTINGS_KEY,
                    "custom_host": upstream.url + "/v1",
                }
            },
        }
        procs = start(settings, tmp_path_factory.mktemp("replicas"), 2)
        try:
            yield Pair(procs, mock, url, prefix)
        finally:
            for p in procs:
                p.stop()
            client = redis.Redis.from_url(url)
            for k in client.scan_iter(match=prefix + "*"):
                client.delete(k)
            client.close()


async def _one(c: openai.AsyncOpenAI, stream: bool, model: str = "gpt-4o-mini") -> Any:
    kw: dict[str, Any] = {"model": f"@main/{model}", "messages": MSG, "max_tokens": MAX_TOKENS}
    try:
        if not stream:
            return await c.chat.completions.with_raw_response.create(**kw)
        s = await c.chat.completions.create(
            **kw, stream=True, stream_options={"include_usage": True}
        )
        return [chunk async for chunk in s]
    except (openai.RateLimitError, openai.APITimeoutError) as exc:
        return exc


async def _burst(pair: Pair, key: str, n: int, model: str = "gpt-4o-mini") -> list[Any]:
    """``n`` concurrent requests over both processes, every other one streamed. With
    ``model="hang"`` the granted ones wait upstream (the mock never answers) until every
    request is decided (refused, or arrived at the mock), then the clients hang up: every
    reservation is made before any is settled, and then each is released."""
    clients = [pair.client(0, key), pair.client(1, key)]
    hung = sum(r["json"].get("model") == "hang" for r in list(pair.mock.requests))
    try:
        tasks = [asyncio.create_task(_one(clients[i % 2], i % 2 == 0, model)) for i in range(n)]
        deadline = time.monotonic() + 30
        while model == "hang" and time.monotonic() < deadline:
            arrived = sum(r["json"].get("model") == "hang" for r in list(pair.mock.requests))
            if sum(t.done() for t in tasks) + arrived - hung >= n:
                break
            await asyncio.sleep(0.02)
        if model == "hang":
            for t in tasks:
                t.cancel()  # the client hangs up: its reservation must be released
        return list(await asyncio.gather(*tasks, return_exceptions=True))
    finally:
        for c in clients:
            await c.close()


def _refused(results: list[Any]) -> list[openai.RateLimitError]:
    return [r for r in results if isinstance(r, openai.RateLimitError)]


def _granted(results: list[Any]) -> int:
    return len(results) - len(_refused(results))


async def _settled(pair: Pair, key_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 5
    while True:
        u = pair.usage(key_id)
        if u["in_flight"] == 0 or time.monotonic() > deadline:
            return u
        await asyncio.sleep(0.05)


async def test_rpm_50_exactly_across_two_processes(pair: Pair) -> None:
    calls = pair.mock.calls
    results = await _burst(pair, RPM_KEY, 200)
    refused = _refused(results)
    assert len(results) - len(refused) == 50
    assert len(refused) == 150
    for err in refused:
        h = err.response.headers
        assert err.body["code"] == "rate_limit_exceeded"  # type: ignore[index]
        assert h["x-ratelimit-limit-requests"] == "50"
        assert h["x-ratelimit-remaining-requests"] == "0"
        assert 1 <= int(h["retry-after"]) <= 60
    assert pair.mock.calls - calls == 50


async def test_tpm_exact_with_streams_and_cancelled_streams(pair: Pair) -> None:
    results = await _burst(pair, TPM_KEY, 40, model="hang")
    assert _granted(results) == TPM_FITS
    assert {e.body["code"] for e in _refused(results)} == {"rate_limit_exceeded"}  # type: ignore[index]
    released = await _settled(pair, "tpm")  # the clients gave up: nothing was produced
    assert (released["in_flight"], released["tokens_in_window"]) == (0, 0)

    results = await _burst(pair, TPM_KEY, TPM_FITS)  # streamed and not: all fit
    assert _granted(results) == TPM_FITS
    real = TPM_FITS * REAL_TOKENS
    assert (await _settled(pair, "tpm"))["tokens_in_window"] == real  # not the estimates

    # streams the clients abandon mid-way release their reservations too; what they
    # streamed so far is counted (the prompt and a few tokens)
    async with httpx.AsyncClient(timeout=30) as h:

        async def abandon(i: int) -> None:
            body = {
                "model": "@main/slow-stream",
                "messages": MSG,
                "stream": True,
                "max_tokens": MAX_TOKENS,
            }
            url = pair.procs[i % 2].url + "/v1/chat/completions"
            headers = {"authorization": f"Bearer {TPM_KEY}"}
            async with h.stream("POST", url, json=body, headers=headers) as r:
                assert r.status_code == 200
                async for line in r.aiter_lines():
                    if "tok1" in line:
                        return

        await asyncio.gather(*(abandon(i) for i in range(6)))
    after = await _settled(pair, "tpm")
    assert after["in_flight"] == 0
    assert real + 6 * PROMPT < after["tokens_in_window"] < real + 6 * (PROMPT + 10)
    room = TPM_FITS * EST_TOKENS - after["tokens_in_window"]
    results = await _burst(pair, TPM_KEY, 40, model="hang")
    assert _granted(results) == room // EST_TOKENS


async def test_budget_exact_and_settled_to_real_cost(pair: Pair) -> None:
    results = await _burst(pair, BUDGET_KEY, 30, model="hang")
    refused = _refused(results)
    assert len(results) - len(refused) == BUDGET_FITS
    body = refused[0].body
    assert body["code"] == "budget_exceeded" and "per day" in body["message"]  # type: ignore[index]
    assert refused[0].response.headers["x-should-retry"] == "false"
    assert (await _settled(pair, "budget"))["budget"]["spent_usd"] == 0  # all released

    results = await _burst(pair, BUDGET_KEY, BUDGET_FITS)
    assert _granted(results) == BUDGET_FITS
    spent = round((await _settled(pair, "budget"))["budget"]["spent_usd"] * 1e6)
    assert spent == BUDGET_FITS * REAL_MICROS  # real costs, not estimates
    room = BUDGET_FITS * EST_MICROS - spent
    results = await _burst(pair, BUDGET_KEY, 30, model="hang")
    assert _granted(results) == room // EST_MICROS


async def test_a_revoked_key_fails_on_both_processes_within_a_second(pair: Pair) -> None:
    admin = {"x-portkey-admin-key": ADMIN}
    async with httpx.AsyncClient(timeout=10) as h:
        made = (
            await h.post(pair.a.url + "/admin/keys", json={"name": "temp"}, headers=admin)
        ).json()
        clients = [pair.client(0, made["key"]), pair.client(1, made["key"])]
        for c in clients:  # both know it (and have it cached)
            assert (await _one(c, False)).http_response.status_code == 200
        r = await h.post(f"{pair.b.url}/admin/keys/{made['id']}/revoke", headers=admin)
        assert r.status_code == 200
        t0 = time.monotonic()

        async def refused_after(c: openai.AsyncOpenAI) -> float:
            while True:
                try:
                    await c.models.list()
                except openai.AuthenticationError:
                    return time.monotonic() - t0
                await asyncio.sleep(0.02)

        waits = await asyncio.gather(*(refused_after(c) for c in clients))
        for c in clients:
            await c.close()
    assert max(waits) < 1.0, waits
