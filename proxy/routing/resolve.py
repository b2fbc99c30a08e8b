"""Turn a request's headers, model and config into concrete Targets.

Where the provider comes from, in order: ``model: "@slug/model"`` (a provider entry in
settings, or a provider name), the routing config (``x-portkey-config`` header or the
settings' default), then ``x-portkey-provider``. Client-supplied custom hosts are checked
against the host policy; hosts from settings are the operator's and trusted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from proxy.errors import InvalidRequest, PermissionDenied
from proxy.providers import PROVIDERS, canonical, get_adapter
from proxy.routing.config import INHERITED, TARGET_FIELDS, ConfigNode, parse_config
from proxy.target import Target

if TYPE_CHECKING:
    from proxy.context import RequestContext
    from proxy.gateway import Gateway

# x-portkey-<suffix> header -> Target field
HEADER_FIELDS: dict[str, str] = {
    "x-portkey-custom-host": "custom_host",
    "x-portkey-azure-resource-name": "resource_name",
    "x-portkey-azure-deployment-id": "deployment_id",
    "x-portkey-azure-api-version": "api_version",
    "x-portkey-azure-ad-token": "azure_ad_token",
    "x-portkey-aws-access-key-id": "aws_access_key_id",
    "x-portkey-aws-secret-access-key": "aws_secret_access_key",
    "x-portkey-aws-session-token": "aws_session_token",
    "x-portkey-aws-region": "aws_region",
    "x-portkey-vertex-project-id": "vertex_project_id",
    "x-portkey-vertex-region": "vertex_region",
    "x-portkey-openai-organization": "openai_organization",
    "x-portkey-openai-project": "openai_project",
    "x-portkey-anthropic-beta": "anthropic_beta",
    "x-portkey-anthropic-version": "anthropic_version",
}


def provider_key(ctx: RequestContext) -> str | None:
    """The provider key the client sent, skipping the header that carried a gateway key."""
    h = ctx.headers
    if ctx.auth_header != "authorization":
        auth = h.get("authorization")
        if auth:
            scheme, _, token = auth.partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    if ctx.auth_header != "x-portkey-api-key":
        return h.get("x-portkey-api-key") or None
    return None


def header_fields(ctx: RequestContext) -> dict[str, Any]:
    """Target fields the client set through x-portkey-* headers (and its provider key)."""
    h = ctx.headers
    out: dict[str, Any] = {}
    key = provider_key(ctx)
    if key:
        out["api_key"] = key
    for header, field in HEADER_FIELDS.items():
        value = h.get(header)
        if value:
            out[field] = value
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


def slug_target(slug: str, gw: Gateway, client: dict[str, Any]) -> tuple[Target, bool]:
    """A Target for a settings slug or a bare provider name; second value: trusted host."""
    entry = gw.settings.providers.get(slug)
    if entry is not None:
        fields = {f: getattr(entry, f) for f in TARGET_FIELDS if getattr(entry, f) is not None}
        fields["slug"] = slug
        return msgspec.convert(fields, Target), True
    if canonical(slug) in PROVIDERS:
        return Target(provider=canonical(slug), **client), False
    raise InvalidRequest(
        f"unknown provider {slug!r}: not a provider slug in settings nor a provider name",
        param="model",
        code="unknown_provider",
    )


def leaf_target(
    path: list[ConfigNode],
    gw: Gateway,
    client: dict[str, Any],
    default_provider: str | None = None,
) -> tuple[Target, bool]:
    """Merge a root-to-leaf path of config nodes (children override parents) into a Target.

    The provider comes from the leaf's ``provider`` or ``virtual_key``, else from an
    ``override_params.model`` of the form ``@slug/model`` (Portkey's model catalog style),
    else from ``default_provider`` (the x-portkey-provider header). Returns the Target and
    whether its custom host is trusted (came from settings).
    """
    fields: dict[str, Any] = {}
    for node in path:
        for f in INHERITED:
            value = getattr(node, f)
            if value is not None and f in TARGET_FIELDS:
                fields[f] = value
    leaf = path[-1]
    trusted = False
    slug = leaf.virtual_key
    if not slug and not leaf.provider:
        model = (fields.get("override_params") or {}).get("model")
        if isinstance(model, str) and model.startswith("@"):
            slug = split_model(model)[0]
    if slug:
        base, trusted = slug_target(slug, gw, {})
        merged = {f: getattr(base, f) for f in TARGET_FIELDS if getattr(base, f) is not None}
        merged.update(fields)
        trusted = trusted and not (DESTINATION_FIELDS & fields.keys())
        fields = merged
    elif leaf.provider:
        fields["provider"] = canonical(leaf.provider)
    elif default_provider:
        fields["provider"] = canonical(default_provider)
    else:
        raise InvalidRequest(
            "config target has no provider: set provider or virtual_key, "
            "or send x-portkey-provider",
            param="x-portkey-config",
            code="invalid_config",
        )
    for f, v in client.items():  # the client's credentials fill what the config leaves open
        fields.setdefault(f, v)
    get_adapter(fields["provider"])
    return msgspec.convert(fields, Target), trusted


# fields that decide which host receives the request (and so the credentials)
DESTINATION_FIELDS = frozenset({"custom_host", "resource_name"})


def check_host(target: Target, trusted: bool, gw: Gateway) -> None:
    if trusted:
        return
    if target.slug is not None:
        # a settings provider's key only ever goes to that provider's own host: a client
        # (inline config) that moves the destination could otherwise collect the key
        raise PermissionDenied(
            f"provider {target.slug!r} holds credentials of this gateway; a client-supplied "
            "config cannot change where its requests go (custom_host / resource_name)",
            param="x-portkey-config",
            code="custom_host_forbidden",
        )
    if target.custom_host:
        gw.host_policy.check(target.custom_host)
