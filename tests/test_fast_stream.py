"""The fast relay of a chat stream nobody reads event by event (providers/openai_stream.py).

The upstream's events reach the client byte for byte, whatever the reads' boundaries,
with exactly one ``[DONE]``; usage is still read for the log line; a broken event is still
an error; an unusual stream (CR line ends, comments, named events) still works, through
the event-by-event path; a middleware that declares ``reads_events`` gets one chunk per
event.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import PROVIDER_KEY
from tests.servers import ServerThread


def event(content: str | None, usage: dict[str, int] | None = None, end: bool = False) -> bytes:
    choice = {"index": 0, "delta": {"content": content}, "finish_reason": "stop" if end else None}
    body: dict[str, Any] = {
        "id": "c1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [] if content is None else [choice],
    }
    if usage is not None:
        body["usage"] = usage
    return b"data: " + json.dumps(body).encode() + b"\n\n"


USAGE = {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}
EVENTS = [event("a"), event("b"), event("c", end=True), event(None, USAGE)]


class Scripted:
    """Writes the scripted pieces one write each (the reads the gateway sees follow them)."""

    def __init__(self) -> None:
        self.pieces: list[bytes] = []
        self.bodies: list[dict[str, Any]] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.answer)
        return app

    async def answer(self, request: web.Request) -> web.StreamResponse:
        self.bodies.append(await request.json())
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for piece in self.pieces:
            await resp.write(piece)
        return resp


@pytest.fixture
def scripted():
    s = Scripted()
    with ServerThread(s.app) as server:
        yield s, server


def stream(gw, server, usage: bool = True, provider: str = "openai") -> httpx.Response:
    """A chat stream; ``usage``: the client asks for the usage event itself."""
    body: dict[str, Any] = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    body["stream"] = True
    if usage:
        body["stream_options"] = {"include_usage": True}
    return httpx.post(
        gw.url + "/v1/chat/completions",
        headers={
            "authorization": f"Bearer {PROVIDER_KEY}",
            "x-portkey-provider": provider,
            "x-portkey-custom-host": server.url + "/v1",
        },
        json=body,
        timeout=10,
    )


def split_every(data: bytes, n: int) -> list[bytes]:
    return [data[i : i + n] for i in range(0, len(data), n)]


@pytest.mark.parametrize("piece", [1, 7, 64, 100_000])
def test_events_reach_the_client_byte_for_byte(make_gateway, scripted, logs, piece) -> None:
    s, server = scripted
    s.pieces = split_every(b"".join(EVENTS) + b"data: [DONE]\n\n", piece)
    r = stream(make_gateway(), server)
    assert r.status_code == 200
    assert r.content == b"".join(EVENTS) + b"data: [DONE]\n\n"
    (line,) = [x for x in logs() if x.get("event") == "request"]
    assert line["completion_tokens"] == 3 and "usage_estimated" not in line


@pytest.mark.parametrize("piece", [1, 7, 64, 100_000])
def test_the_gateway_asks_for_usage_and_keeps_it_from_a_client_that_did_not(
    make_gateway, scripted, logs, piece
) -> None:
    """OpenAI streams no usage unless asked: the gateway asks (it bills and limits on the
    provider's count, not an estimate), reads the usage event and leaves it out of what
    the client gets, which is every other byte as it came."""
    s, server = scripted
    s.pieces = split_every(b"".join(EVENTS) + b"data: [DONE]\n\n", piece)
    r = stream(make_gateway(), server, usage=False)
    assert r.status_code == 200
    assert r.content == b"".join(EVENTS[:-1]) + b"data: [DONE]\n\n"
    assert s.bodies[-1]["stream_options"] == {"include_usage": True}
    (line,) = [x for x in logs() if x.get("event") == "request"]
    assert line["completion_tokens"] == 3 and "usage_estimated" not in line


def test_a_client_stream_option_is_kept_beside_the_usage_ask(make_gateway, scripted) -> None:
    """A body that already holds stream_options (here an explicit ``include_usage:
    false`` and another option) is re-encoded with the ask, never given a duplicate key;
    the client still gets no usage event."""
    s, server = scripted
    s.pieces = [b"".join(EVENTS) + b"data: [DONE]\n\n"]
    r = httpx.post(
        make_gateway().url + "/v1/chat/completions",
        headers={
            "authorization": f"Bearer {PROVIDER_KEY}",
            "x-portkey-provider": "openai",
            "x-portkey-custom-host": server.url + "/v1",
        },
        content=b' {"stream_options": {"include_usage": false, "include_obfuscation": false},'
        b' "model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": true}',
        timeout=10,
    )
    assert r.status_code == 200 and r.content == b"".join(EVENTS[:-1]) + b"data: [DONE]\n\n"
    assert s.bodies[-1]["stream_options"] == {"include_usage": True, "include_obfuscation": False}


def test_a_provider_that_does_not_document_the_option_gets_the_body_as_sent(
    make_gateway, scripted, logs
) -> None:
    """Not every OpenAI-compatible server takes stream_options: those not known to are
    sent the client's bytes untouched, and the text is counted for an estimate."""
    s, server = scripted
    s.pieces = [b"".join(EVENTS[:-1]) + b"data: [DONE]\n\n"]
    r = stream(make_gateway(), server, usage=False, provider="openai-compatible")
    assert r.status_code == 200 and r.content == b"".join(EVENTS[:-1]) + b"data: [DONE]\n\n"
    assert "stream_options" not in s.bodies[-1]
    (line,) = [x for x in logs() if x.get("event") == "request"]
    assert line["usage_estimated"] is True and line["completion_tokens"] == 1  # "abc"


def test_a_provider_that_ignores_the_ask_is_estimated_per_event(
    make_gateway, scripted, logs
) -> None:
    """Asked for usage, a server that sends none anyway is estimated at a token an event."""
    s, server = scripted
    s.pieces = [b"".join(EVENTS[:-1]) + b"data: [DONE]\n\n"]
    r = stream(make_gateway(), server, usage=False)
    assert r.status_code == 200 and r.content == b"".join(EVENTS[:-1]) + b"data: [DONE]\n\n"
    (line,) = [x for x in logs() if x.get("event") == "request"]
    assert line["usage_estimated"] is True and line["completion_tokens"] == 3


@pytest.mark.parametrize(
    "wire",
    [
        b"".join(EVENTS).replace(b"\n", b"\r\n") + b"data: [DONE]\r\n\r\n",
        b": keep-alive\n\n" + b"".join(EVENTS) + b"data: [DONE]\n\n",
        EVENTS[0] + b"event: delta\n" + EVENTS[1] + b"".join(EVENTS[2:]) + b"data: [DONE]\n\n",
    ],
)
def test_unusual_streams_take_the_full_grammar(make_gateway, scripted, wire) -> None:
    s, server = scripted
    s.pieces = split_every(wire, 9)
    r = stream(make_gateway(), server)
    assert r.status_code == 200
    data = [line for line in r.text.splitlines() if line.startswith("data: ")]
    assert data[-1] == "data: [DONE]" and data.count("data: [DONE]") == 1
    texts = [json.loads(d[6:])["choices"] for d in data[:-1]]
    assert [c[0]["delta"]["content"] for c in texts if c] == ["a", "b", "c"]


def test_nothing_after_done_and_truncation_is_an_error(make_gateway, scripted) -> None:
    s, server = scripted
    s.pieces = [EVENTS[0] + b"data: [DONE]\n\n" + event("smuggled")]
    r = stream(make_gateway(), server)
    assert b"smuggled" not in r.content and r.content.count(b"[DONE]") == 1
    s.pieces = [EVENTS[0], EVENTS[1]]  # no [DONE]: cut off
    r = stream(make_gateway(), server)
    last = [line for line in r.text.splitlines() if line.startswith("data: ")][-1]
    assert json.loads(last[6:])["error"]["code"] == "upstream_stream_truncated"


def test_a_broken_event_after_good_ones_ends_with_a_502_event(make_gateway, scripted) -> None:
    s, server = scripted
    s.pieces = [EVENTS[0] + b"data: {not json\n\n" + EVENTS[1]]
    r = stream(make_gateway(), server)
    data = [line for line in r.text.splitlines() if line.startswith("data: ")]
    assert json.loads(data[0][6:])["choices"][0]["delta"]["content"] == "a"
    assert json.loads(data[-1][6:])["error"]["code"] == "upstream_invalid_response"
    assert b"not json" not in r.content


class CountEvents:
    reads_events = True
    seen = 0

    async def __call__(self, ctx, call_next):  # type: ignore[no-untyped-def]
        reply = await call_next(ctx)

        async def count(chunks):  # type: ignore[no-untyped-def]
            async for c in chunks:
                assert not c.framed
                CountEvents.seen += 1
                yield c

        return reply.wrap(count)


def test_a_middleware_that_reads_events_gets_one_chunk_each(make_gateway, scripted, logs) -> None:
    s, server = scripted
    s.pieces = [b"".join(EVENTS) + b"data: [DONE]\n\n"]
    chain = [
        {"class": "tests.test_fast_stream:CountEvents"},
        {"class": "middleware.router:RouterMiddleware"},
    ]
    before = CountEvents.seen
    r = stream(make_gateway({"middleware": chain}), server)
    assert r.status_code == 200 and CountEvents.seen - before == 4
    # event by event too, the usage event the client did not ask for stays out: read by
    # the relay, its count rides on the last chunk (which the log line reads)
    chain.insert(0, {"class": "middleware.logging:LoggingMiddleware"})
    r = stream(make_gateway({"middleware": chain}), server, usage=False)
    assert r.content == b"".join(EVENTS[:-1]) + b"data: [DONE]\n\n"
    assert CountEvents.seen - before == 7
    (line,) = [x for x in logs() if x.get("event") == "request"][-1:]
    assert line["completion_tokens"] == 3 and "usage_estimated" not in line


@pytest.mark.parametrize("cr", [False, True])
def test_the_usage_event_is_dropped_on_the_grammar_path_too(make_gateway, scripted, cr) -> None:
    """CR line ends send the scan to the full SSE grammar: same answer, without the
    usage event the client did not ask for, and a usage event in the middle of a read
    (the events around it) is dropped alone."""
    s, server = scripted
    wire = EVENTS[0] + EVENTS[3] + EVENTS[1] + b"data: [DONE]\n\n"
    s.pieces = [wire.replace(b"\n", b"\r\n") if cr else wire]
    r = stream(make_gateway(), server, usage=False)
    data = [ln for ln in r.text.splitlines() if ln.startswith("data: ")]
    assert [json.loads(d[6:])["choices"][0]["delta"]["content"] for d in data[:-1]] == ["a", "b"]
    assert data[-1] == "data: [DONE]" and "usage" not in r.text


def test_the_reader_frames_whole_events_per_read() -> None:
    """The unit the relay uses: one framed chunk per read, usage read off the bytes."""
    from proxy.providers import get_adapter

    reader = get_adapter("openai").framed_stream(True)  # type: ignore[attr-defined]
    out: list[Any] = []
    wire = b"".join(EVENTS) + b"data: [DONE]\n\n"
    reader.feed(wire[:50], out)  # no event complete yet
    assert out == []
    reader.feed(wire[50:], out)
    reader.finish(out)
    assert len(out) == 1 and out[0].framed
    assert out[0].raw == b"".join(EVENTS)  # [DONE] is the front door's to write
    assert out[0].usage().total_tokens == 8


@pytest.mark.parametrize(
    "bad",
    [
        b'data: {"choices": []},{"choices": []}\n\n',  # two values in one event
        b"data: \n\n",  # an empty payload among events
        b"data: [DONE]\n\n" + b'data: {"choices": []}\n\n',  # [DONE] mid-block, then more
        b'data: {"choices": []}\n\n\n\n',  # a stray blank line
    ],
)
def test_the_one_pass_check_leaves_odd_blocks_to_the_event_loop(bad: bytes) -> None:
    """What the joined-array pass cannot vouch for goes event by event: two JSON values
    in one event are an error there, never relayed; the others are what the loop makes of
    them."""
    from proxy.errors import UpstreamInvalid
    from proxy.providers import get_adapter

    reader = get_adapter("openai").framed_stream(True)  # type: ignore[attr-defined]
    out: list[Any] = []
    wire = EVENTS[0] + bad + EVENTS[1] + b"data: [DONE]\n\n"
    raised = False
    try:
        reader.feed(wire, out)
        reader.finish(out)
    except UpstreamInvalid:
        raised = True
    assert raised == bad.startswith(b'data: {"choices": []},')
    relayed = b"".join(c.raw for c in out if c.framed)
    assert b"},{" not in relayed and relayed.startswith(EVENTS[0])
    if bad.startswith(b"data: [DONE]"):
        assert b'"b"' not in relayed  # nothing after [DONE]


def test_a_scanned_block_is_the_chunk_the_constructor_makes() -> None:
    """``Chunk.block`` skips the constructor's keywords for the fast relay: same chunk."""
    from proxy.reply import Chunk
    from proxy.schema import Usage

    for raw, usage, chars, final in (
        (EVENTS[0], None, 4, False),
        (EVENTS[3], Usage(5, 3, 8), 0, True),
    ):
        made = Chunk(raw=raw, usage=usage, framed=True, chars=chars, final=final)
        fast = Chunk.block(raw, usage, chars, final)
        for name in ("raw", "flush", "event", "framed", "chars", "final", "wire"):
            assert getattr(fast, name) == getattr(made, name), name
        assert fast.usage() == made.usage()


@pytest.mark.parametrize("cut", [1, 2, 3, 4])
def test_reads_of_one_or_more_whole_events_relay_each_once(cut: int) -> None:
    from proxy.providers import get_adapter

    reader = get_adapter("openai").framed_stream(False)  # type: ignore[attr-defined]
    out: list[Any] = []
    reader.feed(b"".join(EVENTS[:cut]), out)  # a read that ends on an event's end
    reader.feed(b"".join(EVENTS[cut:]) + b"data: [DONE]\n\n", out)
    reader.finish(out)
    assert b"".join(c.raw for c in out) == b"".join(EVENTS[:3])  # the usage event is left out
    assert reader.dropped is not None and reader.dropped.total_tokens == 8


@pytest.mark.parametrize(
    "crafted",
    [
        # one event ends inside a value and the next completes it: joined with commas
        # into one array these parse, with as many values as events
        b'data: {"x":"\n\ndata: "},{}\n\n',
        b'data: {"a":[1\n\ndata: 2]},{}\n\n',
        b'data: {"a":[{}\n\ndata: {}]},{}\n\n',
        b'data: {"a":"}\n\ndata: {"},{}\n\n',
        b'data: {"a":{}\n\ndata: {"b":1}}\n\n',
    ],
)
def test_events_that_are_json_only_together_are_never_relayed(crafted: bytes) -> None:
    """Found by a review: events that are not JSON one by one, but whose pieces join into
    valid JSON, passed the one-pass check. Each must be a 502, with nothing of it sent."""
    from proxy.errors import UpstreamInvalid
    from proxy.providers import get_adapter

    for count in (True, False):
        reader = get_adapter("openai").framed_stream(count)  # type: ignore[attr-defined]
        out: list[Any] = []
        with pytest.raises(UpstreamInvalid):
            reader.feed(EVENTS[0] + crafted + EVENTS[1] + b"data: [DONE]\n\n", out)
            reader.finish(out)
        assert b"".join(c.raw for c in out) == EVENTS[0]


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.text('{}[]":,a1 \\', max_size=14), min_size=1, max_size=5), st.booleans())
def test_every_relayed_event_is_a_json_object_on_its_own(payloads: list[str], count: bool):
    """Whatever events an upstream sends, the fast reader relays only events whose data is
    a JSON object by itself, or empty (or it raises: the stream ends with a 502 event)."""
    from proxy.errors import UpstreamInvalid
    from proxy.providers import get_adapter

    reader = get_adapter("openai").framed_stream(count)  # type: ignore[attr-defined]
    out: list[Any] = []
    wire = b"".join(b"data: " + p.encode() + b"\n\n" for p in payloads) + b"data: [DONE]\n\n"
    try:
        reader.feed(wire, out)
        reader.finish(out)
    except UpstreamInvalid:
        pass
    relayed = b"".join(c.raw for c in out if c.framed) + b"".join(
        b"data: " + c.raw + b"\n\n" for c in out if not c.framed
    )
    for event in relayed.split(b"\n\n")[:-1]:
        assert event.startswith(b"data: ")
        if event != b"data: ":  # an event without data, which SSE clients do not dispatch
            assert isinstance(json.loads(event[6:]), dict), event
