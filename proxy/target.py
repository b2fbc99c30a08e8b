"""Target: where one attempt goes (provider, credentials, host, per-provider fields).

Field names follow Portkey's config targets (snake_case), so a target can be written in an
``x-portkey-config`` JSON, built from ``x-portkey-*`` headers, or taken from a provider
entry in settings. Credentials live only here and in the upstream request; they are never
logged (``__repr__`` masks them).
"""

from __future__ import annotations

from typing import Any

import msgspec

# core fields that hold credentials (provider packages declare their own: FieldSpec)
CORE_SECRETS = frozenset({"api_key"})
_secret_fields: set[str] = set(CORE_SECRETS)  # grown by the registry, for masking


def register_secret_fields(names: frozenset[str]) -> None:
    """The registry tells Target which provider fields to mask (it cannot import them)."""
    _secret_fields.update(names)


class TargetFields(msgspec.Struct, kw_only=True, omit_defaults=True):
    """What a target may set, wherever it is written: a config node (``ConfigNode``), the
    ``x-portkey-*`` headers, or a provider entry in settings (``ProviderEntry``).

    The core fields are the same for every provider; ``fields`` holds the ones a provider
    package declares (``proxy/providers/fields.py``), by name. Configs and settings write
    those at the top level, as Portkey does; ``proxy.providers.lift_fields`` moves them in.
    """

    api_key: str | None = None
    custom_host: str | None = None
    fields: dict[str, str] | None = None  # provider-declared: resource_name, aws_region, ...
    # request shaping
    override_params: dict[str, Any] | None = None
    forward_headers: list[str] | None = None
    request_timeout: int | None = None  # milliseconds

    def get(self, name: str) -> Any:
        """A field by name, core or provider-declared (None when unset)."""
        if name in _CORE:
            return getattr(self, name)
        return (self.fields or {}).get(name)

    def text(self, name: str) -> str | None:
        """A provider-declared field's value (they are all text)."""
        return (self.fields or {}).get(name)

    def __repr__(self) -> str:
        shown = []
        for name in self.__struct_fields__:
            value = getattr(self, name)
            if value is None:
                continue
            if name == "fields":
                value = {k: "***" if k in _secret_fields else v for k, v in value.items()}
            shown.append(f"{name}={'***' if name in _secret_fields else repr(value)}")
        return f"{type(self).__name__}({', '.join(shown)})"

    __str__ = __repr__

    def secrets(self) -> list[str]:
        """The credential values this target carries (for log redaction)."""
        found = [self.api_key] if self.api_key else []
        found += [v for k, v in (self.fields or {}).items() if k in _secret_fields and v]
        return found


_CORE = frozenset(TargetFields.__struct_fields__) | {"provider", "slug", "settings_fields"}


class Target(TargetFields, kw_only=True, omit_defaults=True, frozen=True):  # type: ignore[misc]  # msgspec allows it; mypy reads dataclass rules
    """Where one attempt goes: a provider plus the fields above (``get(name)`` reads any).
    Frozen: a target ``bind`` passed stays the target it passed (changes make a new one).

    Built only by ``proxy.routing.resolve`` (``TargetDraft``), which records in
    ``settings_fields`` which fields the operator's settings supplied; every other field is
    the client's. ``proxy.routing.resolve.bind`` decides from that where the request may go.
    """

    provider: str
    # settings slug this target came from (for logs and /v1/models)
    slug: str | None = None
    settings_fields: frozenset[str] = frozenset()
