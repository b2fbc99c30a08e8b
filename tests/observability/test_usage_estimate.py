"""The usage estimate's byte scanner: the same text as the plain definition, in linear time."""

from __future__ import annotations

import re
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.observability.usage_estimate import _TEXT, estimate_prompt_tokens_raw

# the definition, a character at a time (slower, and what the fast one must equal)
_PLAIN = re.compile(
    rb'"(?:content|refusal|reasoning_content|arguments|text)":\s?"((?:[^"\\]|\\.)*)"'
)

_pieces = st.sampled_from(
    [b'"content":', b'"text": ', b'"arguments":"', b'"', b"\\", b'\\"', b"a", b" ", b"{", b"}"]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_pieces, st.binary(max_size=8)), max_size=40))
def test_the_fast_scanner_finds_what_the_definition_finds(parts: list[bytes]) -> None:
    raw = b"".join(parts)
    assert _TEXT.findall(raw) == _PLAIN.findall(raw)


def test_hostile_bodies_cost_linear_time() -> None:
    """Unterminated strings and escape runs (what a nested quantifier would backtrack on)."""
    for body in (
        b'"content": "' + b"ab" * 200_000,
        b'"content": "' + b'a\\"' * 100_000,
        b'"text":"' + b"\\" * 300_001,
    ):
        t0 = time.perf_counter()
        estimate_prompt_tokens_raw(body)
        assert time.perf_counter() - t0 < 1.0
