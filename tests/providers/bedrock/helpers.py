"""Small helpers for the Bedrock unit tests: requests in, native dicts out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec

from proxy.body import RequestBody
from proxy.frontdoors.chat import decode_chat
from proxy.providers.bedrock import BedrockAdapter
from proxy.providers.bedrock.eventstream import EventStreamDecoder, Frame
from proxy.reply import Chunk
from proxy.routing.resolve import settings_target
from tests.conftest import PROVIDER_KEY
from tests.providers.bedrock import frames

FIXTURES = Path(__file__).parent / "fixtures"
ADAPTER = BedrockAdapter()
TARGET = settings_target(provider="bedrock", api_key=PROVIDER_KEY)
MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"


def body_of(request: dict[str, Any]) -> RequestBody:
    raw = json.dumps({"model": MODEL, **request}).encode()
    return decode_chat(raw)


def native(request: dict[str, Any]) -> dict[str, Any]:
    """The Converse body the adapter builds for an OpenAI request."""
    up = ADAPTER.build_request(body_of(request), TARGET, MODEL)
    return msgspec.json.decode(up.body)  # type: ignore[no-any-return]


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def stream_bytes(name: str) -> bytes:
    return frames.events(json.loads(fixture(name)))


def decode_all(data: bytes, cuts: list[int]) -> list[Frame]:
    """Decode ``data`` fed in pieces split at ``cuts``."""
    dec = EventStreamDecoder()
    out: list[Frame] = []
    start = 0
    for cut in [*cuts, len(data)]:
        out += dec.feed(data[start:cut])
        start = cut
    return out + dec.flush()


def translate(data: bytes, include_usage: bool = True) -> list[dict[str, Any]]:
    """Bytes of a ConverseStream through decoder and translator, as chunk dicts."""
    tr = ADAPTER.stream_translator(MODEL, include_usage)
    chunks: list[Chunk] = []
    for f in decode_all(data, []):
        chunks += tr.feed(f)
    chunks += tr.finish()
    return [msgspec.json.decode(c.raw) for c in chunks]
