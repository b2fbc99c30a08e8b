"""The routing config schema (Portkey-compatible ``x-portkey-config``).

A config is a tree: every node may carry a strategy and child ``targets``; leaves name a
provider (or a settings slug through ``virtual_key``). Children inherit the shaping fields
(``retry``, ``request_timeout``, ``override_params``, ``custom_host``, ``forward_headers``,
credentials) from their parent. ``cache`` and the guardrail hooks are read by their own
middlewares. Unknown keys are rejected so a typo is a 400 naming the field, not a surprise.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import msgspec

from proxy.errors import InvalidRequest, validation_where
from proxy.providers import lift_fields
from proxy.routing.conditions import check_query
from proxy.target import TargetFields

StrategyMode = Literal["single", "fallback", "loadbalance", "conditional"]
MAX_DEPTH = 32  # levels of nested targets (a header holds ~580; msgspec stops near 500)


class Condition(msgspec.Struct, forbid_unknown_fields=True):
    query: dict[str, Any]
    then: str


class Retry(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    attempts: int = 0  # retries after the first try, at most 5
    on_status_codes: list[int] | None = None  # None: 429, 500, 502, 503, 504
    # Portkey's docs spell it both ways; either turns it off when false
    use_retry_after_header: bool | None = None
    use_retry_after_headers: bool | None = None

    def honours_retry_after(self) -> bool:
        return (
            self.use_retry_after_header is not False and self.use_retry_after_headers is not False
        )


class CacheConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    mode: Literal["simple", "semantic"] = "simple"
    max_age: int | None = None  # seconds


class CircuitBreakerConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    failure_threshold: int | None = None
    failure_threshold_percentage: float | None = None
    cooldown_interval: int = 30_000  # milliseconds
    failure_status_codes: list[int] | None = None  # None: any status >= 500
    minimum_requests: int = 1


class Strategy(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    mode: StrategyMode = "single"
    on_status_codes: list[int] | None = None
    conditions: list[Condition] | None = None
    default: str | None = None
    cb_config: CircuitBreakerConfig | None = None  # Portkey's place for it


class ConfigNode(TargetFields, forbid_unknown_fields=True, kw_only=True):
    """One node of a config tree (the root is one too); credentials and provider fields
    come from ``TargetFields``, the same names a Target has."""

    provider: str | None = None
    virtual_key: str | None = None  # a provider slug from settings
    name: str | None = None
    weight: float | None = None
    strategy: Strategy | None = None
    targets: list[ConfigNode] | None = None
    retry: Retry | None = None
    cache: CacheConfig | None = None
    cb_config: CircuitBreakerConfig | None = None
    input_guardrails: list[Any] | None = None
    output_guardrails: list[Any] | None = None
    before_request_hooks: list[Any] | None = None
    after_request_hooks: list[Any] | None = None


GatewayConfig = ConfigNode

_decoder = msgspec.json.Decoder(ConfigNode)

# fields a child takes from its parent when it does not set them
INHERITED = tuple(
    f
    for f in ConfigNode.__struct_fields__
    if f not in {"name", "weight", "strategy", "targets", "provider", "virtual_key"}
    and f not in {"cache", "input_guardrails", "output_guardrails"}
    and f not in {"before_request_hooks", "after_request_hooks", "cb_config"}
)


def _where(exc: msgspec.ValidationError) -> str:
    message, field = validation_where(exc)
    if field is not None:  # provider fields are written at the top level: name them so
        field = field.replace("fields.", "")
    return message if field is None else f"{field or 'config'}: {message}"


def config_error(detail: str) -> InvalidRequest:
    return InvalidRequest(
        f"invalid config: {detail}", param="x-portkey-config", code="invalid_config"
    )


_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")
# parts of a node whose keys are the schema's (so camelCase spellings are accepted); the
# rest (override_params, guardrails, condition queries) is the user's data, left as written
_SCHEMA_PARTS = ("strategy", "retry", "cache", "cb_config")


def _snake(key: str) -> str:
    return _CAMEL.sub(r"_\1", key).lower()


def _snake_dict(d: dict[Any, Any]) -> dict[Any, Any]:
    return {_snake(k) if isinstance(k, str) else k: v for k, v in d.items()}


def snake_case_keys(node: Any) -> Any:
    """Portkey's gateway takes config keys in camelCase too (``virtualKey``,
    ``overrideParams``, ``onStatusCodes``): rename them to the schema's snake_case. Provider
    fields written at the top level move under ``fields`` (``lift_fields``)."""
    if not isinstance(node, dict):
        return node
    return lift_fields(_snake_node(node))


def _snake_node(node: dict[Any, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in node.items():
        name = _snake(key) if isinstance(key, str) else key
        if name in _SCHEMA_PARTS and isinstance(value, dict):
            value = _snake_dict(value)
            if isinstance(value.get("cb_config"), dict):  # strategy.cb_config
                value["cb_config"] = _snake_dict(value["cb_config"])
        elif name == "targets" and isinstance(value, list):
            value = [snake_case_keys(child) for child in value]
        out[name] = value
    return out


def parse_config(data: bytes | str | dict[str, Any]) -> ConfigNode:
    """Decode and validate a config; raises InvalidRequest naming the bad field."""
    try:
        if isinstance(data, dict):
            node = msgspec.convert(snake_case_keys(data), ConfigNode)
        else:
            try:
                node = _decoder.decode(data)
            except msgspec.ValidationError:
                # maybe camelCase keys: decode loosely, rename, validate (errors from here)
                node = msgspec.convert(snake_case_keys(msgspec.json.decode(data)), ConfigNode)
    except msgspec.ValidationError as exc:
        raise config_error(_where(exc)) from None
    except msgspec.DecodeError as exc:
        raise config_error(f"not valid JSON ({exc})") from None
    except RecursionError:  # msgspec gives up near 500 levels of anything
        raise config_error("JSON nested too deeply") from None
    validate(node, "")
    return node


def validate(node: ConfigNode, path: str, depth: int = 0) -> None:
    def at(field: str) -> str:
        return f"{path}.{field}" if path else field

    if depth > MAX_DEPTH:  # every layer below (router, guardrails) walks the tree recursively
        raise config_error(f"{path}: targets nested deeper than {MAX_DEPTH} levels")

    mode = node.strategy.mode if node.strategy else "single"
    if node.targets:
        if node.provider or node.virtual_key:
            raise config_error(f"{at('provider')}: a node has either a provider or targets")
        seen: set[str] = set()
        for i, child in enumerate(node.targets):
            validate(child, at(f"targets[{i}]"), depth + 1)
            if child.weight is not None and child.weight < 0:
                raise config_error(f"{at(f'targets[{i}].weight')}: must not be negative")
            if child.name is not None:
                if child.name in seen:
                    raise config_error(f"{at(f'targets[{i}].name')}: {child.name!r} is used twice")
                seen.add(child.name)
        if mode == "loadbalance" and not any(
            c.weight is None or c.weight > 0 for c in node.targets
        ):
            raise config_error(f"{at('targets')}: loadbalance needs a target with weight > 0")
        if mode == "conditional":
            conds = node.strategy.conditions if node.strategy else None
            if not conds:
                raise config_error(f"{at('strategy.conditions')}: conditional needs conditions")
            names = {t.name for t in node.targets if t.name}
            for i, cond in enumerate(conds):
                try:
                    check_query(cond.query)
                except ValueError as exc:
                    raise config_error(f"{at(f'strategy.conditions[{i}].query')}: {exc}") from None
            for i, cond in enumerate(conds):
                if cond.then not in names:
                    raise config_error(
                        f"{at(f'strategy.conditions[{i}].then')}: no target named {cond.then!r}"
                    )
            default = node.strategy.default if node.strategy else None
            if default is not None and default not in names:
                raise config_error(f"{at('strategy.default')}: no target named {default!r}")
    elif node.strategy and mode != "single":
        raise config_error(f"{at('targets')}: mode {mode!r} needs targets")
    if node.retry is not None:
        if not 0 <= node.retry.attempts <= 5:
            raise config_error(f"{at('retry.attempts')}: must be between 0 and 5")
        _check_codes(node.retry.on_status_codes, at("retry.on_status_codes"))
    if node.strategy is not None:
        _check_codes(node.strategy.on_status_codes, at("strategy.on_status_codes"))
        if node.strategy.cb_config is not None:
            _check_breaker(node.strategy.cb_config, at("strategy.cb_config"))
    if node.cb_config is not None:
        _check_breaker(node.cb_config, at("cb_config"))
    if node.request_timeout is not None and node.request_timeout <= 0:
        raise config_error(f"{at('request_timeout')}: must be a positive number of ms")


def _check_codes(codes: list[int] | None, field: str) -> None:
    for i, code in enumerate(codes or ()):
        if not 100 <= code <= 599:
            raise config_error(f"{field}[{i}]: {code} is not an HTTP status code")


def _check_breaker(cb: CircuitBreakerConfig, field: str) -> None:
    if cb.failure_threshold is None and cb.failure_threshold_percentage is None:
        raise config_error(
            f"{field}: set failure_threshold or failure_threshold_percentage (or both)"
        )
    if cb.failure_threshold is not None and cb.failure_threshold < 1:
        raise config_error(f"{field}.failure_threshold: must be at least 1")
    pct = cb.failure_threshold_percentage
    if pct is not None and not 0 < pct <= 100:
        raise config_error(f"{field}.failure_threshold_percentage: must be in (0, 100]")
    if not 0 < cb.cooldown_interval <= 86_400_000:
        raise config_error(f"{field}.cooldown_interval: must be between 1 ms and a day")
    if cb.minimum_requests < 1:
        raise config_error(f"{field}.minimum_requests: must be at least 1")
    _check_codes(cb.failure_status_codes, f"{field}.failure_status_codes")
