"""Front doors: the API formats the gateway serves, each a codec around the one chain.

A front door reads its format's request into a ``RequestBody`` (decoding only the head),
names the endpoint its requests run as (middlewares declare the endpoints they apply to),
makes the upstream call for an attempt with what the terminal step offers (``Upstream``:
the adapter, the relay, the canonical chat call) and writes the Reply back in its format,
errors included. Adding a front door is one module here and one line in ``FRONT_DOORS``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Protocol

if TYPE_CHECKING:
    from aiohttp import web

    from proxy.body import RequestBody
    from proxy.context import RequestContext
    from proxy.errors import GatewayError
    from proxy.gateway import Gateway
    from proxy.reply import Reply
    from proxy.terminal import Upstream

# every endpoint a request can run as; a middleware's ``endpoints`` is a subset of these
ENDPOINTS = frozenset(
    {
        "chat",
        "messages",
        "count_tokens",  # POST /v1/messages/count_tokens: a count, not a conversation answer
        "responses",
        "completions",
        "embeddings",
        "models",
        "catalog",  # /v1/models with no provider named: the settings' list, no upstream
        "responses_stored",  # GET/DELETE of a response the gateway stored: no upstream
        "responses_upstream",  # GET/DELETE of a response OpenAI or Azure stored
        "passthrough",
    }
)
# endpoints the gateway answers itself: no target, so no router
TARGETLESS = frozenset({"catalog", "responses_stored"})
# endpoints whose request is a conversation (guardrails, cache and routing conditions read
# its messages in chat form)
CONVERSATIONS = frozenset({"chat", "messages", "responses", "completions"})


class FrontDoor(Protocol):
    endpoint: str
    routes: ClassVar[tuple[tuple[str, str], ...]]  # (method, path) pairs it serves
    targetless: ClassVar[frozenset[str]]  # endpoints it answers itself, with no upstream

    @property
    def endpoints(self) -> tuple[str, ...]:
        """Every endpoint its requests can run as."""
        ...

    def setup(self, gw: Gateway) -> None:
        """Called once when the app is built (state, stores)."""

    def endpoint_of(self, request: web.Request) -> str:
        """The endpoint a request runs as (usually ``endpoint``)."""
        ...

    async def read(self, request: web.Request, limit: int) -> RequestBody:
        """The request as a RequestBody; raises GatewayError (400, 413) on bad input."""
        ...

    async def upstream(self, ctx: RequestContext, up: Upstream | None) -> Reply:
        """One attempt's upstream call (``up`` is None only for endpoints with no target)."""
        ...

    async def respond(
        self, request: web.Request, ctx: RequestContext, reply: Reply, headers: dict[str, str]
    ) -> web.StreamResponse:
        """Write the reply in this format."""
        ...

    def error(self, exc: GatewayError, headers: dict[str, str]) -> web.Response:
        """An error in this format's shape."""
        ...

    async def shutdown(self) -> None:
        """Called once when the server stops (close what ``setup`` opened)."""


def front_doors() -> list[FrontDoor]:
    """One instance of each front door (the app registers their routes)."""
    from proxy.frontdoors.chat import ChatDoor
    from proxy.frontdoors.completions import CompletionsDoor
    from proxy.frontdoors.embeddings import EmbeddingsDoor
    from proxy.frontdoors.messages import MessagesDoor
    from proxy.frontdoors.models import ModelsDoor
    from proxy.frontdoors.passthrough import PassthroughDoor
    from proxy.frontdoors.responses.door import ResponsesDoor

    # the pass-through's catch-all route comes last: aiohttp resolves routes in order
    return [
        ChatDoor(),
        CompletionsDoor(),
        EmbeddingsDoor(),
        ModelsDoor(),
        ResponsesDoor(),
        MessagesDoor(),
        PassthroughDoor(),
    ]
