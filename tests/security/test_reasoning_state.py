"""Threat: reasoning state (signatures, thinking blocks) as a vector, from either side.

``reasoning_opaque`` comes back from clients and its content came from providers: both
hostile. A client string is bounded before any decoding, decoded once (base64, one typed
msgspec pass: linear, no nesting past the schema), a 400 naming the field when it is not
the gateway's, and given back only to the provider that issued it. An upstream that
streams a huge thought costs linear time and bounded memory, and gets no token rather
than an unbounded one.
"""

from __future__ import annotations

import base64
import json
import time

import pytest

from proxy.errors import InvalidRequest
from proxy.providers import reasoning
from proxy.providers.anthropic.stream import AnthropicStream
from proxy.sse import SSEEvent


def token_of(raw: bytes) -> str:
    return reasoning.PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_round_trip_is_bound_to_the_issuing_host() -> None:
    blocks = [
        reasoning.Block(kind="thinking", text="t", sig="s", at=0),
        reasoning.Block(kind="redacted", data="d", at=1),
    ]
    token = reasoning.encode("anthropic", blocks)
    assert token is not None and token.startswith("gw1.")
    assert reasoning.decode(token, "anthropic", "p") == blocks
    for other in ("bedrock", "vertex-ai", "google"):  # a signature means nothing elsewhere
        assert reasoning.decode(token, other, "p") == []
    assert reasoning.decode(None, "anthropic", "p") == []


@pytest.mark.parametrize(
    "bad",
    [
        "sig_abc",  # not ours
        "gw1.!!!!",  # not base64
        token_of(b"not json"),
        token_of(b'{"host": 1, "blocks": []}'),
        token_of(b'{"host": "anthropic", "blocks": [{"kind": "exec"}]}'),
        token_of(b'{"host": "anthropic", "blocks": [], "extra": 1}'),
        token_of(b'{"host": "anthropic", "blocks": [{"kind": "thinking", "url": "x"}]}'),
        token_of(
            json.dumps({"host": "anthropic", "blocks": [{"kind": "redacted"}] * 300}).encode()
        ),
    ],
)
def test_what_is_not_the_gateways_is_a_400_naming_the_field(bad: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        reasoning.decode(bad, "anthropic", "messages[3].reasoning_opaque")
    assert info.value.param == "messages[3].reasoning_opaque"
    assert info.value.code == "invalid_reasoning_opaque"


def test_nesting_and_size_bombs_are_refused_fast() -> None:
    deep = b'{"host": "anthropic", "blocks": [' + b"[" * 200_000 + b"]" * 200_000 + b"]}"
    huge = reasoning.PREFIX + "A" * (reasoning.MAX_CHARS + 1)
    for bad in (token_of(deep), huge):
        t0 = time.perf_counter()
        with pytest.raises(InvalidRequest):
            reasoning.decode(bad, "anthropic", "p")
        assert time.perf_counter() - t0 < 1.0


def test_a_token_too_large_to_come_back_is_not_issued() -> None:
    big = reasoning.Block(kind="thinking", text="x" * reasoning.MAX_CHARS, sig="s")
    assert reasoning.encode("anthropic", [big]) is None
    assert reasoning.encode("anthropic", []) is None


def event(data: dict) -> SSEEvent:
    return SSEEvent(json.dumps(data).encode(), event=data["type"])


def test_a_huge_streamed_thought_is_linear_and_bounded() -> None:
    """8 MiB of thinking in 32-byte deltas: the client still gets every delta, the work is
    linear (no string re-copied per delta), the kept state stops at the bound, and no
    token is issued for a thought the gateway would refuse to take back."""
    tr = AnthropicStream("claude-x", include_usage=False)
    start = {"type": "message_start", "message": {"id": "m", "model": "claude-x", "content": []}}
    tr.feed(event(start))
    tr.feed(
        event(
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "thinking", "thinking": "", "signature": ""},
            }
        )
    )
    piece = event(
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "thinking_delta", "thinking": "y" * 32},
        }
    )
    t0 = time.perf_counter()
    emitted = 0
    for _ in range(8 * 1024 * 1024 // 32):
        emitted += len(tr.feed(piece))
    elapsed = time.perf_counter() - t0
    assert emitted == 8 * 1024 * 1024 // 32
    assert tr.state.full and len(tr.state.parts[0][1]) < 200_000  # stopped keeping
    tr.feed(event({"type": "message_delta", "delta": {"stop_reason": "end_turn"}}))
    out = tr.feed(SSEEvent(b'{"type": "message_stop"}', event="message_stop"))
    assert [c.parsed.choices[0].finish_reason for c in out] == ["stop"]  # no opaque chunk
    assert elapsed < 10.0  # ~260k events through msgspec; quadratic copying would take hours
