"""Target: where one attempt goes (provider, credentials, host, per-provider fields).

Field names follow Portkey's config targets (snake_case), so a target can be written in an
``x-portkey-config`` JSON, built from ``x-portkey-*`` headers, or taken from a provider
entry in settings. Credentials live only here and in the upstream request; they are never
logged (``__repr__`` masks them).
"""

from __future__ import annotations

from typing import Any

import msgspec

SECRET_FIELDS = frozenset(
    {"api_key", "aws_secret_access_key", "aws_session_token", "azure_ad_token", "vertex_token"}
)
# what authenticates a request to a provider (the key id names an account, so it counts)
CREDENTIAL_FIELDS = SECRET_FIELDS | {"aws_access_key_id"}
# what says which account a credential acts for: only whoever owns the credential picks it
SCOPING_FIELDS = frozenset({"openai_organization", "openai_project"})


class TargetFields(msgspec.Struct, kw_only=True, omit_defaults=True):
    """What a target may set, wherever it is written: a config node (``ConfigNode``), the
    ``x-portkey-*`` headers, or a provider entry in settings (``ProviderEntry``)."""

    api_key: str | None = None
    custom_host: str | None = None
    # Azure OpenAI
    resource_name: str | None = None
    deployment_id: str | None = None
    api_version: str | None = None
    azure_ad_token: str | None = None
    # AWS Bedrock
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    aws_session_token: str | None = None
    aws_region: str | None = None
    # Google Vertex AI
    vertex_project_id: str | None = None
    vertex_region: str | None = None
    vertex_token: str | None = None
    # OpenAI
    openai_organization: str | None = None
    openai_project: str | None = None
    # Anthropic (Portkey's anthropic_beta / anthropic_version)
    anthropic_beta: str | None = None
    anthropic_version: str | None = None
    # request shaping
    override_params: dict[str, Any] | None = None
    forward_headers: list[str] | None = None
    request_timeout: int | None = None  # milliseconds

    def __repr__(self) -> str:
        shown = []
        for name in self.__struct_fields__:
            value = getattr(self, name)
            if value is None:
                continue
            shown.append(f"{name}={'***' if name in SECRET_FIELDS else repr(value)}")
        return f"{type(self).__name__}({', '.join(shown)})"

    __str__ = __repr__

    def secrets(self) -> list[str]:
        """The credential values this target carries (for log redaction)."""
        return [v for n in SECRET_FIELDS if isinstance(v := getattr(self, n), str) and v]


class Target(TargetFields, kw_only=True, omit_defaults=True):
    """Where one attempt goes: a provider plus the fields above.

    Built only by ``proxy.routing.resolve`` (``TargetDraft``), which records in
    ``settings_fields`` which fields the operator's settings supplied; every other field is
    the client's. ``proxy.routing.resolve.bind`` decides from that where the request may go.
    """

    provider: str
    # settings slug this target came from (for logs and /v1/models)
    slug: str | None = None
    settings_fields: frozenset[str] = frozenset()
