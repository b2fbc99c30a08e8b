"""Random malformed input never gets a 500 or a traceback: always a clear OpenAI error.

A seeded generator builds bodies and header values of random shapes (bounded: 400 requests),
sent to the real server with a mock upstream behind it.
"""

from __future__ import annotations

import json
import random
from typing import Any

import aiohttp

from tests.conftest import PROVIDER_KEY

KEYS = [
    "model",
    "messages",
    "role",
    "content",
    "stream",
    "tools",
    "tool_choice",
    "type",
    "response_format",
    "temperature",
    "n",
    "stop",
    "strategy",
    "targets",
    "mode",
    "provider",
    "custom_host",
    "retry",
    "attempts",
    "weight",
    "override_params",
    "image_url",
    "url",
    "function",
    "name",
    "arguments",
    "tool_calls",
    "json_schema",
    "schema",
    "cache",
]
SCALARS: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    1.5,
    10**12,
    "",
    "x",
    "user",
    "assistant",
    "tool",
    "system",
    "text",
    "image_url",
    "fallback",
    "openai",
    "data:,",
    "http://127.0.0.1:1/v1",
    "\u0000",
    "é" * 3,
    [],
    {},
]


def value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth > 3 or roll < 0.45:
        return rng.choice(SCALARS)
    if roll < 0.75:
        return {rng.choice(KEYS): value(rng, depth + 1) for _ in range(rng.randint(0, 4))}
    return [value(rng, depth + 1) for _ in range(rng.randint(0, 3))]


def body(rng: random.Random) -> bytes:
    base: dict[str, Any] = {
        "model": rng.choice(["gpt-4o-mini", "@openai/m", "@/x", "@nope/m", 5, None]),
        "messages": value(rng) if rng.random() < 0.5 else [{"role": "user", "content": "hi"}],
    }
    for _ in range(rng.randint(0, 3)):
        base[rng.choice(KEYS)] = value(rng)
    if rng.random() < 0.1:
        return json.dumps(base).encode()[: rng.randint(0, 40)]  # truncated JSON
    return json.dumps(base).encode()


async def test_random_inputs_get_clear_errors(gateway, mock_openai) -> None:
    _, upstream = mock_openai
    rng = random.Random(20261123)
    statuses: dict[int, int] = {}
    async with aiohttp.ClientSession() as s:
        for _ in range(400):
            headers = {
                "content-type": "application/json",
                "authorization": f"Bearer {PROVIDER_KEY}",
                "x-portkey-custom-host": upstream.url + "/v1",
            }
            if rng.random() < 0.8:
                headers["x-portkey-provider"] = rng.choice(
                    ["openai", "anthropic", "google", "bedrock", "nope", ""]
                )
            if rng.random() < 0.3:
                headers["x-portkey-config"] = json.dumps(value(rng))
            if rng.random() < 0.2:
                headers["x-portkey-metadata"] = json.dumps(value(rng))
            async with s.post(
                gateway.url + "/v1/chat/completions", data=body(rng), headers=headers
            ) as resp:
                text = await resp.text()
                statuses[resp.status] = statuses.get(resp.status, 0) + 1
                assert resp.status != 500, text
                assert "Traceback" not in text and PROVIDER_KEY not in text
                if resp.status >= 400 and resp.content_type == "application/json":
                    err = json.loads(text)["error"]
                    assert set(err) == {"message", "type", "param", "code"}
    assert statuses.get(400, 0) > 100  # the generator mostly produces bad input
