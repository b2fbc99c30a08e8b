"""Small helpers for the Cohere unit tests: requests in, native dicts out, fixtures read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec

from proxy.frontdoors.chat import decode_chat
from proxy.providers.base import UpstreamRequest
from proxy.providers.cohere import CohereAdapter
from proxy.routing.resolve import settings_target
from proxy.sse import SSEDecoder, SSEEvent
from tests.conftest import PROVIDER_KEY

FIXTURES = Path(__file__).parent / "fixtures"
ADAPTER = CohereAdapter()
TARGET = settings_target(provider="cohere", api_key=PROVIDER_KEY)


def upstream(request: dict[str, Any], model: str = "command-a-03-2025") -> UpstreamRequest:
    return ADAPTER.build_request(decode_chat(json.dumps(request).encode()), TARGET, model)


def native(request: dict[str, Any], model: str = "command-a-03-2025") -> dict[str, Any]:
    """The Chat API v2 body the adapter builds for an OpenAI request."""
    body = upstream({"model": "m", **request}, model).body
    assert isinstance(body, bytes)
    return msgspec.json.decode(body)  # type: ignore[no-any-return]


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def sse_events(raw: bytes) -> list[SSEEvent]:
    dec = SSEDecoder()
    return dec.feed(raw) + dec.flush()
