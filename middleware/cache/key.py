"""The cache key: a digest of the canonical request, scoped to its tenant and namespace.

The cache runs before the router, so the destination is not resolved yet: it is keyed on what
names it in the request (``x-portkey-provider``, custom host and the other non-secret routing
headers, the routing config, the model as sent). The body is taken with every parameter that
can change the answer, in a key-order independent encoding, without the transport-only ones
(``stream``, ``stream_options``) and the bookkeeping ones (``user``, ``metadata``, ...).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any, Literal

import msgspec

from proxy.providers import SECRET_FIELDS
from proxy.routing.resolve import HEADER_FIELDS
from proxy.routing.resolve import caller_scope as scope
from proxy.schema import text_of_json

if TYPE_CHECKING:
    from proxy.context import RequestContext

EmbedWhat = Literal["last_user", "all"]

KEY_VERSION = 1  # bump when the canonical form changes: old entries then simply miss

# request fields that do not change the answer, only how it travels or is accounted
IGNORED_FIELDS = frozenset(
    {"stream", "stream_options", "user", "metadata", "store", "service_tier"}
)

# routing headers that name the destination (credentials are not among them)
DESTINATION_HEADERS = (
    "x-portkey-provider",
    *(h for h, f in HEADER_FIELDS.items() if f not in SECRET_FIELDS),
)


def _digest(obj: Any) -> str:
    return hashlib.sha256(msgspec.json.encode(obj, order="sorted")).hexdigest()


def _destination(ctx: RequestContext) -> dict[str, Any]:
    dest: dict[str, Any] = {h: v for h in DESTINATION_HEADERS if (v := ctx.headers.get(h))}
    config = ctx.config
    if config is not None:
        # the whole tree (targets, overrides, strategy) shapes the answer; its cache block not
        dest["config"] = msgspec.structs.replace(config, cache=None)
    return dest


def canonical_body(ctx: RequestContext) -> dict[str, Any]:
    return {k: v for k, v in ctx.body.as_dict().items() if k not in IGNORED_FIELDS}


def exact_key(ctx: RequestContext, namespace: str, body: dict[str, Any] | None = None) -> str:
    body = canonical_body(ctx) if body is None else body
    ident = {
        "v": KEY_VERSION,
        "ep": ctx.endpoint,
        "scope": scope(ctx),
        "ns": namespace,
        "dest": _destination(ctx),
        "body": body,
    }
    return _digest(ident)


def semantic_key(
    ctx: RequestContext, namespace: str, body: dict[str, Any], embed: EmbedWhat
) -> tuple[str, str] | None:
    """(bucket, text to embed), or None when the request has no text to compare.

    The bucket holds everything but the embedded text, so only requests with the same
    destination, parameters and (for ``last_user``) the same earlier turns are compared.
    """
    messages = body.get("messages")
    if not isinstance(messages, list):
        return None
    rest = dict(body)
    if embed == "all":
        text = "\n".join(
            f"{m.get('role')}: {text_of_json(m.get('content'))}"
            for m in messages
            if isinstance(m, dict)
        )
        rest.pop("messages")
    else:
        idx = next(
            (
                i
                for i in range(len(messages) - 1, -1, -1)
                if isinstance(messages[i], dict) and messages[i].get("role") == "user"
            ),
            None,
        )
        if idx is None:
            return None
        text = text_of_json(messages[idx].get("content"))
        rest["messages"] = [*messages[:idx], {"role": "user", "embedded": True}]
        rest["messages"] += messages[idx + 1 :]
    if not text.strip():
        return None
    return exact_key(ctx, namespace, {"semantic": embed, **rest}), text
