"""The middleware contract and the chain runner.

A middleware is an object with ``async __call__(ctx, call_next) -> Reply`` (an onion, as in
aiohttp and starlette). It may act before ``call_next``, short-circuit by returning its own
``Reply`` without calling it, or wrap what comes back (including a stream, via
``StreamReply.wrap``). Raising ``GatewayError`` ends the request with that error.

The chain is built once at start-up and frozen. The framework pins both ends: error
rendering is outermost (the HTTP handler) and translate → relay is always terminal.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import msgspec

from proxy.context import RequestContext
from proxy.reply import Reply

if TYPE_CHECKING:
    from proxy.gateway import Gateway

Next = Callable[[RequestContext], Awaitable[Reply]]


@runtime_checkable
class Middleware(Protocol):
    """A pluggable step of the chain.

    Optional class attribute ``Options``: a ``msgspec.Struct`` type. The settings entry's
    ``options`` are decoded into it at start-up (typos fail there) and passed to
    ``__init__(options)``. Optional ``async startup(gateway)`` / ``async shutdown()`` run
    with the server's lifecycle, for sessions and pools. Optional ``endpoints``: the
    endpoints it applies to (``proxy.frontdoors.ENDPOINTS``; absent: every endpoint); the
    chain of an endpoint it does not declare simply does not contain it. Optional
    ``reads_events = True``: it looks inside stream chunks (text, deltas, one chunk per
    event). Without it, a chat stream that nobody reads may reach it as ``framed`` chunks
    (several events' bytes each, usage already read: ``Chunk.framed``), the fast relay. A
    middleware that reads events only for some requests sets ``ctx.reads_reply`` instead.
    Optional ``skips(ctx) -> bool``: a cheap, synchronous check that this request needs
    nothing from the middleware (auth off, no guardrail applies, caching off); the chain
    then goes straight on without entering it. It may note its decision on ``ctx`` and
    may raise a ``GatewayError`` as ``__call__`` would.
    """

    async def __call__(self, ctx: RequestContext, call_next: Next) -> Reply: ...


def reads_events(mw: object) -> bool:
    """Whether a middleware declared that it reads stream events one by one."""
    return bool(getattr(mw, "reads_events", False))


def applies(mw: object, endpoint: str) -> bool:
    """Whether a middleware is in ``endpoint``'s chain (by its ``endpoints`` declaration)."""
    declared: frozenset[str] | None = getattr(mw, "endpoints", None)
    return declared is None or endpoint in declared


class _Step:
    """``call_next`` for one layer. Returns the coroutine directly: no extra frame."""

    __slots__ = ("_mw", "_next")

    def __init__(self, mw: Middleware, nxt: Next) -> None:
        self._mw = mw
        self._next = nxt

    def __call__(self, ctx: RequestContext) -> Awaitable[Reply]:
        return self._mw(ctx, self._next)


class _SkippableStep:
    """``call_next`` for a layer that declares ``skips``: a request it skips goes straight
    on, without the coroutine and the await of a layer that would only pass it along."""

    __slots__ = ("_mw", "_next", "_skips")

    def __init__(self, mw: Middleware, nxt: Next, skips: Callable[[RequestContext], bool]) -> None:
        self._mw = mw
        self._next = nxt
        self._skips = skips

    def __call__(self, ctx: RequestContext) -> Awaitable[Reply]:
        if self._skips(ctx):
            return self._next(ctx)
        return self._mw(ctx, self._next)


def build_chain(middlewares: Sequence[Middleware], terminal: Next) -> Next:
    """Fold the middlewares around the terminal handler: first in the list runs first."""
    handler: Next = terminal
    for mw in reversed(middlewares):
        skips = getattr(mw, "skips", None)
        handler = _SkippableStep(mw, handler, skips) if skips else _Step(mw, handler)
    return handler


class SettingsError(ValueError):
    """Invalid settings; the message names the field."""


def import_object(path: str, *, field: str) -> Any:
    """Import ``package.module:Name`` (or ``package.module.Name``)."""
    module_name, sep, attr = path.partition(":")
    if not sep:
        module_name, _, attr = path.rpartition(".")
    if not module_name or not attr:
        raise SettingsError(f"{field}: {path!r} is not a dotted path like 'package.module:Class'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise SettingsError(f"{field}: cannot import module {module_name!r}: {exc}") from exc
    try:
        return getattr(module, attr)
    except AttributeError:
        raise SettingsError(f"{field}: module {module_name!r} has no {attr!r}") from None


def instantiate(path: str, options: dict[str, Any], *, field: str) -> Any:
    """Build a plugin (middleware, guardrail check, ...) from its dotted path and options."""
    cls = import_object(path, field=f"{field}.class")
    if not callable(cls):
        raise SettingsError(f"{field}.class: {path!r} is not a class")
    options_type = getattr(cls, "Options", None)
    if options_type is None:
        if options:
            raise SettingsError(f"{field}.options: {path} takes no options")
        return cls()
    try:
        opts = msgspec.convert(options, options_type, strict=False)
    except msgspec.ValidationError as exc:
        raise SettingsError(f"{field}.options: {exc}") from None
    try:
        return cls(opts)
    except (ValueError, TypeError) as exc:
        raise SettingsError(f"{field}.options: {exc}") from None


async def startup_all(objs: Sequence[object], gateway: Gateway) -> None:
    for obj in objs:
        hook = getattr(obj, "startup", None)
        if hook is not None:
            await hook(gateway)


async def shutdown_all(objs: Sequence[object]) -> None:
    for obj in reversed(objs):
        hook = getattr(obj, "shutdown", None)
        if hook is not None:
            await hook()
