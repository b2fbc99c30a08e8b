"""An OpenAI-compatible SSE stream relayed at the speed of its bytes.

When no middleware reads a stream's events (``ctx.reads_reply`` unset: no output
guardrail, no cache store, no body capture) and the front door writes chat SSE, the events
are not decoded into chunks one by one: each upstream read becomes one ``framed`` Chunk
holding the complete events as they came (``data: {...}\\n\\n`` blocks), written to the
client unchanged. The bytes are still scanned, event by event, for what the gateway
needs: each event is checked to be a JSON object in one msgspec pass that also reads its
``usage`` and ``error`` (so a hostile stream is still a 502, never relayed), ``[DONE]``
ends it (the front door writes its own), and a stream cut off before it is an error.
Anything unusual (CR line ends, comments, named or multi-line events) falls back, for the
rest of the stream, to the event-by-event path, which knows the whole SSE grammar.

Where the gateway asked the provider for its usage event (``asks_usage`` rows), the scan
reads nothing of ``choices``: the count comes from the provider, and the text is not
counted for an estimate (a provider that ignores the option is estimated at one token per
event). The usage event is dropped from the relay when the client did not ask for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from proxy.errors import UpstreamInvalid, UpstreamTooLarge
from proxy.reply import Chunk
from proxy.schema import Usage
from proxy.sse import MAX_EVENT_BYTES, SSEDecoder

if TYPE_CHECKING:
    from proxy.providers.openai_compat import PassthroughStream


# the scan's shapes hold strings, numbers and each other, never a cycle: untracked by the
# cyclic GC (cheaper to make and free, and they do not count towards a collection)
class _Fn(msgspec.Struct, gc=False):
    arguments: str | None = None


class _ToolCall(msgspec.Struct, gc=False):
    function: _Fn | None = None


class _Delta(msgspec.Struct, gc=False):
    content: str | None = None
    reasoning_content: str | None = None
    refusal: str | None = None
    tool_calls: list[_ToolCall] | None = None


class _Choice(msgspec.Struct, gc=False):
    delta: _Delta | None = None


class _EventShape(msgspec.Struct, gc=False):
    """What the gateway reads of an event: usage, an error, and the text's length (for a
    usage estimate when the provider reports none), in the same pass that checks it."""

    usage: Usage | None = None
    error: Any = None
    choices: list[_Choice] = msgspec.field(default_factory=list)


class _EventHead(msgspec.Struct, gc=False):
    """What the gateway reads of an event when the provider reports usage: the rest,
    ``choices`` included, is only checked to be JSON (skipped, never built)."""

    usage: Usage | None = None
    error: Any = None


class _Choices(msgspec.Struct, gc=False):
    choices: list[msgspec.Raw] | None = None


# a provider asked for usage that reports none: one token per event (four characters)
CHARS_PER_EVENT = 4


def text_chars(shapes: list[_EventShape]) -> int:
    n = 0
    for shape in shapes:
        for choice in shape.choices:
            d = choice.delta
            if d is None:
                continue
            if d.content:  # nearly every event: the rest only where present
                n += len(d.content)
            if d.reasoning_content or d.refusal or d.tool_calls:
                n += _other_chars(d)
    return n


def _other_chars(d: _Delta) -> int:
    n = len(d.reasoning_content or "") + len(d.refusal or "")
    for call in d.tool_calls or ():
        if call.function is not None:
            n += len(call.function.arguments or "")
    return n


_event = msgspec.json.Decoder(_EventShape)
_head = msgspec.json.Decoder(_EventHead)
_NOTHING = _EventHead()  # an event with neither usage nor error (structs compare in C)
_choices = msgspec.json.Decoder(_Choices)


def usage_only(payload: bytes) -> bool:
    """An event with usage is the usage event OpenAI sends last when asked if it has no
    choices (empty, null or absent): the one place both stream paths decide it."""
    try:
        return not _choices.decode(payload).choices
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return False  # choices that are not a list: an odd chunk, relayed as it is


_DONE = b"data: [DONE]\n\n"
_SEP = b"\n\ndata: "
_BRACED_SEP = b"}\n\ndata: {"  # where one event's object ends and the next one's begins


class FramedStream:
    """The relay's reader for a fast stream: ``feed(bytes, out)`` appends the chunks of a
    read to ``out`` (what came before an error stays there), ``finish(out)`` at the end.
    ``count_text``: count the text for an estimate (the provider was not asked for usage).
    ``events`` (the event-by-event reader, for the fall-back) also decides which usage event
    is left out of the relay, and keeps its count (``dropped``)."""

    __slots__ = ("_count", "_done", "_events", "_provider", "_sse", "_tail")

    def __init__(self, provider: str, events: PassthroughStream, count_text: bool = True) -> None:
        self._provider = provider
        self._events = events
        self._count = count_text
        self._sse: SSEDecoder | None = None  # set once the stream needs the full grammar
        self._tail = b""
        self._done = False

    def feed(self, data: bytes, out: list[Chunk]) -> None:
        if self._sse is not None:
            self._slow(data, out)
            return
        buf = self._tail + data if self._tail else data
        if b"\r" in buf:
            self._fallback(buf, out)
            return
        end = buf.rfind(b"\n\n")
        if end < 0:
            self._keep(buf)
            return
        if end + 2 == len(buf):  # the read ended on an event's end: no copy of it
            self._tail, block = b"", buf
        else:
            self._tail, block = buf[end + 2 :], buf[: end + 2]
        if not self._done and self._plain(block, out):
            return
        usage: Usage | None = None
        shapes: list[Any] = []
        start = 0  # where the events not yet handed out begin
        cut = len(block)
        pos = 0
        for ev in block[:-2].split(b"\n\n"):
            at, pos = pos, pos + len(ev) + 2
            if self._done:  # nothing after [DONE] is relayed
                cut = min(cut, at)
                break
            if not ev.startswith(b"data:") or b"\n" in ev:
                if not ev:
                    continue
                self._framed(block[start:at], usage, out, self._chars(shapes))
                self._fallback(block[at:] + self._tail, out)
                return
            payload = ev[6:] if ev[5:6] == b" " else ev[5:]
            if payload == b"[DONE]":
                self._done = True
                cut = at
                continue
            if not payload:
                continue
            try:
                shape = self._check(payload)
            except Exception:  # the events before it still go out
                self._framed(block[start:at], usage, out, self._chars(shapes))
                raise
            if self._events.drops(shape.usage, payload):  # read, not relayed
                self._framed(block[start:at], usage, out, self._chars(shapes))
                usage, shapes, start = None, [], pos
                continue
            shapes.append(shape)
            if shape.usage is not None:
                usage = shape.usage
        self._framed(block[start:cut], usage, out, self._chars(shapes))

    def _plain(self, block: bytes, out: list[Chunk]) -> bool:
        """The common case in a few C calls: only one-line ``data: {...}`` events (and a
        last ``[DONE]``), checked in one msgspec pass. The block is split where one
        event's ``}`` meets the next one's ``{`` and joined again with a CR between them:
        ``}`` CR ``{`` is valid JSON only between two whole values (inside a container a
        ``,`` or a closer must follow a value; a raw CR cannot be inside a string), so no
        value can run from one event into the next, and one value per event is what
        ``decode_lines`` must find. A newline left after the join is another kind of
        line (or a boundary that is not ``}`` ``{``). False: something else is in the
        block; the event-by-event loop handles it (a crafted event is a 502 there)."""
        if not block.startswith(b"data: {"):
            return False
        body = block
        if block.endswith(_DONE):
            body = block[: -len(_DONE)]
            self._done = True
        if not body:
            return True
        if not body.endswith(b"}\n\n"):
            self._done = False
            return False
        pieces = body.split(_BRACED_SEP)
        n = len(pieces)
        if n == 1:
            pieces[0] = body[6:-2]
        else:  # the first event's "data: " and the last one's blank line, off them alone
            pieces[0], pieces[-1] = pieces[0][6:], pieces[-1][:-2]
        text = b"}\r{".join(pieces)  # the block holds no CR (``feed``)
        if b"\n" in text:
            self._done = False
            return False
        try:
            # an event of its own that is [DONE], or empty, fails here too
            shapes: list[Any] = (_event if self._count else _head).decode_lines(text)
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
            self._done = False
            return False  # the loop finds the bad event and relays the ones before it
        if len(shapes) != n:
            self._done = False
            return False
        if not self._count and shapes.count(_NOTHING) == n:  # no usage, no error: one C pass
            self._framed(body, None, out, CHARS_PER_EVENT * n)
            return True
        usage: Usage | None = None
        for shape in shapes:
            if shape.error is not None:
                self._done = False
                return False
            if shape.usage is not None:
                usage = shape.usage
        if usage is not None:  # a usage event may be one to leave out
            usage = None
            kept: list[bytes] = []
            # every boundary is "}\n\ndata: {" (else a newline was left): the payloads
            for p, sh in zip(body[6:-2].split(_SEP), shapes, strict=True):
                if self._events.drops(sh.usage, p):  # read, not relayed
                    continue
                kept.append(p)
                usage = sh.usage if sh.usage is not None else usage
            if len(kept) < n:
                body = b"".join([b"data: " + p + b"\n\n" for p in kept])
                shapes = shapes[: len(kept)]  # only their count matters now
        self._framed(body, usage, out, self._chars(shapes))
        return True

    @property
    def dropped(self) -> Usage | None:
        """The last usage event left out of the relay, on either path."""
        return self._events.dropped

    def _chars(self, shapes: list[Any]) -> int:
        return text_chars(shapes) if self._count else CHARS_PER_EVENT * len(shapes)

    def finish(self, out: list[Chunk]) -> None:
        if self._sse is None and self._tail.strip():  # a last event without its blank line
            self._fallback(self._tail, out)
        if self._sse is not None:
            for ev in self._sse.flush():
                out.extend(self._events.feed(ev))
            out.extend(self._events.finish())
        elif not self._done:
            self._events.finish()  # raises: the stream ended before [DONE]

    def _check(self, payload: bytes) -> _EventShape | _EventHead:
        try:
            shape = (_event if self._count else _head).decode(payload)
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
            raise UpstreamInvalid(
                f"{self._provider} sent a stream event that is not a chunk ({exc})",
                provider=self._provider,
            ) from None
        if shape.error is not None:
            from proxy.providers.openai_compat import stream_error  # the shared wording

            raise stream_error(self._provider, payload)
        return shape

    def _framed(self, block: bytes, usage: Usage | None, out: list[Chunk], chars: int) -> None:
        if block:
            out.append(Chunk.block(block, usage, chars, self._done))

    def _keep(self, buf: bytes) -> None:
        if len(buf) > MAX_EVENT_BYTES:
            raise UpstreamTooLarge("upstream sent an SSE event larger than 16 MiB")
        self._tail = buf

    def _fallback(self, buf: bytes, out: list[Chunk]) -> None:
        """From here on, the whole SSE grammar, event by event."""
        self._sse = SSEDecoder()
        self._tail = b""
        self._slow(buf, out)

    def _slow(self, data: bytes, out: list[Chunk]) -> None:
        assert self._sse is not None
        for ev in self._sse.feed(data):
            out.extend(self._events.feed(ev))
