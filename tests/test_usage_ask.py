"""The usage ask spliced into a chat body (proxy/body.py ``with_usage_option``).

A stream to a provider that documents ``stream_options.include_usage`` is asked for its
usage event even when the client did not ask: the body gets one member after its opening
brace, with no re-encode. Whatever the client's whitespace and members, the result must
be the same object plus the ask, or the upstream would read another request.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.body import with_usage_option
from proxy.frontdoors.chat import decode_chat
from tests.observability.helpers import scrape, value
from tests.observability.test_metrics import chain
from tests.servers import ServerThread
from tests.test_fast_stream import EVENTS, Scripted, event, stream

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


# ---------------------------------------------------------------- the relay, end to end


@pytest.fixture
def scripted() -> Any:
    s = Scripted()
    with ServerThread(s.app) as server:
        yield s, server


USAGE2 = {"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9}
NULL_CHOICES = (
    b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m",'
    b'"choices":null,"usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8}}\n\n'
)
A, B, END, USE = EVENTS  # "a", "b", "c" with finish_reason stop, the usage event
DONE = b"data: [DONE]\n\n"
# (upstream bytes, what the client must get, the completion tokens the gateway settles on)
STREAMS = {
    "usual": (A + B + END + USE + DONE, A + B + END, 3),
    "usage first": (A + USE + B + END + DONE, A + B + END, 3),
    "no finish": (A + B + USE + DONE, A + B, 3),
    "twice": (A + event(None, USAGE2) + END + USE + DONE, A + END, 3),
    "null choices": (A + END + NULL_CHOICES + DONE, A + END, 3),
    # a comment sends the fast scan to the full SSE grammar, mid-stream
    "comment, then usage": (A + END + b": keep-alive\n\n" + USE + DONE, A + END, 3),
    "CR line ends": ((A + END + USE + DONE).replace(b"\n", b"\r\n"), A + END, 3),
}


@pytest.mark.parametrize("name", list(STREAMS))
@pytest.mark.parametrize("reads", [False, True], ids=["fast", "event by event"])
def test_the_usage_event_is_read_not_relayed_on_every_path(
    make_gateway: Any, scripted: Any, logs: Any, name: str, reads: bool
) -> None:
    """Whatever order and framing a provider sends it in, and whether a middleware reads
    the events (so the relay goes event by event) or not: the client that did not ask gets
    every event but the usage event, once [DONE], and logs, metrics and (through the same
    count) budgets settle on the provider's count, never an estimate."""
    s, server = scripted
    wire, relayed, tokens = STREAMS[name]
    s.pieces = [wire]
    extra = ("tests.test_fast_stream:CountEvents",) if reads else ()
    gw = make_gateway({"middleware": chain(*extra)})
    r = stream(gw, server, usage=False)
    assert r.status_code == 200
    data = [ln for ln in r.text.splitlines() if ln.startswith("data: ")]
    assert data[-1] == "data: [DONE]" and r.text.count("[DONE]") == 1
    assert [json.loads(d[6:]) for d in data[:-1]] == [
        json.loads(e[6:]) for e in relayed.split(b"\n\n") if e
    ]
    assert "usage" not in r.text
    line = [x for x in logs() if x.get("event") == "request"][-1]
    assert line["completion_tokens"] == tokens and "usage_estimated" not in line
    m = scrape(gw.url)
    assert value(m, "gateway_tokens_total", estimated="true") == 0
    assert value(m, "gateway_tokens_total", estimated="false", direction="output") == tokens


def test_an_error_event_after_the_end_still_relays_the_end(
    make_gateway: Any, scripted: Any
) -> None:
    """Nothing is held back waiting for the usage event: the chunk that ended the answer
    is relayed at once, then the error event."""
    s, server = scripted
    s.pieces = [A + END + b'data: {"error": {"message": "boom", "type": "server_error"}}\n\n']
    gw = make_gateway({"middleware": chain("tests.test_fast_stream:CountEvents")})
    data = [ln for ln in stream(gw, server, usage=False).text.splitlines() if ln[:6] == "data: "]
    assert json.loads(data[1][6:])["choices"][0]["finish_reason"] == "stop"
    assert "boom" in data[-1]
