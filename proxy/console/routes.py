"""The console's HTTP surface: the page at /console/ and its API under /console/api/.

Who may use it (``guard``):

- the console is off (no routes at all) unless ``console.enabled``;
- with admin keys set (``admin.keys`` / ``$GATEWAY_ADMIN_KEYS``), every API call needs one in
  ``x-portkey-admin-key`` (or ``Authorization: Bearer``); a gateway key never opens it.
  The page's static files (code, no data) are served without a key, since a browser's
  navigation cannot send a header; the page asks for the key and sends it on every call;
- with no admin key (the local dev proxy), only a loopback client reaching the gateway by
  a loopback name is served: a page elsewhere that rebinds its DNS name to 127.0.0.1
  still sends its own name as Host, and is refused.

Against cross-site requests every API call must carry ``x-gateway-console: 1`` (a page on
another origin cannot add a header without a CORS preflight, which is never granted), a
foreign ``Origin`` or ``Sec-Fetch-Site: cross-site`` is refused, and POST bodies must be
JSON. Every answer carries a CSP that lets the page fetch from its own origin only.
"""

from __future__ import annotations

import asyncio
import importlib.resources
import ipaddress
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import msgspec
from aiohttp import web

from proxy.console import dryrun
from proxy.console.record import Entry, Row, hooks_view
from proxy.edge import JSON, SSE_HEADERS, json_error
from proxy.errors import GatewayError, InvalidRequest, NotFound, PermissionDenied
from proxy.providers import PROVIDERS

if TYPE_CHECKING:
    from proxy.console.hub import Console
    from proxy.gateway import Gateway

CONSOLE_HEADER = "x-gateway-console"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cache-Control": "no-store",
}
STATIC = {
    "index.html": "text/html; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
}
MAX_POST = 256 * 1024  # a pasted config and a sample request
BACKLOG = 200  # rows a live feed starts with
MAX_BATCH = 500  # rows one push may carry; older ones are skipped (and counted)
COALESCE_S = 0.1  # a push gathers what arrived in this time: at most 10 pushes a second
HEARTBEAT_S = 15.0
WRITE_TIMEOUT_S = 10.0  # a viewer that stops reading is dropped
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_encode = msgspec.json.Encoder().encode


def _host_of(host: str) -> str:
    """``[::1]:8787`` -> ``::1``; ``localhost:8787`` -> ``localhost``."""
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return (host.rsplit(":", 1)[0] if host.count(":") == 1 else host).lower()


def is_loopback(name: str) -> bool:
    """A loopback address, or a name that always means this machine."""
    if name in LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name.split("%")[0]).is_loopback
    except ValueError:
        return False


class Guard:
    def __init__(self, gw: Gateway) -> None:
        self.gw = gw

    def place(self, request: web.Request) -> None:
        """Without admin keys, only this machine, by a loopback name (see module doc)."""
        if self.gw.admin.enabled:
            return
        if not is_loopback(request.remote or "") or not is_loopback(_host_of(request.host or "")):
            raise PermissionDenied(
                "the console without an admin key answers only on localhost: set "
                "GATEWAY_ADMIN_KEYS (or admin.keys) to open it from another host",
                code="console_local_only",
            )

    def api(self, request: web.Request) -> None:
        self.place(request)
        if request.headers.get(CONSOLE_HEADER) != "1":
            raise PermissionDenied(
                f"console API calls carry {CONSOLE_HEADER}: 1", code="console_header_missing"
            )
        origin = request.headers.get("Origin")
        if origin is not None and origin != f"{request.scheme}://{request.host}":
            raise PermissionDenied("cross-origin console call refused", code="console_origin")
        if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
            raise PermissionDenied("cross-site console call refused", code="console_origin")
        if self.gw.admin.enabled:
            self.gw.admin.check(request.headers)


def _secured(resp: web.StreamResponse) -> web.StreamResponse:
    for k, v in SECURITY_HEADERS.items():
        resp.headers.setdefault(k, v)
    return resp


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=_encode(data), status=status, content_type=JSON)


class Filter:
    """The live table's filters, applied on the server before a push is capped."""

    __slots__ = ("key", "model", "provider", "status")

    def __init__(self, query: Any) -> None:
        self.provider = query.get("provider") or None
        self.model = query.get("model") or None
        self.key = query.get("key") or None
        status = query.get("status") or None  # "2xx", "4xx", "5xx"
        self.status = int(status[0]) if status and status[0] in "12345" else None

    def __call__(self, row: Row) -> bool:
        return (
            (self.provider is None or row.provider == self.provider)
            and (self.model is None or row.model == self.model)
            and (self.key is None or row.key == self.key)
            and (self.status is None or row.status // 100 == self.status)
        )


class ConsoleRoutes:
    def __init__(self, gw: Gateway, console: Console) -> None:
        self.gw = gw
        self.console = console
        self.guard = Guard(gw)
        files = importlib.resources.files("proxy.console") / "static"
        self.static = {name: (files / name).read_bytes() for name in STATIC}
        self.closing = asyncio.Event()

    def add_to(self, app: web.Application) -> None:
        r = app.router
        r.add_get("/console", self.redirect)
        r.add_get("/console/", self.page("index.html"))
        for name in STATIC:
            r.add_get(f"/console/static/{name}", self.page(name))
        api: dict[str, Handler] = {
            "info": self.info,
            "requests": self.requests,
            "live": self.live,
            "health": self.health,
            "configs": self.configs,
        }
        for name, fn in api.items():
            r.add_get(f"/console/api/{name}", self.wrap(fn))
        r.add_get("/console/api/requests/{id}", self.wrap(self.detail))
        r.add_post("/console/api/validate", self.wrap(self.validate))
        r.add_post("/console/api/dryrun", self.wrap(self.dryrun))
        app.on_shutdown.append(self._close)

    async def _close(self, app: web.Application) -> None:
        self.closing.set()  # live feeds end now, not at the shutdown timeout

    def wrap(self, fn: Handler) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            try:
                self.guard.api(request)
                return _secured(await fn(request))
            except GatewayError as exc:
                return _secured(json_error(exc))

        return handle

    def page(self, name: str) -> Handler:
        async def serve(request: web.Request) -> web.StreamResponse:
            try:
                self.guard.place(request)
            except GatewayError as exc:
                return _secured(json_error(exc))
            return _secured(web.Response(body=self.static[name], content_type=None,
                                         headers={"Content-Type": STATIC[name]}))  # fmt: skip

        return serve

    async def redirect(self, request: web.Request) -> web.StreamResponse:
        return _secured(web.Response(status=308, headers={"Location": "/console/"}))

    # ------------------------------------------------------------------ API

    async def info(self, request: web.Request) -> web.StreamResponse:
        return _json({**self.console.info(), "admin_keys": self.gw.admin.enabled})

    async def requests(self, request: web.Request) -> web.StreamResponse:
        keep = Filter(request.query)
        limit = _int(request.query.get("limit"), 100, 1, 1000)
        rows = []
        for entry in self.console.newest():
            if keep(entry.row):
                rows.append(entry.row)
                if len(rows) >= limit:
                    break
        return _json({"pid": self.console.pid, "seq": self.console.seq, "rows": rows})

    async def detail(self, request: web.Request) -> web.StreamResponse:
        entry = self.console.find(request.match_info["id"])
        if entry is None:
            raise NotFound(
                "no such request in this worker's ring (it may have been served by another "
                "worker, or pushed out by newer requests)",
                code="console_request_gone",
            )
        return _json(self._detail(entry))

    def _detail(self, entry: Entry) -> dict[str, Any]:
        row = entry.row
        attempts: list[dict[str, Any]] = [a._asdict() for a in entry.trail]
        if not attempts and row.attempts and row.provider:  # a direct request: one attempt
            outcome = row.error or "ok"
            attempts = [{"option": "direct", "config": None, "provider": row.provider,
                         "status": row.status, "outcome": outcome, "ms": None}]  # fmt: skip
        capture = self.console.capture
        return {
            "row": row,
            "attempts": attempts,
            "hooks": hooks_view(entry.hooks, self.console.masker) if entry.hooks else [],
            "bodies": "captured" if capture else "off",
            "request_body": entry.request_body,
            "answer_body": entry.answer_body,
        }

    async def health(self, request: web.Request) -> web.StreamResponse:
        import time

        window = _int(request.query.get("window"), 300, 10, 300)
        snap = self.console.health(time.time(), window)
        return _json({"pid": self.console.pid, "workers": self.console.workers, **snap})

    async def configs(self, request: web.Request) -> web.StreamResponse:
        s = self.gw.settings
        default = s.default_config
        return _json(
            {
                "configs": {cid: dryrun.masked(raw) for cid, raw in s.configs.items()},
                "default_config": default if isinstance(default, str) else dryrun.masked(default),
                "slugs": {
                    slug: {"provider": e.provider, "models": e.models}
                    for slug, e in s.providers.items()
                },
                "providers": sorted(PROVIDERS),
            }
        )

    async def _body(self, request: web.Request) -> dict[str, Any]:
        if request.content_type != "application/json":
            raise InvalidRequest("send application/json", code="invalid_content_type")
        raw = await request.content.read(MAX_POST + 1)
        if len(raw) > MAX_POST:
            raise InvalidRequest(f"body larger than {MAX_POST} bytes", code="body_too_large")
        try:
            body = msgspec.json.decode(raw)
        except msgspec.DecodeError:
            raise InvalidRequest("body is not valid JSON", code="invalid_json") from None
        if not isinstance(body, dict):
            raise InvalidRequest("body must be a JSON object", code="invalid_json")
        return body

    async def validate(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        node, _, label = dryrun.load(self.gw, body.get("config"))
        mode = node.strategy.mode if node.strategy else "single"
        return _json({"valid": True, "config": label, "mode": mode})

    async def dryrun(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        return _json(dryrun.dry_run(self.gw, body))

    async def live(self, request: web.Request) -> web.StreamResponse:
        console = self.console
        if console.viewers >= console.settings.max_viewers:
            raise GatewayError(
                f"{console.viewers} live viewers already (console.max_viewers)",
                status=503,
                code="console_busy",
            )
        keep = Filter(request.query)
        console.viewers += 1
        try:
            resp = _secured(web.StreamResponse(headers=SSE_HEADERS))
            await resp.prepare(request)
            backlog = [e.row for e in console.newest() if keep(e.row)][:BACKLOG]
            backlog.reverse()
            cursor = console.seq
            await self._push(resp, b"hello", {"pid": console.pid, "workers": console.workers})
            await self._push(resp, b"rows", {"rows": backlog, "skipped": 0})
            while not self.closing.is_set():
                if not await self._wait(cursor):
                    await asyncio.wait_for(resp.write(b": ping\n\n"), WRITE_TIMEOUT_S)
                    continue
                await asyncio.sleep(COALESCE_S)  # gather a batch: bounded pushes per second
                entries, skipped = console.since(cursor, MAX_BATCH)
                cursor = console.seq
                rows = [e.row for e in entries if keep(e.row)]
                if rows or skipped:
                    await self._push(resp, b"rows", {"rows": rows, "skipped": skipped})
        except (ConnectionResetError, TimeoutError):
            pass  # the viewer went away or stopped reading
        finally:
            console.viewers -= 1
        return resp

    async def _wait(self, cursor: int) -> bool:
        """True when something new arrived; False on the heartbeat or on shut-down."""
        new = asyncio.ensure_future(self.console.wait(cursor))
        stop = asyncio.ensure_future(self.closing.wait())
        try:
            done, _ = await asyncio.wait({new, stop}, timeout=HEARTBEAT_S,
                                         return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
        finally:
            new.cancel()
            stop.cancel()
        return new in done and not self.closing.is_set()

    @staticmethod
    async def _push(resp: web.StreamResponse, event: bytes, data: Any) -> None:
        frame = b"event: " + event + b"\ndata: " + _encode(data) + b"\n\n"
        await asyncio.wait_for(resp.write(frame), WRITE_TIMEOUT_S)


def _int(value: str | None, default: int, low: int, high: int) -> int:
    try:
        n = int(value) if value else default
    except ValueError:
        n = default
    return max(low, min(high, n))


def setup(app: web.Application, gw: Gateway) -> None:
    """Add the console's routes when it is on (off: /console is a plain 404)."""
    if gw.console is not None:
        ConsoleRoutes(gw, gw.console).add_to(app)
