"""The provider registry: one line per provider package in ``PACKAGES``.

A package (or module) exports ``ADAPTERS`` (its adapters, each with a ``name``) and
``FIELDS`` (the target fields it reads, ``proxy/providers/fields.py``). Everything else is
derived here: the adapter by name, the x-portkey-* headers, and the field classes that
``bind()`` rules on. Adding a native provider is its folder plus one line below.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from proxy.errors import InvalidRequest
from proxy.providers import anthropic, azure, bedrock, cohere, google, openai_compat
from proxy.providers.base import ProviderAdapter
from proxy.providers.fields import FieldSpec, merge
from proxy.target import CORE_SECRETS, register_secret_fields

PACKAGES: tuple[Any, ...] = (
    openai_compat,  # the OpenAI-compatible family: rows of data
    azure,
    anthropic,
    google,  # Gemini and Vertex AI
    bedrock,
    cohere,
)

PROVIDERS: dict[str, ProviderAdapter] = {a.name: a for p in PACKAGES for a in p.ADAPTERS}
FIELDS: dict[str, FieldSpec] = merge([p.FIELDS for p in PACKAGES])

# x-portkey-<suffix> header -> target field (the core's custom host, then the providers')
HEADER_FIELDS: dict[str, str] = {"x-portkey-custom-host": "custom_host"} | {
    s.header: s.name for s in FIELDS.values() if s.header
}
SECRET_FIELDS = CORE_SECRETS | {s.name for s in FIELDS.values() if s.secret}
# x-portkey-* headers that carry a credential (Azure AD token, AWS secret, ...)
SECRET_HEADERS = tuple(h for h, f in HEADER_FIELDS.items() if f in SECRET_FIELDS)
# what authenticates a request to a provider (the key id names an account, so it counts)
CREDENTIAL_FIELDS = CORE_SECRETS | {s.name for s in FIELDS.values() if s.credential}
# what decides which host receives the request, and so the credentials
DESTINATION_FIELDS = frozenset({"custom_host"}) | {s.name for s in FIELDS.values() if s.destination}
# what says which account a credential acts for: only whoever owns the credential picks it
SCOPING_FIELDS = frozenset(s.name for s in FIELDS.values() if s.scoping)
# what selects the gateway's own cloud identity (ADC, instance role, AssumeRole): settings only
GATEWAY_ONLY_FIELDS = frozenset(s.name for s in FIELDS.values() if s.gateway_only)
register_secret_fields(SECRET_FIELDS)

# names clients use for the same provider
ALIASES: dict[str, str] = {"azure": "azure-openai", "mistral": "mistral-ai", "xai": "x-ai"}


def canonical(name: str) -> str:
    name = name.strip().lower()
    return ALIASES.get(name, name)


def get_adapter(name: str) -> ProviderAdapter:
    adapter = PROVIDERS.get(canonical(name))
    if adapter is None:
        raise InvalidRequest(
            f"unknown provider {name!r}; known providers: {', '.join(sorted(PROVIDERS))}",
            param="x-portkey-provider",
            code="unknown_provider",
        )
    return adapter


def lift_fields(node: Mapping[str, Any]) -> dict[str, Any]:
    """A config node or settings entry with its provider fields moved under ``fields``
    (written at the top level, as Portkey does; the schema keeps them apart)."""
    out = dict(node)
    found = {k: out.pop(k) for k in list(out) if k in FIELDS}
    if found:
        own = out.get("fields")
        out["fields"] = {**(own if isinstance(own, dict) else {}), **found}
    return out
