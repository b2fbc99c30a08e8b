"""Limits enforced by the real gateway, driven with the openai SDK: OpenAI's headers on
every answer (the provider's replaced), 429s the SDK understands, settles for complete,
streamed, cancelled and failed answers."""

from __future__ import annotations

import time

import httpx
import openai
import pytest
from aiohttp import web

from proxy.quota.policy import period_bucket
from tests.quota.helpers import MSG, client, settings, settled, snapshot
from tests.servers import ServerThread

KEY = "gw-test-key-0002"


def test_headers_on_every_answer_replace_the_providers(make_gateway) -> None:
    async def chat(request: web.Request) -> web.Response:
        body = {
            "id": "x",
            "object": "chat.completion",
            "created": 1,
            "model": "gpt-4o-mini",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "hi"},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12},
        }
        headers = {"x-ratelimit-limit-requests": "10000", "x-ratelimit-remaining-tokens": "1"}
        return web.json_response(body, headers=headers)

    def app() -> web.Application:
        a = web.Application()
        a.router.add_post("/v1/chat/completions", chat)
        return a

    with ServerThread(app) as upstream:
        keys = [{"key": KEY, "name": "app", "rpm": 5, "tpm": 10_000}]
        gw = make_gateway(settings(upstream.url, keys))
        raw = client(gw, KEY).chat.completions.with_raw_response.create(
            model="@main/gpt-4o-mini", messages=MSG, max_tokens=100
        )
        h = raw.headers
        assert h["x-ratelimit-limit-requests"] == "5"
        assert h["x-ratelimit-remaining-requests"] == "4"
        assert h["x-ratelimit-reset-requests"].endswith("s")
        assert h["x-ratelimit-limit-tokens"] == "10000"
        # the estimate (prompt counted + max_tokens) was reserved when the answer left
        remaining = int(h["x-ratelimit-remaining-tokens"])
        assert 10_000 - 100 - 20 < remaining <= 10_000 - 100
        assert raw.parse().choices[0].message.content == "hi"
        settled(gw)
        assert snapshot(gw, "s:app").tokens == 12  # settled to the reported usage


def test_429_with_openai_headers_and_shape(make_gateway, mock_openai) -> None:
    mock, upstream = mock_openai
    gw = make_gateway(settings(upstream.url, [{"key": KEY, "name": "app", "rpm": 2}]))
    c = client(gw, KEY)
    for _ in range(2):
        c.chat.completions.create(model="@main/gpt-4o-mini", messages=MSG)
    with pytest.raises(openai.RateLimitError) as info:
        c.chat.completions.create(model="@main/gpt-4o-mini", messages=MSG)
    err = info.value
    assert err.status_code == 429
    assert err.body["type"] == "rate_limit_error"  # type: ignore[index]
    assert err.body["code"] == "rate_limit_exceeded"  # type: ignore[index]
    assert "2 requests per minute" in err.body["message"]  # type: ignore[index]
    h = err.response.headers
    assert h["x-ratelimit-remaining-requests"] == "0"
    assert 1 <= int(h["retry-after"]) <= 60
    assert 0 < int(h["retry-after-ms"]) <= 60_000
    assert mock.calls == 2


def test_the_sdk_retry_recovers_after_the_window(make_gateway, mock_openai) -> None:
    mock, upstream = mock_openai
    raw = settings(upstream.url, [{"key": KEY, "name": "app", "rpm": 1}])
    raw["limits"] = {"window_seconds": 1.0}  # "per minute" shortened for a bounded test
    gw = make_gateway(raw)
    c = client(gw, KEY, retries=3)
    c.chat.completions.create(model="@main/gpt-4o-mini", messages=MSG)
    t0 = time.monotonic()
    r = c.chat.completions.create(model="@main/gpt-4o-mini", messages=MSG)
    waited = time.monotonic() - t0
    assert r.choices[0].message.content == "echo: hello there"
    assert 0.3 < waited < 5, waited  # retry-after-ms honoured: no 8 s exponential wait
    assert mock.calls == 2


def test_budget_exceeded_names_the_period_and_the_sdk_does_not_retry(
    make_gateway, mock_openai
) -> None:
    mock, upstream = mock_openai
    # gpt-4o-mini: $0.15 / $0.60 per million; 1000 output tokens reserve $0.0006
    key = {"key": KEY, "name": "app", "budget_usd": 0.0005, "budget_period": "day"}
    gw = make_gateway(settings(upstream.url, [key]))
    c = client(gw, KEY, retries=2)
    c.chat.completions.create(model="@main/gpt-4o-mini", messages=MSG, max_tokens=100)
    settled(gw)
    with pytest.raises(openai.RateLimitError) as info:
        c.chat.completions.create(model="@main/gpt-4o-mini", messages=MSG, max_tokens=1000)
    body = info.value.body
    assert body["code"] == "budget_exceeded"  # type: ignore[index]
    bucket, _ = period_bucket("day", time.time())
    assert "per day" in body["message"] and "resets at" in body["message"]  # type: ignore[index]
    h = info.value.response.headers
    assert h["x-should-retry"] == "false" and int(h["retry-after"]) > 0
    assert mock.calls == 1  # the SDK did not retry a spent budget
    spent = snapshot(gw, "s:app", bucket).spent_micros
    assert 0 < spent < 100  # the real cost of the first answer, not its estimate


def test_streams_settle_to_real_usage_and_cancelled_ones_release(make_gateway, mock_openai) -> None:
    _, upstream = mock_openai
    keys = [{"key": KEY, "name": "app", "tpm": 100_000, "max_parallel": 1}]
    gw = make_gateway(settings(upstream.url, keys))
    c = client(gw, KEY)
    stream = c.chat.completions.create(
        model="@main/gpt-4o-mini",
        messages=MSG,
        stream=True,
        stream_options={"include_usage": True},
        max_tokens=5000,
    )
    chunks = list(stream)
    assert chunks[-1].usage is not None
    settled(gw)
    real = chunks[-1].usage.prompt_tokens + chunks[-1].usage.completion_tokens
    assert snapshot(gw, "s:app").tokens == real  # not the 5000-token estimate
    # a client that hangs up mid-stream: its lease is released, its tokens estimated
    with httpx.Client(timeout=10) as h:
        body = {"model": "@main/slow-stream", "messages": MSG, "stream": True}
        with h.stream(
            "POST",
            gw.url + "/v1/chat/completions",
            json=body,
            headers={"authorization": f"Bearer {KEY}"},
        ) as resp:
            assert resp.status_code == 200
            for line in resp.iter_lines():
                if "tok3" in line:
                    break
    settled(gw, timeout=5)
    snap = snapshot(gw, "s:app")
    assert snap.in_flight == 0
    assert real < snap.tokens < real + 100  # the prompt and the few tokens streamed
    c.chat.completions.create(model="@main/gpt-4o-mini", messages=MSG)  # the slot is free


def test_upstream_failure_counts_the_request_but_no_tokens(make_gateway, mock_openai) -> None:
    _, upstream = mock_openai
    keys = [{"key": KEY, "name": "app", "rpm": 10, "tpm": 100_000, "max_parallel": 2}]
    gw = make_gateway(settings(upstream.url, keys))
    with pytest.raises(openai.InternalServerError):
        client(gw, KEY).chat.completions.create(model="@main/error-500", messages=MSG)
    settled(gw)
    snap = snapshot(gw, "s:app")
    assert (snap.requests, snap.tokens, snap.in_flight) == (1, 0, 0)


def test_a_key_that_fails_open_or_closed_when_redis_is_down(make_gateway, mock_openai) -> None:
    from tests.servers import free_port

    mock, upstream = mock_openai
    keys = [
        {"key": KEY, "name": "open", "rpm": 1, "redis_down": "open"},
        {"key": "gw-closed-key", "name": "closed", "rpm": 5, "redis_down": "closed"},
    ]
    raw = settings(upstream.url, keys)
    raw["redis"] = {"url": f"redis://127.0.0.1:{free_port()}/0", "timeout": 0.1}
    gw = make_gateway(raw)
    c = client(gw, KEY)
    c.chat.completions.create(model="@main/gpt-4o-mini", messages=MSG)  # counted locally
    with pytest.raises(openai.RateLimitError):  # ... and still limited
        c.chat.completions.create(model="@main/gpt-4o-mini", messages=MSG)
    with pytest.raises(openai.InternalServerError) as info:
        client(gw, "gw-closed-key").chat.completions.create(model="@main/gpt-4o-mini", messages=MSG)
    assert info.value.status_code == 503
    assert info.value.body["code"] == "limiter_unavailable"  # type: ignore[index]
    assert mock.calls == 1
