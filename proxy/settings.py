"""Settings: one YAML (or JSON) file decoded with msgspec into typed Structs.

Works with no file at all (defaults), takes ``${VAR}`` / ``${VAR:-default}`` references in
string values (keys from a Kubernetes Secret, for instance) and env-var overrides for the
common knobs. Unknown fields are errors, and every error names the field.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any, Literal

import msgspec

from proxy.credentials import CredentialsSettings
from proxy.credentials import check_settings as check_credentials
from proxy.errors import validation_where
from proxy.frontdoors.responses.settings import ResponsesSettings, choose_store
from proxy.imagefetch import ImageFetchSettings
from proxy.imagefetch import check_settings as check_image_fetch
from proxy.keys import KeyEntry
from proxy.ledger import settings as ledger_settings
from proxy.ledger.settings import LedgerSettings
from proxy.observability.settings import ObservabilitySettings
from proxy.pipeline import SettingsError
from proxy.providers import lift_fields
from proxy.quota import settings as limits_settings
from proxy.quota.settings import LimitsSettings
from proxy.target import TargetFields

DEFAULT_SETTINGS_ENV = "GATEWAY_SETTINGS"


class ServerSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    host: str = "0.0.0.0"
    port: int = 8787
    workers: int = 1
    max_body_bytes: int = 25 * 1024 * 1024  # base64 images make bodies large
    # a pass-through body streamed upstream (files, audio): never held, so only a cap on
    # how much one request may send (OpenAI takes files up to 512 MB)
    max_upload_bytes: int = 512 * 1024 * 1024
    shutdown_timeout: float = 15.0  # seconds given to in-flight streams on SIGTERM
    # seconds /ready answers 503 after SIGTERM while the listener still serves, so load
    # balancers stop sending before it closes (Kubernetes: endpoints update asynchronously)
    drain_delay: float = 0.0
    # allocations between the garbage collector's young-generation passes (proxy/gctune.py);
    # 0: Python's defaults, nothing frozen
    gc_threshold: int = 5_000


class UpstreamSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    connect_timeout: float = 10.0  # seconds to open a connection
    read_timeout: float = 600.0  # seconds of silence tolerated between upstream bytes
    pool_size: int = 1000  # open connections, all hosts together
    pool_size_per_host: int = 0  # 0: no per-host limit
    keepalive_timeout: float = 60.0
    max_response_bytes: int = 64 * 1024 * 1024  # non-streamed answers larger than this fail
    # send upstream calls through HTTPS_PROXY / HTTP_PROXY (honouring NO_PROXY)
    proxy_from_env: bool = False


# cloud metadata services and link-local addresses: where stolen instance credentials live
DEFAULT_DENY = (
    "169.254.0.0/16",
    "fe80::/10",
    "fd00:ec2::254/128",
    "100.100.100.200/32",
    "0.0.0.0/8",
)


class CustomHostSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    enabled: bool = True
    # Empty: any host. Otherwise host names ("api.example.com"), suffixes ("*.corp.example")
    # and IP networks ("10.0.0.0/8"); anything else gets 403.
    allow: list[str] = msgspec.field(default_factory=list)
    # networks no upstream call ever reaches, whatever a name resolves to (checked on the
    # resolved addresses too, so DNS rebinding cannot get there)
    deny: list[str] = msgspec.field(default_factory=lambda: list(DEFAULT_DENY))


class LoggingSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"


class ProviderEntry(TargetFields, forbid_unknown_fields=True, kw_only=True):
    """A provider configured in settings, referenced as ``model: "@slug/model"``."""

    provider: str
    models: list[str] = msgspec.field(default_factory=list)
    # /v1/* pass-through paths its credentials may serve (docs/passthrough.md): prefixes
    # such as "images", "audio/transcriptions", "moderations", or "*". Empty: none, so a key
    # held here is not every client's handle on the account's files, batches and the rest
    passthrough: list[str] = msgspec.field(default_factory=list)


class MiddlewareEntry(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    cls: str = msgspec.field(name="class")
    options: dict[str, Any] = msgspec.field(default_factory=dict)
    enabled: bool = True


DEFAULT_MIDDLEWARE: tuple[str, ...] = (
    # logging and observability outermost: a request refused by auth or a guardrail is
    # still logged and counted
    "middleware.logging:LoggingMiddleware",
    "middleware.observability:ObservabilityMiddleware",
    "middleware.auth:AuthMiddleware",
    "middleware.guardrails:GuardrailsMiddleware",
    "middleware.cache:CacheMiddleware",
    "middleware.router:RouterMiddleware",
)


def _default_chain() -> list[MiddlewareEntry]:
    return [MiddlewareEntry(cls=c) for c in DEFAULT_MIDDLEWARE]


class RedisSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The shared state of every feature that spans replicas (a feature's own option wins)."""

    url: str | None = None  # None: each feature keeps its state in process
    timeout: float = 0.25  # seconds per call: an outage must not stall requests
    prefix: str = "llmgw:"


class AdminSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Keys of the admin API and console (never a gateway key); none: the admin API is off."""

    keys: list[str | KeyEntry] = msgspec.field(default_factory=list)
    keys_env: str = "GATEWAY_ADMIN_KEYS"


class ConsoleSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The console at /console (proxy/console/): off unless enabled; ``python -m proxy`` with
    no settings file turns it on (the local dev proxy). Admin keys protect it when set."""

    enabled: bool = False
    ring_size: int = 1000  # recent requests held in memory, per worker
    # request and answer bodies in the ring (secrets and PII masked, truncated); off by
    # default: an egress gateway's console should not hold its users' prompts
    capture_bodies: bool = False
    body_limit: int = 4096  # characters kept of each body
    max_viewers: int = 8  # live feeds open at once, per worker


class Settings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    server: ServerSettings = msgspec.field(default_factory=ServerSettings)
    upstream: UpstreamSettings = msgspec.field(default_factory=UpstreamSettings)
    custom_hosts: CustomHostSettings = msgspec.field(default_factory=CustomHostSettings)
    logging: LoggingSettings = msgspec.field(default_factory=LoggingSettings)
    middleware: list[MiddlewareEntry] = msgspec.field(default_factory=_default_chain)
    providers: dict[str, ProviderEntry] = msgspec.field(default_factory=dict)
    # routing configs by id, usable as `x-portkey-config: <id>`; validated at start-up
    configs: dict[str, dict[str, Any]] = msgspec.field(default_factory=dict)
    # id of a config in `configs` (or an inline config) applied when a request names none
    default_config: str | dict[str, Any] | None = None
    # metrics, traces, prices, audit sink: proxy/observability/settings.py
    observability: ObservabilitySettings = msgspec.field(default_factory=ObservabilitySettings)
    redis: RedisSettings = msgspec.field(default_factory=RedisSettings)
    admin: AdminSettings = msgspec.field(default_factory=AdminSettings)
    console: ConsoleSettings = msgspec.field(default_factory=ConsoleSettings)
    # the store of translated Responses API answers: proxy/frontdoors/responses/settings.py
    responses: ResponsesSettings = msgspec.field(default_factory=ResponsesSettings)
    # how gateway keys' rpm / tpm / max_parallel / budgets are counted (docs/keys.md)
    limits: LimitsSettings = msgspec.field(default_factory=LimitsSettings)
    # the spend ledger: one row per request, SQLite or PostgreSQL (docs/keys.md)
    ledger: LedgerSettings = msgspec.field(default_factory=LedgerSettings)
    # Vertex tokens and AWS keys the gateway obtains itself (proxy/credentials.py)
    credentials: CredentialsSettings = msgspec.field(default_factory=CredentialsSettings)
    # image URLs fetched for providers that need the bytes (proxy/imagefetch.py)
    image_fetch: ImageFetchSettings = msgspec.field(default_factory=ImageFetchSettings)


_TRUE = frozenset({"1", "true", "yes", "on"})

# env var -> (section, field, parser)
_ENV_OVERRIDES: dict[str, tuple[str, str, Any]] = {
    "GATEWAY_HOST": ("server", "host", str),
    "GATEWAY_PORT": ("server", "port", int),
    "GATEWAY_WORKERS": ("server", "workers", int),
    "GATEWAY_MAX_BODY_BYTES": ("server", "max_body_bytes", int),
    "GATEWAY_MAX_UPLOAD_BYTES": ("server", "max_upload_bytes", int),
    "GATEWAY_DRAIN_DELAY": ("server", "drain_delay", float),
    "GATEWAY_GC_THRESHOLD": ("server", "gc_threshold", int),
    "GATEWAY_CONNECT_TIMEOUT": ("upstream", "connect_timeout", float),
    "GATEWAY_READ_TIMEOUT": ("upstream", "read_timeout", float),
    "GATEWAY_PROXY_FROM_ENV": ("upstream", "proxy_from_env", lambda v: v.lower() in _TRUE),
    "GATEWAY_OTEL_ENDPOINT": ("observability", "otel_endpoint", str),
    "GATEWAY_REDIS_URL": ("redis", "url", str),
    "GATEWAY_LEDGER_URL": ("ledger", "url", str),
    "GATEWAY_CONSOLE": ("console", "enabled", lambda v: v.lower() in _TRUE),
    "GATEWAY_LOG_LEVEL": ("logging", "level", str.lower),
    "GATEWAY_LOG_FORMAT": ("logging", "format", str.lower),
    "GATEWAY_RESPONSES_STORE": ("responses", "store", str.lower),
    "GATEWAY_RESPONSES_REDIS_URL": ("responses", "redis_url", str),
    "GATEWAY_CUSTOM_HOSTS_ALLOW": (
        "custom_hosts",
        "allow",
        lambda v: [h.strip() for h in v.split(",") if h.strip()],
    ),
}

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _interpolate(node: Any, env: Mapping[str, str], path: str) -> Any:
    if isinstance(node, str):

        def sub(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            raise SettingsError(f"{path}: environment variable {name} is not set")

        return _VAR.sub(sub, node)
    if isinstance(node, dict):
        return {k: _interpolate(v, env, f"{path}.{k}") for k, v in node.items()}
    if isinstance(node, list):
        return [_interpolate(v, env, f"{path}[{i}]") for i, v in enumerate(node)]
    return node


def _apply_env(raw: dict[str, Any], env: Mapping[str, str]) -> None:
    for var, (section, field, parse) in _ENV_OVERRIDES.items():
        if var not in env:
            continue
        try:
            value = parse(env[var])
        except ValueError:
            raise SettingsError(f"{var}: {env[var]!r} is not a valid {section}.{field}") from None
        sect = raw.setdefault(section, {})
        if not isinstance(sect, dict):
            raise SettingsError(f"{section}: expected a mapping")
        sect[field] = value


def _field_of(exc: msgspec.ValidationError) -> str:
    """Turn msgspec's "... - at `$.server.port`" into "server.port: ..."."""
    message, field = validation_where(exc)
    return message if field is None else f"{field or '(top level)'}: {message}"


def _keyed_field(raw: dict[str, Any], exc: msgspec.ValidationError) -> str:
    """msgspec says ``providers[...]`` for a mapping's key: find which entry it was."""
    text = _field_of(exc)
    if text.startswith("providers[...]") and isinstance(raw.get("providers"), dict):
        for slug, entry in raw["providers"].items():
            try:
                msgspec.convert(entry, ProviderEntry, strict=False)
            except msgspec.ValidationError as inner:
                detail = _field_of(inner)
                sub = "" if detail.startswith("(top level)") else "."
                return f"providers.{slug}{sub}{detail.removeprefix('(top level)')}"
    return text


def parse_settings(raw: Any, env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise SettingsError("settings: the file must hold a mapping at the top level")
    raw = _interpolate(raw, env, "settings")
    _apply_env(raw, env)
    if isinstance(raw.get("providers"), dict):  # provider fields at the top level, as Portkey
        raw["providers"] = {
            slug: lift_fields(e) if isinstance(e, dict) else e
            for slug, e in raw["providers"].items()
        }
    try:
        settings = msgspec.convert(raw, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise SettingsError(_keyed_field(raw, exc)) from None
    _check(settings)
    return settings


def _check(s: Settings) -> None:
    if not 0 < s.server.port < 65536:
        raise SettingsError(f"server.port: {s.server.port} is not a TCP port")
    if s.server.workers < 1:
        raise SettingsError("server.workers: must be at least 1")
    if not 0 <= s.server.drain_delay <= 300:
        raise SettingsError("server.drain_delay: must be between 0 and 300 seconds")
    if s.server.gc_threshold < 0:
        raise SettingsError("server.gc_threshold: must be 0 (Python's defaults) or more")
    if s.server.max_body_bytes < 1024:
        raise SettingsError("server.max_body_bytes: must be at least 1024")
    if s.server.max_upload_bytes < 1024:
        raise SettingsError("server.max_upload_bytes: must be at least 1024")
    for name in ("connect_timeout", "read_timeout"):
        if getattr(s.upstream, name) <= 0:
            raise SettingsError(f"upstream.{name}: must be positive")
    for slug in s.providers:
        if "/" in slug or not slug:
            raise SettingsError(f"providers.{slug}: a slug cannot be empty or contain '/'")
    c = s.console
    if not 1 <= c.ring_size <= 1_000_000:
        raise SettingsError("console.ring_size: must be between 1 and 1000000")
    if not 256 <= c.body_limit <= 1_000_000:
        raise SettingsError("console.body_limit: must be between 256 and 1000000 characters")
    if not 1 <= c.max_viewers <= 1000:
        raise SettingsError("console.max_viewers: must be between 1 and 1000")
    if isinstance(s.default_config, str) and s.default_config not in s.configs:
        raise SettingsError(f"default_config: no config with id {s.default_config!r}")
    try:
        choose_store(s.responses, s.redis.url, s.redis.timeout, s.redis.prefix)
        limits_settings.check(s.limits)
        ledger_settings.check(s.ledger)
        check_credentials(s.credentials)
        check_image_fetch(s.image_fetch)
    except ValueError as exc:
        raise SettingsError(str(exc)) from None


def load_settings(path: str | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Read settings from ``path`` (or ``$GATEWAY_SETTINGS``); defaults when neither is set."""
    env = os.environ if env is None else env
    path = path or env.get(DEFAULT_SETTINGS_ENV) or None
    raw: Any = {}
    if path:
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            raise SettingsError(f"settings file {path}: {exc.strerror or exc}") from None
        try:
            raw = msgspec.yaml.decode(data) if data.strip() else {}
        except msgspec.DecodeError as exc:
            raise SettingsError(f"settings file {path}: not valid YAML/JSON: {exc}") from None
    return parse_settings(raw, env)
