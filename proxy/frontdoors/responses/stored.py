"""``GET``/``DELETE /v1/responses/{id}`` and ``GET .../input_items``.

An id the gateway made (``resp_gw...``) is answered from its store, with no upstream call
and only for the caller that made it (endpoint ``responses_stored``, targetless); any
other id is OpenAI's or Azure's and the request is proxied there (``responses_upstream``,
routed like any request: provider header, config or slug). The id must look like an id
(letters, digits, ``_`` and ``-``): it ends up in an upstream URL path, where ``..``, ``/``
or ``?`` could otherwise reach another endpoint with the same credential.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

import msgspec
from aiohttp import web

from proxy.body import RequestBody, RequestHead
from proxy.errors import GatewayError, InvalidRequest
from proxy.frontdoors.responses import native
from proxy.frontdoors.responses.answer import item_id
from proxy.frontdoors.responses.request import RESPONSE_ID
from proxy.frontdoors.responses.store import Store, decode_entry, entry_key
from proxy.reply import BodyReply
from proxy.routing.resolve import caller_scope
from proxy.schema import encoder

if TYPE_CHECKING:
    from proxy.context import RequestContext
    from proxy.terminal import Upstream


def not_found(rid: str, hint: str = "") -> GatewayError:
    return GatewayError(
        f"Response with id '{rid}' not found.{hint}",
        status=404,
        type="invalid_request_error",
        code="not_found",
    )


class OpBody(RequestBody):
    """A request on one stored response: no JSON body, only what the path and query say."""

    __slots__ = ("method", "query", "rid", "sub")

    def __init__(self, request: web.Request) -> None:
        super().__init__(b"{}", RequestHead(), wire="responses_op")
        rid = request.match_info["response_id"]
        if not RESPONSE_ID.fullmatch(rid):
            raise InvalidRequest(
                "the response id may hold only letters, digits, '_' and '-'",
                param="response_id",
                code="invalid_value",
            )
        self.rid = rid
        self.method = request.method
        self.sub = "/input_items" if request.path.endswith("/input_items") else ""
        self.query = list(request.query.items())
        if request.query.get("stream", "").lower() == "true":
            raise InvalidRequest(
                "stream: replaying a stored response as a stream is not supported",
                param="stream",
                code="unsupported_parameter",
            )


async def from_store(store: Store, ctx: RequestContext, op: OpBody) -> BodyReply:
    key = entry_key(caller_scope(ctx), op.rid)
    if op.method == "DELETE":
        if not await store.delete(key):
            raise not_found(op.rid)
        return BodyReply(encoder.encode({"id": op.rid, "object": "response", "deleted": True}))
    raw = await store.get(key)
    entry = decode_entry(raw) if raw is not None else None
    if entry is None:
        raise not_found(op.rid)
    if not op.sub:
        return BodyReply(bytes(entry.response))
    items = msgspec.json.decode(entry.input_items)
    return BodyReply(encoder.encode(page(items, dict(op.query))))


async def from_upstream(ctx: RequestContext, op: OpBody, up: Upstream) -> BodyReply:
    if up.adapter.name not in native.NATIVE:
        hint = f" {up.adapter.name} keeps no responses; ids made by this gateway start resp_gw."
        raise not_found(op.rid, hint)
    path = "/responses/" + quote(op.rid, safe="") + op.sub
    call = native.call(up.adapter, up.target, path, method=op.method, query=urlencode(op.query))
    return BodyReply(await up.fetch(up.prepare(call)))


def page(items: list[Any], query: dict[str, str]) -> dict[str, Any]:
    """OpenAI's list of input items: newest first unless ``order=asc``, ``limit`` (1-100,
    default 20), ``after`` an item id (the cursor the SDK's pagination sends)."""
    try:
        limit = min(max(int(query.get("limit", "20")), 1), 100)
    except ValueError:
        raise InvalidRequest("limit: must be an integer", param="limit") from None
    ordered = items if query.get("order") == "asc" else list(reversed(items))
    after = query.get("after")
    if after:
        ids = [i.get("id") for i in ordered]
        ordered = ordered[ids.index(after) + 1 :] if after in ids else []
    data = ordered[:limit]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0].get("id") if data else None,
        "last_id": data[-1].get("id") if data else None,
        "has_more": len(ordered) > limit,
    }


def input_items(req: dict[str, Any]) -> list[dict[str, Any]]:
    """The request's input as OpenAI lists it: items with ids, messages with typed parts."""
    inp = req.get("input")
    if isinstance(inp, str):
        inp = [{"role": "user", "content": inp}]
    out: list[dict[str, Any]] = []
    for item in inp if isinstance(inp, list) else []:
        if not isinstance(item, dict):
            continue
        item = dict(item)
        kind = item.setdefault("type", "message")
        if kind == "message":
            content = item.get("content")
            if isinstance(content, str):
                part = "output_text" if item.get("role") == "assistant" else "input_text"
                extra: dict[str, Any] = {"annotations": []} if part == "output_text" else {}
                item["content"] = [{"type": part, "text": content, **extra}]
            item.setdefault("status", "completed")
        item.setdefault("id", item_id("msg" if kind == "message" else "item"))
        out.append(item)
    return out
