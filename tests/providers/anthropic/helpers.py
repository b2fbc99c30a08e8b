"""Small helpers for the Anthropic unit tests: requests in, native dicts out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec

from proxy.body import RequestBody
from proxy.frontdoors.chat import decode_chat
from proxy.providers.anthropic import AnthropicAdapter
from proxy.routing.resolve import settings_target
from proxy.sse import SSEDecoder, SSEEvent
from tests.conftest import PROVIDER_KEY

FIXTURES = Path(__file__).parent / "fixtures"
ADAPTER = AnthropicAdapter()
TARGET = settings_target(provider="anthropic", api_key=PROVIDER_KEY)


def body_of(request: dict[str, Any]) -> RequestBody:
    raw = json.dumps(request).encode()
    return decode_chat(raw)


def native(request: dict[str, Any], model: str | None = None) -> dict[str, Any]:
    """The Messages API body the adapter builds for an OpenAI request."""
    up = ADAPTER.build_request(body_of(request), TARGET, model or request["model"])
    return msgspec.json.decode(up.body)  # type: ignore[no-any-return]


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def sse_events(name: str) -> list[SSEEvent]:
    dec = SSEDecoder()
    return dec.feed(fixture(name)) + dec.flush()
