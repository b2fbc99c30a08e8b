"""What a chain returns: a complete answer or a stream of chunks.

Both keep the bytes and the typed view side by side and convert lazily: an OpenAI-compatible
answer is relayed byte for byte (nothing lost, nothing re-encoded) unless some middleware
asks for the typed view, and a native adapter's typed chunks are encoded once, at the edge.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, ClassVar, Generic, TypeVar

import msgspec

from proxy.errors import UpstreamInvalid
from proxy.schema import (
    ChatCompletion,
    ChatCompletionChunk,
    Usage,
    chunk_decoder,
    completion_decoder,
    encoder,
    usage_decoder,
)

S = TypeVar("S", ChatCompletion, ChatCompletionChunk)


class _Lazy(Generic[S]):
    """JSON bytes and/or the typed Struct of one message; each made from the other on use."""

    __slots__ = ("_parsed", "_raw")
    _decoder: ClassVar[msgspec.json.Decoder[Any]]
    kind: ClassVar[str]

    def __init__(self, raw: bytes | None, parsed: S | None) -> None:
        self._raw = raw
        self._parsed: S | None = parsed

    @property
    def raw(self) -> bytes:
        if self._raw is None:
            self._raw = encoder.encode(self._parsed)
        return self._raw

    @property
    def parsed(self) -> S:
        found = self._parsed
        if found is None:
            assert self._raw is not None
            try:
                found = self._parsed = self._decoder.decode(self._raw)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                # bytes are only ever the upstream's (or a cache's copy of them)
                raise UpstreamInvalid(
                    f"the upstream answer is not a valid {self.kind}: {exc}"
                ) from None
        return found

    def replace(self, parsed: S) -> None:
        """Swap in an edited message; the bytes are re-encoded on next use."""
        self._parsed = parsed
        self._raw = None


class Completion(_Lazy[ChatCompletion]):
    """A complete chat completion."""

    __slots__ = ("_usage",)
    _decoder = completion_decoder
    kind = "chat completion"

    def __init__(
        self,
        raw: bytes | None = None,
        parsed: ChatCompletion | None = None,
        usage: Usage | bool | None = False,  # False: not looked up yet
    ) -> None:
        if raw is None and parsed is None:
            raise ValueError("a Completion needs bytes or a ChatCompletion")
        super().__init__(raw, parsed)
        self._usage = usage

    def replace(self, parsed: ChatCompletion) -> None:
        super().replace(parsed)
        self._usage = False

    def usage(self) -> Usage | None:
        """The answer's usage; read once (logging, metrics and cost all ask)."""
        if self._usage is not False:
            return self._usage  # type: ignore[return-value]
        found: Usage | None = None
        if self._parsed is not None:
            u = self._parsed.usage
            found = u if isinstance(u, Usage) else None
        else:
            try:
                found = usage_decoder.decode(self.raw).usage
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                raise UpstreamInvalid(f"the upstream answer has a malformed usage: {exc}") from None
        self._usage = found
        return found


class Chunk(_Lazy[ChatCompletionChunk]):
    """One ``chat.completion.chunk`` of a stream.

    ``flush`` is False when more chunks are already in hand (the relay decoded several from
    one upstream read): the handler then sends them to the client in one write instead of
    one syscall each. A middleware that drops a chunk should carry its ``flush`` over.
    """

    __slots__ = ("_usage", "flush")
    _decoder = chunk_decoder
    kind = "chat completion chunk"

    def __init__(
        self,
        raw: bytes | None = None,
        parsed: ChatCompletionChunk | None = None,
        flush: bool = True,
        usage: Usage | bool | None = False,  # False: not looked up yet
    ) -> None:
        super().__init__(raw, parsed)
        self.flush = flush
        self._usage = usage

    def replace(self, parsed: ChatCompletionChunk) -> None:
        super().replace(parsed)
        self._usage = False

    def usage(self) -> Usage | None:
        """Usage if this chunk carries it (cheap check on the bytes first)."""
        if self._usage is not False:
            return self._usage  # type: ignore[return-value]
        if self._parsed is None and b'"usage"' not in self.raw:
            found = None
        else:
            u = self.parsed.usage
            found = u if isinstance(u, Usage) else None
        self._usage = found
        return found


class Reply:
    """Common part of both reply kinds: the status and headers for the client."""

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


class StreamReply(Reply):
    """A stream of chunks. Whoever consumes ``chunks`` must ``aclose()`` it when done."""

    __slots__ = ("chunks",)

    def __init__(
        self,
        chunks: AsyncIterator[Chunk],
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status, headers)
        self.chunks = chunks

    def wrap(self, wrapper: Callable[[AsyncIterator[Chunk]], AsyncIterator[Chunk]]) -> StreamReply:
        """Wrap the chunk iterator (tee, transform, observe) keeping status and headers."""
        self.chunks = wrapper(self.chunks)
        return self


async def aclose(it: AsyncIterator[Any]) -> None:
    """Close an async iterator if it can be closed (async generators can)."""
    close: Callable[[], Awaitable[None]] | None = getattr(it, "aclose", None)
    if close is not None:
        await close()
