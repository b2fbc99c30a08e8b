"""Turn a request's headers, model and config into concrete Targets, and bind them.

Where the provider comes from, in order: ``model: "@slug/model"`` (a provider entry in
settings, or a provider name), the routing config (``x-portkey-config`` header or the
settings' default), then ``x-portkey-provider``.

Every field of a Target has an origin: the operator's settings (provider entries, settings
configs, the default config) or the client (headers, inline configs). ``TargetDraft`` is the
only way a Target is built and it records which fields settings supplied; ``bind`` is the
one function that decides, from those origins, whether a request may go where it points:
a credential the gateway holds only goes to the destination settings declare.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import msgspec

from proxy.errors import InvalidRequest, PermissionDenied
from proxy.providers import (
    CREDENTIAL_FIELDS,
    DESTINATION_FIELDS,
    FIELDS,
    GATEWAY_ONLY_FIELDS,
    HEADER_FIELDS,
    PROVIDERS,
    SCOPING_FIELDS,
    SECRET_FIELDS,
    SECRET_HEADERS,
    canonical,
    get_adapter,
)
from proxy.routing.config import INHERITED, ConfigNode, parse_config
from proxy.target import Target, TargetFields

if TYPE_CHECKING:
    from proxy.context import RequestContext
    from proxy.gateway import Gateway

__all__ = ["HEADER_FIELDS", "SECRET_FIELDS"]  # re-exported: the cache's key reads them

_CORE = frozenset(TargetFields.__struct_fields__) - {"fields"}
TARGET_FIELDS = _CORE | {"provider", "slug"} | FIELDS.keys()


def flat_fields(obj: TargetFields) -> dict[str, Any]:
    """A config node's or settings entry's target fields by name, provider ones included."""
    out = {f: v for f in _CORE if (v := getattr(obj, f, None)) is not None}
    if obj.fields:
        out.update(obj.fields)
    return out


class TargetDraft:
    """A Target being assembled from layers, remembering which fields settings supplied."""

    __slots__ = ("fields", "from_settings")

    def __init__(self) -> None:
        self.fields: dict[str, Any] = {}
        self.from_settings: set[str] = set()

    def put(self, values: Mapping[str, Any], *, settings: bool, fill: bool = False) -> None:
        """Lay ``values`` over what is there (``fill``: only where nothing is yet)."""
        for name, value in values.items():
            if value is None or name not in TARGET_FIELDS:
                continue
            if fill and name in self.fields:
                continue
            self.fields[name] = value
            if settings:
                self.from_settings.add(name)
            else:
                self.from_settings.discard(name)

    def put_headers(self, client: Mapping[str, Any]) -> None:
        """The client's headers fill what the layers below leave open. Where the request
        goes, whom a key acts for and the gateway's own identity also replace a value from
        settings, so that ``bind`` sees the client's wish and refuses it (instead of the
        header being dropped unseen)."""
        ruled = DESTINATION_FIELDS | SCOPING_FIELDS | GATEWAY_ONLY_FIELDS
        self.put({k: v for k, v in client.items() if k not in ruled}, settings=False, fill=True)
        self.put(
            {k: v for k, v in client.items() if k in ruled and k not in self.fields},
            settings=False,
        )
        self.put(
            {k: v for k, v in client.items() if k in ruled and k in self.from_settings},
            settings=False,
        )

    def build(self) -> Target:
        get_adapter(self.fields["provider"])  # 400 naming an unknown provider
        core = {k: v for k, v in self.fields.items() if k not in FIELDS}
        own = {k: v for k, v in self.fields.items() if k in FIELDS}
        if own:
            core["fields"] = own
        return msgspec.convert({**core, "settings_fields": sorted(self.from_settings)}, Target)


def settings_target(**fields: Any) -> Target:
    """A target written entirely by the operator (middleware options, for instance)."""
    draft = TargetDraft()
    draft.put(fields, settings=True)
    return draft.build()


_RULED = CREDENTIAL_FIELDS | DESTINATION_FIELDS | SCOPING_FIELDS | GATEWAY_ONLY_FIELDS
_RULED_CORE = tuple(sorted(_RULED & set(Target.__struct_fields__)))


def bind(target: Target, gw: Gateway) -> None:
    """The one decision on where a target's request may go. Raises 403 otherwise.

    A credential from settings is bound to the destination settings declare: a client value
    that moves the destination (custom host, Azure resource) or picks the account a key acts
    for (OpenAI organization / project) is refused beside it. The gateway's own cloud
    identity (``vertex_auth: adc``, ``aws_auth: chain``, ``aws_role_arn``, ...) is such a
    credential, and only settings may turn it on or shape it. A destination the client
    chose must also pass the egress policy. Called when a target is resolved; the terminal
    step calls it for any target but the one routing bound (``ctx.bound_target``; targets
    are frozen), so no path to an upstream can skip it.
    """
    held = target.settings_fields
    # the ruled fields this target sets, in one pass
    present = {f for f in _RULED_CORE if getattr(target, f)}
    if target.fields:
        present.update(k for k, v in target.fields.items() if v)
    claimed = sorted(present.intersection(GATEWAY_ONLY_FIELDS).difference(held))
    if claimed:
        raise PermissionDenied(
            f"{', '.join(claimed)} selects this gateway's own cloud identity, which only the "
            "gateway's settings may use; send your own credentials instead",
            param=_param_for(claimed[0]),
            code="credential_binding",
        )
    gateway_creds = present.intersection(CREDENTIAL_FIELDS).intersection(held)
    moved = sorted(present.intersection(DESTINATION_FIELDS).difference(held))
    rescoped = sorted(present.intersection(SCOPING_FIELDS).difference(held))
    if gateway_creds and (moved or rescoped):
        what = ", ".join(moved + rescoped)
        raise PermissionDenied(
            f"provider {target.slug or target.provider!r} uses credentials held by this "
            f"gateway; a client-supplied {what} cannot change where they go or whom they "
            "act for",
            param=_param_for((moved + rescoped)[0]),
            code="credential_binding",
        )
    if target.custom_host and "custom_host" not in held:
        gw.host_policy.check(target.custom_host)


def _param_for(field: str) -> str:
    for header, name in HEADER_FIELDS.items():
        if name == field:
            return header
    return field


def provider_key(ctx: RequestContext) -> str | None:
    """The provider key the client sent, skipping the header that carried a gateway key:
    ``Authorization: Bearer``, ``x-portkey-api-key``, then ``x-api-key`` (where Anthropic's
    SDKs and Claude Code put ``ANTHROPIC_API_KEY``)."""
    h = ctx.headers
    if ctx.auth_header != "authorization":
        auth = h.get("authorization")
        if auth:
            scheme, _, token = auth.partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    for name in ("x-portkey-api-key", "x-api-key"):
        if ctx.auth_header != name:
            value = (h.get(name) or "").strip()
            if value:
                return value
    return None


def caller_scope(ctx: RequestContext) -> str:
    """Whose data a request may read (cached answers, stored responses): the gateway key's
    name, else a digest of the client's credentials.

    Without gateway keys the client's own provider credentials scope the data, so a caller
    that could not authenticate to the provider cannot read what someone else paid for.
    Requests that carry no credentials (a settings slug holds them) share one scope.
    """
    if ctx.principal is not None:
        return "p:" + ctx.principal
    secrets = [provider_key(ctx) or ""] + [ctx.headers.get(h, "") for h in SECRET_HEADERS]
    if not any(secrets):
        return ""
    return "k:" + hashlib.sha256("\0".join(secrets).encode()).hexdigest()[:32]


def header_fields(ctx: RequestContext) -> dict[str, Any]:
    """Target fields the client set through x-portkey-* headers (and its provider key)."""
    h = ctx.headers
    out: dict[str, Any] = {}
    key = provider_key(ctx)
    if key:
        out["api_key"] = key
    for name, value in h.items():  # the request's few headers, not every known name
        field = HEADER_FIELDS.get(name.lower())
        if field is not None and value:
            out.setdefault(field, value)  # the first of repeated headers, as h.get() gives
    fwd = h.get("x-portkey-forward-headers")
    if fwd:
        out["forward_headers"] = [x.strip().lower() for x in fwd.split(",") if x.strip()]
    timeout = h.get("x-portkey-request-timeout")
    if timeout:
        try:
            out["request_timeout"] = int(timeout)
        except ValueError:
            raise InvalidRequest(
                "x-portkey-request-timeout must be a whole number of milliseconds",
                param="x-portkey-request-timeout",
                code="invalid_header",
            ) from None
        if out["request_timeout"] <= 0:
            raise InvalidRequest(
                "x-portkey-request-timeout must be positive",
                param="x-portkey-request-timeout",
                code="invalid_header",
            )
    return out


def request_config(ctx: RequestContext, gw: Gateway) -> tuple[ConfigNode | None, bool]:
    """The config for this request and whether the client supplied it inline."""
    raw = ctx.headers.get("x-portkey-config")
    if not raw:
        return gw.default_config, False
    raw = raw.strip()
    if raw.startswith("{"):
        return parse_config(raw), True
    node = gw.configs.get(raw)
    if node is None:
        raise InvalidRequest(
            f"no config with id {raw!r} on this gateway",
            param="x-portkey-config",
            code="unknown_config",
        )
    return node, False


def split_model(model: str) -> tuple[str | None, str]:
    """``@slug/model`` -> (slug, model); anything else -> (None, model)."""
    if model.startswith("@"):
        slug, sep, name = model[1:].partition("/")
        if not sep or not slug or not name:
            raise InvalidRequest(
                "model must look like @provider-slug/model-name",
                param="model",
                code="invalid_model",
            )
        return slug, name
    return None, model


def _slug_layer(slug: str, gw: Gateway, draft: TargetDraft) -> None:
    """Lay a settings slug (or a bare provider name) at the bottom of ``draft``."""
    entry = gw.settings.providers.get(slug)
    if entry is not None:
        draft.put({"provider": entry.provider, **flat_fields(entry)}, settings=True)
        draft.put({"slug": slug}, settings=True)
        return
    if canonical(slug) in PROVIDERS:
        draft.put({"provider": canonical(slug)}, settings=False)
        return
    raise InvalidRequest(
        f"unknown provider {slug!r}: not a provider slug in settings nor a provider name",
        param="model",
        code="unknown_provider",
    )


BOUND_TARGETS = 1024  # client header sets remembered per gateway (they are client-chosen)
# characters of client values one remembered target may hold: a key, a host, a cloud token
# or service-account JSON fit; 8 KB headers by the dozen (130 KB) are built each time
BOUND_TARGET_CHARS = 16 * 1024


def _memo_key(client: dict[str, Any], *built_from: Any) -> tuple[Any, ...] | None:
    """What a target is built from, as a key; None when a value is a list
    (``forward_headers``): such a target is built each time."""
    key = (*built_from, *client.items())
    try:
        hash(key)
    except TypeError:
        return None
    return key


def _chars(key: tuple[Any, ...]) -> int:
    """The length of the client's text values in a key (its (field, value) pairs; what it
    was built from besides is a name, a provider or node ids). Counted on a miss only."""
    return sum(len(part[1]) for part in key if isinstance(part, tuple) and isinstance(part[1], str))


def _remember(gw: Gateway, key: tuple[Any, ...] | None, target: Target) -> Target:
    """Keep a target ``bind`` let through (refusals are never kept: each is decided again).
    A target is frozen and a gateway's settings never change, so the same headers would
    build and bind the same target: the next request with them skips both."""
    if key is not None and _chars(key) <= BOUND_TARGET_CHARS:
        memo = gw.bound_targets
        if len(memo) >= BOUND_TARGETS:
            memo.clear()
        memo[key] = target
    return target


def slug_target(slug: str, gw: Gateway, client: dict[str, Any]) -> Target:
    """The target of ``model: "@slug/model"``: the settings entry under the client's
    headers (``TargetDraft.put_headers``)."""
    key = _memo_key(client, "@", slug)
    if key is not None and (found := gw.bound_targets.get(key)) is not None:
        return found
    draft = TargetDraft()
    _slug_layer(slug, gw, draft)
    draft.put_headers(client)
    target = draft.build()
    bind(target, gw)
    return _remember(gw, key, target)


def header_target(provider: str, gw: Gateway, client: dict[str, Any]) -> Target:
    """The target of ``x-portkey-provider`` with no config: entirely the client's."""
    key = _memo_key(client, "h", provider)
    if key is not None and (found := gw.bound_targets.get(key)) is not None:
        return found
    draft = TargetDraft()
    draft.put({"provider": canonical(provider), **client}, settings=False)
    target = draft.build()
    bind(target, gw)
    return _remember(gw, key, target)


def leaf_target(
    path: list[ConfigNode],
    gw: Gateway,
    client: dict[str, Any],
    inline: bool,
    default_provider: str | None = None,
) -> Target:
    """Merge a root-to-leaf path of config nodes (children override parents) into a Target.

    The provider comes from the leaf's ``provider`` or ``virtual_key``, else from an
    ``override_params.model`` of the form ``@slug/model`` (Portkey's model catalog style),
    else from ``default_provider`` (the x-portkey-provider header). Config fields are the
    client's when the config is ``inline``, the operator's otherwise; header fields fill
    what the config leaves open.

    A settings config's nodes live as long as the gateway, so its targets are remembered by
    the nodes' identity; an inline config's are built each time (parsed per request, a
    node's id may be reused by the next one).
    """
    key = None if inline else _memo_key(client, "c", default_provider, *map(id, path))
    if key is not None and (found := gw.bound_targets.get(key)) is not None:
        return found
    config: dict[str, Any] = {}
    for node in path:  # children override parents, field by field (provider fields too)
        for f in INHERITED:
            value = getattr(node, f)
            if value is not None and f != "fields":
                config[f] = value
        if node.fields:
            config.update(node.fields)
    leaf = path[-1]
    slug = leaf.virtual_key
    if not slug and not leaf.provider:
        model = (config.get("override_params") or {}).get("model")
        if isinstance(model, str) and model.startswith("@"):
            slug = split_model(model)[0]
    draft = TargetDraft()
    if slug:
        _slug_layer(slug, gw, draft)
    elif leaf.provider:
        draft.put({"provider": canonical(leaf.provider)}, settings=not inline)
    elif default_provider:
        draft.put({"provider": canonical(default_provider)}, settings=False)
    else:
        raise InvalidRequest(
            "config target has no provider: set provider or virtual_key, "
            "or send x-portkey-provider",
            param="x-portkey-config",
            code="invalid_config",
        )
    draft.put(config, settings=not inline)
    draft.put_headers(client)
    target = draft.build()
    bind(target, gw)
    return _remember(gw, key, target)
