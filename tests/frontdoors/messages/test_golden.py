"""Golden streams: the exact SSE bytes /v1/messages sends for cross-protocol answers.

Each case drives the real gateway against a mock upstream and compares the whole stream,
event by event, with a reviewed file in ``golden/`` (ids the gateway mints at random are
normalised). The sequence is Anthropic's: message_start, ping, content blocks that never
overlap (start, deltas, stop), message_delta with stop_reason and usage, message_stop; a
failure after the first byte is a final ``error`` event. ``UPDATE_GOLDEN=1`` rewrites
the files (review the diff before committing it).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import PROVIDER_KEY
from tests.frontdoors.messages.conftest import route

GOLDEN = Path(__file__).parent / "golden"
LOOKUP = {
    "name": "lookup",
    "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}},
}
CALL = 'call lookup {"q": "gateway"}'
# ids minted per request: the gateway's own (Gemini/Bedrock answers carry none) and Gemini's
_IDS = [
    (re.compile(rb'"id":"msg_chatcmpl-[0-9a-f]{24}"'), b'"id":"msg_chatcmpl-<minted>"'),
    (re.compile(rb'"id":"call_[0-9a-f]{24}"'), b'"id":"call_<minted>"'),
]

CASES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "openai_text": ("openai", "gpt-4o", {"messages": [{"role": "user", "content": "two words"}]}),
    "openai_tool_call": (
        "openai",
        "gpt-4o",
        {"messages": [{"role": "user", "content": CALL}], "tools": [LOOKUP]},
    ),
    "openai_parallel_tools": (
        "openai",
        "tools",
        {"messages": [{"role": "user", "content": "weather"}], "tools": [LOOKUP]},
    ),
    "openai_reasoning": (
        "openai",
        "deep-reasoner",
        {"messages": [{"role": "user", "content": "why"}]},
    ),
    "openai_midstream_error": (
        "openai",
        "midstream-error",
        {"messages": [{"role": "user", "content": "a b c d"}]},
    ),
    "gemini_tool_call": (
        "google",
        "gemini-2.5-flash",
        {"messages": [{"role": "user", "content": CALL}], "tools": [LOOKUP]},
    ),
    "bedrock_converse_text": (
        "bedrock",
        "amazon.nova-pro-v1:0",
        {"messages": [{"role": "user", "content": "hi nova"}]},
    ),
}


@pytest.fixture
def upstreams(mock_openai, mock_gemini, mock_bedrock) -> dict[str, Any]:
    return {"openai": mock_openai[1], "google": mock_gemini[1], "bedrock": mock_bedrock[1]}


def normalised(raw: bytes) -> bytes:
    for pattern, replacement in _IDS:
        raw = pattern.sub(replacement, raw)
    return raw


def events(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    """(name, data) of each event; every event has both lines, and nothing else."""
    out = []
    for block in raw.decode().split("\n\n")[:-1]:
        name_line, data_line = block.split("\n")
        assert name_line.startswith("event: ") and data_line.startswith("data: "), block
        data = json.loads(data_line[6:])
        assert data["type"] == name_line[7:]
        out.append((name_line[7:], data))
    assert raw.endswith(b"\n\n")
    return out


def check_sequence(seq: list[tuple[str, dict[str, Any]]]) -> None:
    """Anthropic's grammar: what any client of the Messages stream relies on."""
    names = [n for n, _ in seq]
    assert names[0] == "message_start", names
    if names[-1] == "error":
        return
    assert names[-2:] == ["message_delta", "message_stop"], names
    open_index = None
    next_index = 0
    for name, data in seq[1:-2]:
        if name == "ping":  # Anthropic's keep-alive, anywhere (Bedrock relays none)
            continue
        if name == "content_block_start":
            assert open_index is None and data["index"] == next_index
            open_index = data["index"]
            next_index += 1
        elif name == "content_block_delta":
            assert data["index"] == open_index
        else:
            assert name == "content_block_stop" and data["index"] == open_index
            open_index = None
    assert open_index is None
    assert seq[-2][1]["delta"]["stop_reason"] in ("end_turn", "tool_use", "max_tokens")


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_stream(make_gateway, upstreams, case) -> None:
    provider, model, body = CASES[case]
    gw = make_gateway()
    headers = {**route(provider, upstreams[provider]), "x-api-key": PROVIDER_KEY}
    payload = {"model": model, "max_tokens": 100, "stream": True, **body}
    r = httpx.post(gw.url + "/v1/messages", json=payload, headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    got = normalised(r.content)
    seq = events(got)
    check_sequence(seq)
    assert seq[1][0] == "ping"  # the gateway's own streams ping right after message_start
    path = GOLDEN / f"{case}.sse"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_bytes(got)
    assert got.decode() == path.read_text()
