"""Stored entries and how they come back: as one answer, or replayed as a stream.

An entry is the provider's answer as a ``chat.completion`` JSON (a stream is assembled into
one first) plus the provider's name; nothing of the request and no credential is stored. A
stream request answered from an entry gets role, content, tool-call and finish chunks (and
the usage chunk when it asked for ``stream_options.include_usage``); the handler ends it with
``data: [DONE]`` as always.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable

import msgspec

from proxy.context import RequestContext
from proxy.convert import StreamAssembler, completion_to_chunks
from proxy.reply import Chunk, Completion, CompletionReply, Reply, StreamReply, aclose
from proxy.schema import ChatCompletion, completion_decoder, encoder


class Entry(msgspec.Struct, array_like=True):
    provider: str | None
    stored_at: float  # unix time, for operators reading Redis
    completion: msgspec.Raw


_entry_decoder = msgspec.json.Decoder(Entry)


def encode_entry(provider: str | None, completion: bytes) -> bytes:
    return encoder.encode(Entry(provider, round(time.time(), 3), msgspec.Raw(completion)))


def decode_entry(raw: bytes) -> Entry | None:
    """None for anything unreadable (another version's entry, a corrupted value)."""
    try:
        return _entry_decoder.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


def hit_reply(ctx: RequestContext, entry: Entry) -> Reply:
    if not ctx.stream:
        return CompletionReply(Completion(raw=bytes(entry.completion)))
    completion = completion_decoder.decode(entry.completion)
    chunks = completion_to_chunks(completion, ctx.body.head.include_usage)
    return StreamReply(_iterate(chunks))


async def _iterate(chunks: list[Chunk]) -> AsyncIterator[Chunk]:
    for c in chunks:
        yield c


def complete(c: ChatCompletion) -> bool:
    """A stream is only worth storing if every choice reached its finish reason."""
    return bool(c.choices) and all(ch.finish_reason for ch in c.choices)


async def tee(
    chunks: AsyncIterator[Chunk], on_complete: Callable[[bytes], Awaitable[None]]
) -> AsyncIterator[Chunk]:
    """Pass the chunks on unchanged; after the last one, hand the assembled answer over.

    Nothing is handed over when the stream fails, is cut short or the client goes away:
    the code after the loop only runs when the upstream ended cleanly.
    """
    asm = StreamAssembler()
    try:
        async for chunk in chunks:
            asm.add(chunk.parsed)
            yield chunk
    finally:
        await aclose(chunks)
    result = asm.result()
    if complete(result):
        await on_complete(encoder.encode(result))
