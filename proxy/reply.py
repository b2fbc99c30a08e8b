"""What a chain returns: a complete answer, a stream of chunks, or an opaque body.

``Completion`` and ``Chunk`` keep the bytes and the typed chat view side by side and convert
lazily: an OpenAI-compatible answer is relayed byte for byte (nothing lost, nothing
re-encoded) unless some middleware asks for the typed view, and a native adapter's typed
chunks are encoded once, at the edge.

Their bytes are in a *wire* format: ``chat`` (OpenAI's), or the native format of a front
door whose upstream speaks it too (``anthropic`` for ``/v1/messages`` sent to Claude). A
non-chat wire registers a ``WireCodec`` (``proxy.wires``) that reads the chat view and the
usage from those bytes, so middlewares see chat whatever the wire, and the front door
writes the bytes unchanged when they are already in its own format.

``BodyReply`` is an answer no middleware reads into (embeddings, files, audio): bytes or a
byte stream with its content type, and the usage when the endpoint reports one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import msgspec

from proxy.errors import GatewayError, UpstreamInvalid
from proxy.schema import (
    ChatCompletion,
    ChatCompletionChunk,
    Usage,
    chunk_decoder,
    completion_decoder,
    encoder,
    usage_decoder,
)
from proxy.wires import wire_codec

S = TypeVar("S", ChatCompletion, ChatCompletionChunk)


class _Lazy(Generic[S]):
    """JSON bytes and/or the typed Struct of one message; each made from the other on use."""

    __slots__ = ("_parsed", "_raw", "_usage", "wire")
    _decoder: ClassVar[msgspec.json.Decoder[Any]]
    kind: ClassVar[str]

    def __init__(
        self,
        raw: bytes | None,
        parsed: S | None,
        usage: Usage | bool | None = False,  # False: not looked up yet
        wire: str = "chat",
    ) -> None:
        self._raw = raw
        self._parsed: S | None = parsed
        self._usage = usage
        self.wire = wire if raw is not None else "chat"

    @property
    def raw(self) -> bytes:
        """The bytes, in ``wire`` format."""
        if self._raw is None:
            self._raw = encoder.encode(self._parsed)
        return self._raw

    @property
    def parsed(self) -> S:
        """The typed chat view (converted from the wire's bytes on first use)."""
        found = self._parsed
        if found is None:
            assert self._raw is not None
            try:
                if self.wire == "chat":
                    found = self._decoder.decode(self._raw)
                else:
                    found = self._from_wire(self._raw)
            except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
                # bytes are only ever the upstream's (or a cache's copy of them)
                raise UpstreamInvalid(
                    f"the upstream answer is not a valid {self.kind}: {exc}"
                ) from None
            self._parsed = found
        return found

    def _from_wire(self, raw: bytes) -> S:
        raise NotImplementedError

    def chat_bytes(self) -> bytes:
        """The bytes in chat form: ``raw`` when the wire is chat, else the chat view encoded
        (for middlewares that edit the answer as JSON, whatever the front door)."""
        return self.raw if self.wire == "chat" else encoder.encode(self.parsed)

    def replace(self, parsed: S) -> None:
        """Swap in an edited message; the bytes are re-encoded (as chat) on next use."""
        self._parsed = parsed
        self._raw = None
        self._usage = False
        self.wire = "chat"

    def usage(self) -> Usage | None:
        """The usage this message carries (read once: logging, metrics and cost all ask)."""
        if self._usage is not False:
            return self._usage  # type: ignore[return-value]
        found = self._find_usage()
        self._usage = found
        return found

    def _find_usage(self) -> Usage | None:
        if self._parsed is not None:
            u = self._parsed.usage
            return u if isinstance(u, Usage) else None
        raw = self.raw
        try:
            if self.wire != "chat":
                return wire_codec(self.wire).usage(raw)
            if b'"usage"' not in raw:
                return None
            return usage_decoder.decode(raw).usage
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
            raise UpstreamInvalid(f"the upstream answer has a malformed usage: {exc}") from None


class Completion(_Lazy[ChatCompletion]):
    """A complete chat completion."""

    __slots__ = ()
    _decoder = completion_decoder
    kind = "chat completion"

    def __init__(
        self,
        raw: bytes | None = None,
        parsed: ChatCompletion | None = None,
        usage: Usage | bool | None = False,
        wire: str = "chat",
    ) -> None:
        if raw is None and parsed is None:
            raise ValueError("a Completion needs bytes or a ChatCompletion")
        super().__init__(raw, parsed, usage, wire)

    def _from_wire(self, raw: bytes) -> ChatCompletion:
        return wire_codec(self.wire).completion(raw)


class Chunk(_Lazy[ChatCompletionChunk]):
    """One ``chat.completion.chunk`` of a stream (or one native event of its wire).

    ``flush`` is False when more chunks are already in hand (the relay decoded several from
    one upstream read): the handler then sends them to the client in one write instead of
    one syscall each. A middleware that drops a chunk should carry its ``flush`` over.
    ``event`` is the SSE event name of a native event (Anthropic names every event).
    A native event has no chat view of its own (stream translation keeps state): a
    middleware that reads stream content sets ``ctx.reads_reply`` before the upstream is
    called, and then every chunk it sees is chat. So is a ``framed`` chunk's absence: its
    raw is whole SSE events (``data: ...\n\n`` each) written as they came, the fast relay
    of a chat stream nobody reads event by event (providers/openai_stream.py); its usage
    was read when it was scanned.
    """

    __slots__ = ("chars", "event", "final", "flush", "framed")
    _decoder = chunk_decoder
    kind = "chat completion chunk"

    def __init__(
        self,
        raw: bytes | None = None,
        parsed: ChatCompletionChunk | None = None,
        flush: bool = True,
        usage: Usage | bool | None = False,
        wire: str = "chat",
        event: str | None = None,
        framed: bool = False,
        chars: int = 0,
        final: bool = False,
    ) -> None:
        super().__init__(raw, parsed, usage, wire)
        self.flush = flush
        self.event = event
        self.framed = framed
        self.chars = chars  # a framed chunk's text length, counted when it was scanned
        # the stream's end marker came with it: the writer sends it with the end of the
        # body in one write instead of two
        self.final = final

    def _from_wire(self, raw: bytes) -> ChatCompletionChunk:
        raise UpstreamInvalid(f"a native {self.wire} stream event has no chat view")

    @classmethod
    def block(cls, raw: bytes, usage: Usage | None, chars: int, final: bool) -> Chunk:
        """A ``framed`` chunk (whole chat SSE events, scanned): what the constructor would
        make of these arguments, without its keyword handling (one per upstream read)."""
        c = cls.__new__(cls)
        c._raw, c._parsed, c._usage, c.wire = raw, None, usage, "chat"
        c.flush, c.event, c.framed, c.chars, c.final = True, None, True, chars, final
        return c


class Reply:
    """Common part of every reply kind: the status and headers for the client."""

    __slots__ = ("headers", "status")

    def __init__(self, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.headers: dict[str, str] = headers if headers is not None else {}


class CompletionReply(Reply):
    __slots__ = ("completion",)

    def __init__(
        self, completion: Completion, status: int = 200, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status, headers)
        self.completion = completion


class StreamWatcher(Protocol):
    """Sees a stream's chunks go by without changing them, and its end: ``end`` gets the
    status the client saw (499 ``client_closed`` when it left first) and the error type."""

    def chunk(self, chunk: Chunk) -> None: ...

    def end(self, status: int, error: str | None) -> None: ...


class StreamReply(Reply):
    """A stream of chunks. Whoever consumes ``chunks`` must ``aclose()`` it when done.

    ``chunks`` may be replaced (``wrap``, or assigned): whatever replaces it ends the
    layer that watchers share, so a watcher added later gets a layer around the new
    iterator and sees every chunk that leaves it (one that joined the old layer would sit
    below the new iterator and miss what it adds or reorders)."""

    __slots__ = ("_chunks", "_watchers")

    def __init__(
        self,
        chunks: AsyncIterator[Chunk],
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status, headers)
        self._chunks = chunks
        self._watchers: list[StreamWatcher] | None = None  # those of the outermost layer

    @property
    def chunks(self) -> AsyncIterator[Chunk]:
        return self._chunks

    @chunks.setter
    def chunks(self, chunks: AsyncIterator[Chunk]) -> None:
        self._chunks = chunks
        self._watchers = None  # the outermost iterator is no longer the watched one

    def wrap(self, wrapper: Callable[[AsyncIterator[Chunk]], AsyncIterator[Chunk]]) -> StreamReply:
        """Wrap the chunk iterator (tee, transform, observe) keeping status and headers."""
        self.chunks = wrapper(self._chunks)
        return self

    @classmethod
    def watched_at_source(
        cls,
        source: Callable[[StreamReply, list[StreamWatcher]], AsyncIterator[Chunk]],
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> StreamReply:
        """A stream whose source calls the watchers itself (the relay's pump):
        ``source(reply, watchers)`` makes the chunks, calls ``watchers`` with each, and
        ends them (``end_watchers``) once it has finished. Watchers added while ``chunks``
        is still that source land in that list, and need no layer of their own."""
        reply = cls.__new__(cls)
        Reply.__init__(reply, status, headers)
        watchers: list[StreamWatcher] = []
        reply._chunks = source(reply, watchers)
        reply._watchers = watchers
        return reply

    def watch(self, watcher: StreamWatcher) -> StreamReply:
        """Let ``watcher`` see the chunks and the end. Watchers added one after another
        share one layer (each its own async generator would cost a layer per chunk and
        per end); they see each chunk and the end in the order they were added, as nested
        wrappers would (the innermost first)."""
        if self._watchers is not None:
            self._watchers.append(watcher)
            return self
        watchers = [watcher]
        self._chunks = _watched(self, self._chunks, watchers)
        self._watchers = watchers
        return self


class BodyReply(Reply):
    """An answer relayed as it came: ``body`` is bytes, or an async iterator of byte pieces
    (closed by whoever consumes it). ``usage``: what the endpoint reported, if anything."""

    __slots__ = ("body", "content_type", "usage")

    def __init__(
        self,
        body: bytes | AsyncIterator[bytes],
        content_type: str = "application/json",
        status: int = 200,
        headers: dict[str, str] | None = None,
        usage: Usage | None = None,
    ) -> None:
        super().__init__(status, headers)
        self.body = body
        self.content_type = content_type
        self.usage = usage


async def _watched(
    reply: StreamReply, chunks: AsyncIterator[Chunk], watchers: list[StreamWatcher]
) -> AsyncIterator[Chunk]:
    failed: BaseException | None = None
    try:
        async for chunk in chunks:
            for w in watchers:
                w.chunk(chunk)
            yield chunk
    except BaseException as exc:
        failed = exc
        raise
    finally:
        try:
            await aclose(chunks)
        finally:
            end_watchers(watchers, *stream_outcome(failed, reply.status))


def stream_outcome(failed: BaseException | None, status: int) -> tuple[int, str | None]:
    """How a stream ended, for its watchers: ``status`` when it ran out, a gateway error's
    own status, 500 for a bug (the handler sends an error event), else the client left."""
    if failed is None:
        return status, None
    if isinstance(failed, GatewayError):
        return failed.status, failed.type
    if isinstance(failed, Exception):
        return 500, "internal_error"
    return 499, "client_closed"  # GeneratorExit, CancelledError: the client went away


def end_watchers(watchers: list[StreamWatcher], status: int, error: str | None) -> None:
    """Every watcher ends, even after one that failed (whose error is then raised)."""
    failed: Exception | None = None
    for w in watchers:
        try:
            w.end(status, error)
        except Exception as exc:
            failed = failed or exc
    if failed is not None:
        raise failed


async def aclose(it: AsyncIterator[Any]) -> None:
    """Close an async iterator if it can be closed (async generators can)."""
    close: Callable[[], Awaitable[None]] | None = getattr(it, "aclose", None)
    if close is not None:
        await close()
