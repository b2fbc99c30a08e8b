"""Settings and clients for the quota tests (real gateway, real upstream mock)."""

from __future__ import annotations

import time
from typing import Any

import openai

from proxy.app import GATEWAY
from proxy.gateway import Gateway
from tests.servers import ServerThread

SETTINGS_KEY = "sk-settings-key-0003"
MSG = [{"role": "user", "content": "hello there"}]


def chain(keys: list[dict[str, Any]], **auth: Any) -> list[dict[str, Any]]:
    return [
        {"class": "middleware.logging:LoggingMiddleware"},
        {"class": "middleware.observability:ObservabilityMiddleware"},
        {"class": "middleware.auth:AuthMiddleware", "options": {"keys": keys, **auth}},
        {"class": "middleware.router:RouterMiddleware"},
    ]


def settings(upstream: str, keys: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """Keys (with policies) over one settings provider ``@main`` at ``upstream``."""
    return {
        "middleware": chain(keys),
        "providers": {
            "main": {
                "provider": "openai",
                "api_key": SETTINGS_KEY,
                "custom_host": upstream + "/v1",
                "models": ["gpt-4o-mini"],
            }
        },
        **extra,
    }


def client(gw: ServerThread, key: str, retries: int = 0, **kw: Any) -> openai.OpenAI:
    return openai.OpenAI(api_key=key, base_url=gw.url + "/v1", max_retries=retries, **kw)


def gateway_of(gw: ServerThread) -> Gateway:
    assert gw.app is not None
    return gw.app[GATEWAY]


def settled(gw: ServerThread, timeout: float = 2.0) -> None:
    """Wait until every reservation of this gateway is settled (settles run in tasks)."""
    quota = gateway_of(gw).quota
    deadline = time.monotonic() + timeout
    while quota.open or quota.tasks:
        assert time.monotonic() < deadline, "reservations still open"
        time.sleep(0.01)


def snapshot(gw: ServerThread, key: str, bucket: str = "total") -> Any:
    """The key's counters, read on the gateway's own loop."""
    import asyncio

    quota = gateway_of(gw).quota
    coro = quota.limiter.snapshot(key, bucket)
    return asyncio.run_coroutine_threadsafe(coro, gw.loop).result(5)
