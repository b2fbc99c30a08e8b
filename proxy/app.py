"""The aiohttp application: every front door's routes around the frozen chains.

Each front door (proxy/frontdoors/) gets one generic handler (proxy/edge.py); the chains,
one per endpoint, are folded once at start-up (``Gateway.freeze``) with the terminal step
pinned at their end (proxy/terminal/). Health, readiness and metrics are plain routes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from proxy import __version__, httperrors
from proxy.admin import add_routes as add_admin_routes
from proxy.console import routes as console_routes
from proxy.edge import JSON, handler, json_error
from proxy.errors import GatewayError, NotFound
from proxy.frontdoors import front_doors
from proxy.gateway import Gateway
from proxy.hostpolicy import GuardedResolver
from proxy.pipeline import shutdown_all, startup_all
from proxy.providers import PROVIDERS
from proxy.redact import redact, request_secrets
from proxy.schema import encoder
from proxy.settings import Settings
from proxy.terminal import Terminal
from proxy.upstream import make_session

GATEWAY = web.AppKey("gateway", Gateway)


async def health(request: web.Request) -> web.Response:
    return web.Response(body=b'{"status":"ok"}', content_type=JSON)


async def ready(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    if not gw.ready:
        return web.Response(body=b'{"status":"not ready"}', status=503, content_type=JSON)
    return web.Response(
        body=encoder.encode({"status": "ready", "version": __version__}), content_type=JSON
    )


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def add_fallback_routes(app: web.Application) -> None:
    """aiohttp's own 404 and 405 in the OpenAI error shape, as routes: every resource
    answers a method it does not serve with a 405 naming the ones it does, and a last
    catch-all answers every other path with a 404. (An aiohttp middleware would do the
    same at the price of two more coroutine layers on every request, ~1.6 % of a chat
    request's instructions.) Call it after every other route is added."""
    for resource in list(app.router.resources()):
        if not isinstance(resource, web.Resource):  # static files and the like: their own
            continue
        methods = {route.method for route in resource}
        if "*" in methods:
            continue
        resource.add_route("*", _method_not_allowed(sorted(methods)))
    app.router.add_route("*", "/{unknown_path:.*}", _not_found)


def _method_not_allowed(allowed: list[str]) -> Handler:
    allow = ",".join(allowed)

    async def method_not_allowed(request: web.Request) -> web.StreamResponse:
        err = GatewayError(
            _quoting(request, f"method {request.method} not allowed on {request.path}"),
            status=405,
            type="invalid_request_error",
        )
        return json_error(err, {"Allow": allow})

    return method_not_allowed


async def _not_found(request: web.Request) -> web.StreamResponse:
    return json_error(NotFound(_quoting(request, f"no route for {request.method} {request.path}")))


def _quoting(request: web.Request, message: str) -> str:
    """A message that quotes the request's path, without the request's own keys (T27):
    these routes answer outside the front doors, whose errors the edge redacts."""
    secrets = request_secrets(request.headers)
    return redact(message, secrets) if secrets else message


def create_app(settings: Settings) -> web.Application:
    httperrors.install()
    gateway = Gateway(settings)
    app = web.Application(client_max_size=settings.server.max_body_bytes)
    app[GATEWAY] = gateway
    doors = front_doors()
    by_endpoint = {}
    for door in doors:
        door.setup(gateway)
        for endpoint in door.endpoints:
            by_endpoint[endpoint] = door
    gateway.freeze(Terminal(gateway, by_endpoint))

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        session = gateway.session = make_session(
            settings.upstream, GuardedResolver(gateway.host_policy)
        )
        try:
            await gateway.observability.startup()
            await gateway.start_state()
            await startup_all(gateway.middlewares, gateway)
            for name in gateway.providers_named_in_settings():
                warm = getattr(PROVIDERS[name], "warm", None)
                if warm is not None:  # heavy imports before ready, not on the first request
                    await asyncio.to_thread(warm)
        except BaseException:
            await session.close()  # a failed start-up must not leak the pool
            raise
        gateway.ready = True
        yield
        gateway.ready = False
        try:
            await shutdown_all(gateway.middlewares)
            for door in doors:
                await door.shutdown()
            await gateway.stop_state()
            await gateway.observability.shutdown()
        finally:
            await session.close()
            gateway.session = None

    async def not_ready(app: web.Application) -> None:
        gateway.ready = False  # SIGTERM: fail readiness first so traffic drains away

    app.cleanup_ctx.append(lifecycle)
    app.on_shutdown.append(not_ready)
    for door in doors:
        handle = handler(gateway, door)
        for method, path in door.routes:
            app.router.add_route(method, path, handle)  # type: ignore[arg-type]
    app.router.add_get("/health", health)
    app.router.add_get("/metrics", gateway.observability.metrics_handler)
    app.router.add_get("/ready", ready)
    add_admin_routes(app, gateway)  # /admin, only with an admin key configured
    console_routes.setup(app, gateway)  # /console, when settings turn it on
    add_fallback_routes(app)
    return app
