"""The usage ask spliced into a chat body (proxy/body.py ``with_usage_option``).

A stream to a provider that documents ``stream_options.include_usage`` is asked for its
usage event even when the client did not ask: the body gets one member after its opening
brace, with no re-encode. Whatever the client's whitespace and members, the result must
be the same object plus the ask, or the upstream would read another request.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.body import with_usage_option
from proxy.frontdoors.chat import decode_chat

_HEAD = ("stream_options", "model", "messages", "stream", "max_tokens", "max_completion_tokens")
_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
_members = st.dictionaries(
    # the head's own fields keep their valid values (they are tested where they are decoded)
    st.text(max_size=12).filter(lambda k: k not in _HEAD),
    _values,
    max_size=4,
)
_space = st.sampled_from(["", " ", "\n", "\t ", "\r\n  "])


@settings(max_examples=300, deadline=None)
@given(_members, _space, _space, st.booleans())
def test_the_spliced_body_is_the_same_object_with_the_ask(
    extra: dict[str, Any], before: str, inner: str, ascii_only: bool
) -> None:
    obj = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True, **extra}
    raw = (before + "{" + inner + json.dumps(obj, ensure_ascii=ascii_only)[1:]).encode()
    body = decode_chat(raw)
    assert body.head.stream and not body.head.stream_options_sent
    out = json.loads(with_usage_option(raw))
    assert out == {**obj, "stream_options": {"include_usage": True}}
    assert len(with_usage_option(raw)) == len(raw) + len(
        b'"stream_options":{"include_usage":true},'
    )


def test_a_body_that_names_stream_options_is_marked_so_it_is_never_spliced() -> None:
    """``null`` or an object: either way the key is there, and a splice would make two."""
    for so in ("null", "{}", '{"include_usage": false}'):
        raw = b'{"model": "m", "messages": [{"role": "user"}], "stream": true, "stream_options": '
        body = decode_chat(raw + so.encode() + b"}")
        assert body.head.stream_options_sent and not body.head.include_usage
        assert body.passthrough_bytes({}, ask_usage=True).count(b"stream_options") == 1
    raw = b'{"model": "m", "messages": [{"role": "user"}], "stream": true}'
    assert not decode_chat(raw).head.stream_options_sent
    assert decode_chat(raw).passthrough_bytes({}, ask_usage=False) == raw  # not asked: as sent
