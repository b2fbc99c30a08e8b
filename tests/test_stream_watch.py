"""``StreamReply.watch``: watchers added one after another share one layer and behave as
nested wrappers did: each sees every chunk and the end, innermost first; the end says how
the stream ended (done, a gateway error, a bug, the client leaving); every watcher ends
even after one that fails; a ``wrap`` between two watchers keeps them in order around it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from proxy.errors import GatewayError, UpstreamError
from proxy.reply import Chunk, StreamReply, aclose, end_watchers, stream_outcome


class Seen:
    def __init__(self, name: str, log: list[str], fail_at_end: bool = False) -> None:
        self.name, self.log, self.fail_at_end = name, log, fail_at_end

    def chunk(self, chunk: Chunk) -> None:
        self.log.append(f"{self.name}:{chunk.raw.decode()}")

    def end(self, status: int, error: str | None) -> None:
        self.log.append(f"{self.name}:end {status} {error}")
        if self.fail_at_end:
            raise RuntimeError(f"{self.name} failed")


async def source(n: int, then: BaseException | None = None) -> AsyncIterator[Chunk]:
    for i in range(n):
        yield Chunk(raw=str(i).encode())
    if then is not None:
        raise then


async def drain(reply: StreamReply) -> list[bytes]:
    out = []
    try:
        async for c in reply.chunks:
            out.append(c.raw)
    finally:
        await aclose(reply.chunks)
    return out


def test_watchers_share_one_layer_and_see_everything_innermost_first() -> None:
    log: list[str] = []
    reply = StreamReply(source(2), status=200)
    inner = reply.chunks
    reply.watch(Seen("a", log)).watch(Seen("b", log))
    layer = reply.chunks
    reply.watch(Seen("c", log))
    assert reply.chunks is layer and layer is not inner  # one layer for the three
    assert asyncio.run(drain(reply)) == [b"0", b"1"]
    assert log == ["a:0", "b:0", "c:0", "a:1", "b:1", "c:1"] + [f"{n}:end 200 None" for n in "abc"]


@pytest.mark.parametrize(
    ("failure", "status", "error"),
    [
        (UpstreamError("broke", status=502, code="upstream_stream_broken"), 502, "upstream_error"),
        (KeyError("a bug below"), 500, "internal_error"),
    ],
)
def test_the_end_names_the_failure(failure: BaseException, status: int, error: str) -> None:
    log: list[str] = []
    reply = StreamReply(source(1, failure)).watch(Seen("a", log))
    with pytest.raises(type(failure)):
        asyncio.run(drain(reply))
    expected = failure.type if isinstance(failure, GatewayError) else error
    assert log == ["a:0", f"a:end {status} {expected}"]


def test_a_client_that_leaves_is_499_and_the_source_is_closed() -> None:
    log: list[str] = []
    closed: list[bool] = []

    async def endless() -> AsyncIterator[Chunk]:
        try:
            while True:
                yield Chunk(raw=b"x")
        finally:
            closed.append(True)

    async def leave_after_one() -> None:
        reply = StreamReply(endless()).watch(Seen("a", log))
        await anext(reply.chunks)
        await aclose(reply.chunks)

    asyncio.run(leave_after_one())
    assert log == ["a:x", "a:end 499 client_closed"] and closed == [True]


def test_every_watcher_ends_even_after_one_fails() -> None:
    log: list[str] = []
    reply = StreamReply(source(1)).watch(Seen("a", log, fail_at_end=True)).watch(Seen("b", log))
    with pytest.raises(RuntimeError, match="a failed"):
        asyncio.run(drain(reply))
    assert log == ["a:0", "b:0", "a:end 200 None", "b:end 200 None"]


def test_a_wrap_between_watchers_keeps_their_order_around_it() -> None:
    log: list[str] = []

    async def upper(chunks: AsyncIterator[Chunk]) -> AsyncIterator[Chunk]:
        try:
            async for c in chunks:
                log.append("wrap")
                yield Chunk(raw=c.raw + b"!")
        finally:
            log.append("wrap:end")
            await aclose(chunks)

    reply = StreamReply(source(1)).watch(Seen("a", log)).wrap(upper).watch(Seen("b", log))
    assert asyncio.run(drain(reply)) == [b"0!"]
    assert log == ["a:0", "wrap", "b:0!", "a:end 200 None", "wrap:end", "b:end 200 None"]


def test_a_source_that_calls_the_watchers_itself_gets_them_without_a_layer() -> None:
    log: list[str] = []

    async def source(reply: StreamReply, watchers: list) -> AsyncIterator[Chunk]:
        failed: BaseException | None = None
        try:
            for c in (Chunk(raw=b"0"),):
                for w in watchers:
                    w.chunk(c)
                yield c
        except BaseException as exc:
            failed = exc
            raise
        finally:
            log.append("source:end")
            end_watchers(watchers, *stream_outcome(failed, reply.status))

    reply = StreamReply.watched_at_source(source, 200)
    own = reply.chunks
    reply.watch(Seen("a", log)).watch(Seen("b", log))
    assert reply.chunks is own  # no layer: the source calls them
    reply.wrap(lambda chunks: chunks).watch(Seen("c", log))
    assert reply.chunks is not own  # after a wrap, a layer of its own
    assert asyncio.run(drain(reply)) == [b"0"]
    ends = ["source:end", "a:end 200 None", "b:end 200 None", "c:end 200 None"]
    assert log == ["a:0", "b:0", "c:0", *ends]


def test_an_assigned_iterator_ends_the_shared_layer_as_a_wrap_does() -> None:
    log: list[str] = []

    async def prepend(chunks: AsyncIterator[Chunk]) -> AsyncIterator[Chunk]:
        yield Chunk(raw=b"first")
        async for c in chunks:
            yield c

    reply = StreamReply(source(1)).watch(Seen("a", log))
    reply.chunks = prepend(reply.chunks)  # as the router's peek does
    reply.watch(Seen("b", log))  # must see what the new iterator hands out
    assert asyncio.run(drain(reply)) == [b"first", b"0"]
    assert log == ["b:first", "a:0", "b:0", "a:end 200 None", "b:end 200 None"]
