"""The reasoning state a provider needs back on the next turn, carried by the client.

Claude requires its thinking blocks (text and signature, or redacted data) back in the
assistant turn that called tools; Gemini requires the ``thoughtSignature`` of a function
call back on that call; Bedrock's Converse wants ``reasoningContent`` blocks as Claude's.
Chat Completions has no field for any of it, and the gateway keeps no conversation state,
so each answer carries it as one opaque string, ``reasoning_opaque``, on the assistant
message (and, in a stream, on one delta just before the finish). The client echoes the
message as it got it (the SDK object, or its ``model_dump()``) and the adapter rebuilds the
provider's blocks from it. docs/reasoning.md says why not the tool-call id (OpenAI refuses
ids over 40 characters, so a fallback to OpenAI would break; clients truncate long ids).

The string is ``gw1.`` + base64url(JSON). It is data from two hostile sides, so:

- it is decoded only by the adapter that is about to send it to a provider, only as far as
  needed (base64, then one typed msgspec decode: linear, no nesting beyond the schema);
- sizes are bounded (``MAX_CHARS`` per message, ``MAX_BLOCKS`` per turn); over the bound
  or malformed is a 400 naming the field, never a silent guess;
- it names the provider that issued it (``host``): blocks go back only to that provider
  (a signature means nothing to another one, and a conversation that moved after a
  fallback must still work: the state of another host is left out, not an error);
- the gateway never trusts its content for anything but echoing it back: signatures are
  verified by the provider that made them.
"""

from __future__ import annotations

import base64
import binascii
from typing import Literal

import msgspec
from msgspec import Struct

from proxy.errors import InvalidRequest

PREFIX = "gw1."
MAX_CHARS = 4 * 1024 * 1024  # per message: a long Claude thinking turn is ~100 KB
MAX_BLOCKS = 256

Kind = Literal["thinking", "redacted", "signature"]


class Block(Struct, omit_defaults=True, forbid_unknown_fields=True):
    """One piece of reasoning state, in the order the provider sent it.

    ``thinking``: text + signature (Claude, Bedrock); ``redacted``: opaque data (Claude's
    redacted_thinking, Converse's redactedContent); ``signature``: a Gemini
    thoughtSignature. ``at``: the number of tool calls of the turn before it (thinking
    interleaved between calls goes back in place); for a Gemini signature, the index of
    the call it belongs to, or -1 for the turn's last text part.
    """

    kind: Kind
    text: str = ""
    sig: str = ""
    data: str = ""
    at: int = 0


class State(Struct, forbid_unknown_fields=True):
    host: str  # the adapter that issued it: anthropic, vertex-ai, bedrock, google
    blocks: list[Block]


_decoder = msgspec.json.Decoder(State)
_encoder = msgspec.json.Encoder()


def encode(host: str, blocks: list[Block]) -> str | None:
    """The opaque string for an answer's blocks (None: nothing to carry, or too large to
    carry: a client must not be handed a string the gateway would refuse next turn)."""
    if not blocks or len(blocks) > MAX_BLOCKS:
        return None
    raw = _encoder.encode(State(host=host, blocks=blocks))
    token = PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")
    return token if len(token) <= MAX_CHARS else None


def decode(token: object, host: str, param: str) -> list[Block]:
    """The blocks of a token the client sent back, when ``host`` issued it; [] otherwise
    (absent, null, or another provider's). 400 (``param`` named) for a string that is not
    one of the gateway's tokens."""
    if not isinstance(token, str) or not token:
        return []
    if len(token) > MAX_CHARS or not token.startswith(PREFIX):
        raise _bad(param, "is not a reasoning_opaque value this gateway issued")
    body = token[len(PREFIX) :]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        state = _decoder.decode(raw)
    except (binascii.Error, ValueError, msgspec.DecodeError, msgspec.ValidationError):
        raise _bad(param, "is malformed (send it back exactly as received)") from None
    if len(state.blocks) > MAX_BLOCKS:
        raise _bad(param, f"holds more than {MAX_BLOCKS} blocks")
    return state.blocks if state.host == host else []


def _bad(param: str, why: str) -> InvalidRequest:
    return InvalidRequest(f"{param} {why}", param=param, code="invalid_reasoning_opaque")


class Collector:
    """Reasoning state gathered while an answer is read (whole or streamed), bounded: an
    upstream that sends more than ``MAX_CHARS`` of it gets no token (the next turn then
    runs without it, as after a client that dropped it) rather than unbounded memory.
    Streamed pieces are kept as lists and joined once (``+=`` on a kept string would copy
    the whole text per delta: quadratic in a long thought)."""

    __slots__ = ("host", "parts", "size")

    def __init__(self, host: str) -> None:
        self.host = host
        self.parts: list[tuple[Block, list[str], list[str]]] = []
        self.size = 0

    @property
    def full(self) -> bool:
        return self.size * 4 // 3 > MAX_CHARS or len(self.parts) > MAX_BLOCKS

    def add(self, block: Block) -> None:
        if self.full:
            return
        self.size += len(block.text) + len(block.sig) + len(block.data) + 32
        self.parts.append((block, [block.text], [block.sig]))

    def extend_last(self, text: str = "", sig: str = "") -> None:
        """A streamed piece of the last block (thinking or signature deltas)."""
        if not self.parts or self.full:
            return
        _, texts, sigs = self.parts[-1]
        texts.append(text)
        sigs.append(sig)
        self.size += len(text) + len(sig)

    def token(self) -> str | None:
        if self.full:
            return None
        blocks = []
        for block, texts, sigs in self.parts:
            block.text, block.sig = "".join(texts), "".join(sigs)
            blocks.append(block)
        return encode(self.host, blocks)
