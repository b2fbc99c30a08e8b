"""Wire formats other than OpenAI chat, and how to read the chat view out of them.

A front door whose upstream may speak its own format (``/v1/messages`` to Claude) relays
the upstream's bytes unchanged; middlewares still read chat (usage for logs and cost, the
answer for guardrails and the cache) through the wire's codec, registered here by the
package that knows the format. Registration happens at import of that package, so the
core never imports a provider.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from proxy.schema import ChatCompletion, Usage


class WireCodec(Protocol):
    def completion(self, raw: bytes) -> ChatCompletion:
        """A complete native answer as a chat completion (msgspec errors on bad bytes)."""
        ...

    def usage(self, raw: bytes) -> Usage | None:
        """The usage a native answer or stream event carries, in chat terms."""
        ...


_WIRES: dict[str, WireCodec] = {}


def register_wire(name: str, codec: WireCodec) -> None:
    _WIRES[name] = codec


def wire_codec(name: str) -> WireCodec:
    try:
        return _WIRES[name]
    except KeyError:
        raise LookupError(f"no codec registered for the {name!r} wire") from None
