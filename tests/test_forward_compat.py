"""Never refuse what the provider would accept: unknown fields, enum values, content and tool
types, integral floats reach an OpenAI-compatible upstream exactly as the client sent them.

The four reproductions of the issue, each sent through the gateway to the OpenAI mock: the
mock's copy of the body must equal the client's (same JSON), and the status must be 200.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.conftest import PROVIDER_KEY

MSG = [{"role": "user", "content": "hi"}]
CASES: list[dict[str, Any]] = [
    {"model": "m", "messages": MSG, "tools": [{"type": "custom", "custom": {"name": "grep"}}]},
    {
        "model": "m",
        "messages": [
            *MSG,
            {
                "role": "assistant",
                "tool_calls": [
                    {"id": "c1", "type": "custom", "custom": {"name": "grep", "input": "x"}}
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "found"},
        ],
    },
    {
        "model": "m",
        "messages": MSG,
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
        "tool_choice": {
            "type": "allowed_tools",
            "allowed_tools": {"mode": "auto", "tools": [{"type": "function", "name": "f"}]},
        },
    },
    {"model": "m", "messages": MSG, "n": 1.0, "seed": 7.0, "max_tokens": 5.0},
    {  # fields and content parts from the future
        "model": "m",
        "messages": [{"role": "user", "content": [{"type": "hologram", "x": 1}]}],
        "verbosity": "low",
        "prediction": {"type": "content", "content": "x"},
        "web_search_options": {},
    },
]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("body", CASES)
def test_reaches_the_upstream_unchanged(gateway, mock_openai, body, stream) -> None:
    mock, upstream = mock_openai
    sent = {**body, "stream": stream}
    raw = json.dumps(sent).encode()
    r = httpx.post(
        gateway.url + "/v1/chat/completions",
        content=raw,
        headers={
            "content-type": "application/json",
            "authorization": f"Bearer {PROVIDER_KEY}",
            "x-portkey-provider": "openai",
            "x-portkey-custom-host": upstream.url + "/v1",
        },
        timeout=10,
    )
    assert r.status_code == 200, r.text
    # a stream to OpenAI also asks for its usage event (the gateway bills on it; the client,
    # who did not ask, does not get it): every field of the client's is there as sent
    asked = {**sent, "stream_options": {"include_usage": True}} if stream else sent
    assert mock.requests[-1]["json"] == asked


def test_a_translating_provider_names_what_it_cannot_carry(gateway) -> None:
    r = httpx.post(
        gateway.url + "/v1/chat/completions",
        json=CASES[0],
        headers={"authorization": f"Bearer {PROVIDER_KEY}", "x-portkey-provider": "anthropic"},
        timeout=10,
    )
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["param"] == "tools[0].type" and err["code"] == "unsupported_by_provider"
    assert "custom" in err["message"] and "anthropic" in err["message"]
