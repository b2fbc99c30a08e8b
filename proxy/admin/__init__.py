"""The admin API under ``/admin``: gateway keys, their usage, spend, budget rebuilds.

Only on when an admin key is configured (``admin.keys`` / ``$GATEWAY_ADMIN_KEYS``);
otherwise none of these routes exist (404). Every call needs an admin key in
``x-portkey-admin-key`` or ``Authorization: Bearer``: a gateway key is not one (401), and
no cookie is ever read, so a page in a browser cannot act with an operator's session
(a cross-site form cannot set those headers, and bodies must be ``application/json``).

    GET    /admin/keys                 every key (settings keys read-only), no secrets
    POST   /admin/keys                 create: the secret is in this answer only
    GET    /admin/keys/{id}
    PATCH  /admin/keys/{id}            change name or policy fields
    POST   /admin/keys/{id}/rotate     a new secret (the old one stops working)
    POST   /admin/keys/{id}/revoke     (or DELETE /admin/keys/{id})
    GET    /admin/keys/{id}/usage      counters now, spend this period
    GET    /admin/spend?group_by=key|team|model|provider&from=&to=
    POST   /admin/budgets/rebuild      budget counters raised to what the ledger holds
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import msgspec
import structlog
from aiohttp import web

from proxy.admin.views import (
    CreateKey,
    budget_view,
    decode_body,
    key_view,
    merged_limits,
)
from proxy.edge import JSON, json_error
from proxy.errors import GatewayError, InvalidRequest, NotFound
from proxy.keystore import KeyRecord, policy_of
from proxy.ledger import report
from proxy.quota.limiter import LimiterDown

if TYPE_CHECKING:
    from proxy.gateway import Gateway

log = structlog.get_logger("gateway.admin")
_ID = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
_enc = msgspec.json.Encoder()

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=_enc.encode(data),
        status=status,
        content_type=JSON,
        headers={"Cache-Control": "no-store"},  # secrets are shown once: never cached
    )


class Admin:
    def __init__(self, gw: Gateway) -> None:
        self.gw = gw

    def guarded(self, action: str, fn: Handler) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            try:
                who = self.gw.admin.check(request.headers)
                resp = await fn(request)
            except GatewayError as exc:
                return json_error(exc)
            log.info(
                "admin",
                action=action,
                admin=who,
                key_id=request.match_info.get("kid"),
                status=resp.status,
            )
            return resp

        return handle

    async def _record(self, request: web.Request) -> KeyRecord:
        kid = request.match_info["kid"]
        if not _ID.fullmatch(kid):
            raise InvalidRequest("a key id is 1 to 128 letters, digits, _ . : -", code="bad_id")
        rec = await self.gw.keys.get(kid)
        if rec is None:
            raise NotFound(f"no key with id {kid!r}", code="unknown_key")
        return rec

    @staticmethod
    def _runtime(rec: KeyRecord) -> None:
        if rec.source == "settings":
            raise GatewayError(
                f"key {rec.name!r} is defined in settings: change it there",
                status=409,
                type="invalid_request_error",
                code="settings_key",
            )

    # ------------------------------------------------------------------ keys

    async def list_keys(self, request: web.Request) -> web.StreamResponse:
        return _json({"object": "list", "data": [key_view(r) for r in await self.gw.keys.all()]})

    async def create(self, request: web.Request) -> web.StreamResponse:
        body = await decode_body(request, CreateKey)
        rec, secret = await self.gw.keys.create(body.name, merged_limits(body, None))
        return _json({**key_view(rec), "key": secret}, status=201)

    async def get(self, request: web.Request) -> web.StreamResponse:
        return _json(key_view(await self._record(request)))

    async def update(self, request: web.Request) -> web.StreamResponse:
        rec = await self._record(request)
        self._runtime(rec)
        changes = await decode_body(request, dict)
        name = changes.pop("name", rec.name)
        limits = merged_limits(changes, rec.limits)
        updated = await self.gw.keys.update(msgspec.structs.replace(rec, name=str(name)), limits)
        return _json(key_view(updated))

    async def rotate(self, request: web.Request) -> web.StreamResponse:
        rec = await self._record(request)
        self._runtime(rec)
        if rec.revoked_at is not None:
            raise GatewayError("a revoked key cannot be rotated", status=409, code="revoked")
        new, secret = await self.gw.keys.rotate(rec)
        return _json({**key_view(new), "key": secret})

    async def revoke(self, request: web.Request) -> web.StreamResponse:
        rec = await self._record(request)
        self._runtime(rec)
        if rec.revoked_at is None:
            rec = await self.gw.keys.revoke(rec)
        return _json(key_view(rec))

    async def usage(self, request: web.Request) -> web.StreamResponse:
        rec = await self._record(request)
        policy = policy_of(rec)
        budget = budget_view(policy)
        try:
            snap = await self.gw.quota.limiter.snapshot(policy.id, budget["bucket"])
        except LimiterDown as exc:
            raise GatewayError(str(exc), status=503, code="limiter_unavailable") from None
        out: dict[str, Any] = {
            "id": rec.id,
            "window_seconds": self.gw.settings.limits.window_seconds,
            "requests_in_window": snap.requests,
            "tokens_in_window": snap.tokens,
            "in_flight": snap.in_flight,
            "budget": {**budget, "spent_usd": snap.spent_micros / 1e6},
        }
        store = self._store(required=False)
        if store is not None:
            out["ledger_spent_usd"] = await report.key_spent(
                store, policy.id, budget["period_start"], time.time() + 1
            )
        return _json(out)

    # ------------------------------------------------------------------ spend

    def _store(self, required: bool = True) -> Any:
        ledger = self.gw.observability.ledger
        if ledger is None:
            if required:
                raise NotFound("no ledger on this gateway (settings ledger.url)", code="no_ledger")
            return None
        if not ledger.opened:
            raise GatewayError("the ledger database is unreachable", status=503, code="ledger_down")
        return ledger.store

    async def spend(self, request: web.Request) -> web.StreamResponse:
        q = request.query
        store = self._store()
        try:
            end = report.parse_time(q.get("to"), time.time())
            start = report.parse_time(q.get("from"), end - 30 * 86400)
            rows = await report.spend(store, q.get("group_by", "key"), start, end)
        except ValueError as exc:
            raise InvalidRequest(str(exc), code="invalid_query") from None
        return _json({"group_by": q.get("group_by", "key"), "from": start, "to": end, "data": rows})

    async def rebuild(self, request: web.Request) -> web.StreamResponse:
        store = self._store()
        await self.gw.observability.ledger.flush()  # type: ignore[union-attr]
        records = [r for r in await self.gw.keys.all() if r.revoked_at is None]
        try:
            done = await report.rebuild(store, self.gw.quota, map(policy_of, records))
        except LimiterDown as exc:
            raise GatewayError(str(exc), status=503, code="limiter_unavailable") from None
        return _json({"object": "list", "data": done})


def add_routes(app: web.Application, gw: Gateway) -> None:
    """The admin routes, only when an admin key is configured."""
    if not gw.admin.enabled:
        return
    a = Admin(gw)
    r = app.router
    r.add_get("/admin/keys", a.guarded("list_keys", a.list_keys))
    r.add_post("/admin/keys", a.guarded("create_key", a.create))
    r.add_get("/admin/keys/{kid}", a.guarded("get_key", a.get))
    r.add_patch("/admin/keys/{kid}", a.guarded("update_key", a.update))
    r.add_delete("/admin/keys/{kid}", a.guarded("revoke_key", a.revoke))
    r.add_post("/admin/keys/{kid}/rotate", a.guarded("rotate_key", a.rotate))
    r.add_post("/admin/keys/{kid}/revoke", a.guarded("revoke_key", a.revoke))
    r.add_get("/admin/keys/{kid}/usage", a.guarded("key_usage", a.usage))
    r.add_get("/admin/spend", a.guarded("spend", a.spend))
    r.add_post("/admin/budgets/rebuild", a.guarded("rebuild_budgets", a.rebuild))
