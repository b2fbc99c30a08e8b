"""Check ids → classes, and guardrail definitions → compiled guardrails.

Definitions come in Portkey's three shapes: an id of a guardrail defined in settings, a
full definition ``{id, checks: [{id, parameters}], deny, async, on_fail, on_success}``, and
the shorthand ``{"default.contains": {...}, "deny": true}``. Parameters are decoded into the
check's ``Params`` here, so a settings typo fails at start-up and a client's typo is a 400,
both naming the field.

User checks plug in by dotted path (``mypkg.checks:Toxicity``), registered under an id in the
middleware's ``checks`` option, or named directly in a settings-defined guardrail. A client's
inline definition can only use registered ids: it never makes the gateway import a module.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import msgspec

from middleware.guardrails.checks.base import Check, CheckEnv
from middleware.guardrails.checks.content import ContainsCode, ValidUrls
from middleware.guardrails.checks.jsondata import JsonKeys, JsonSchema
from middleware.guardrails.checks.jwtauth import Jwt
from middleware.guardrails.checks.pii import Pii
from middleware.guardrails.checks.request import ModelWhitelist, RequiredMetadataKeys
from middleware.guardrails.checks.secrets import Secrets
from middleware.guardrails.checks.text import (
    AddPrefix,
    AllLowercase,
    AllUppercase,
    CharacterCount,
    Contains,
    EndsWith,
    NotNull,
    RegexMatch,
    SentenceCount,
    WordCount,
)
from middleware.guardrails.checks.webhook import Log, Webhook
from proxy.errors import validation_where
from proxy.pipeline import SettingsError, import_object

BUILTIN: dict[str, type[Check]] = {
    "default.regexMatch": RegexMatch,
    "default.contains": Contains,
    "default.wordCount": WordCount,
    "default.sentenceCount": SentenceCount,
    "default.characterCount": CharacterCount,
    "default.jsonSchema": JsonSchema,
    "default.jsonKeys": JsonKeys,
    "default.validUrls": ValidUrls,
    "default.containsCode": ContainsCode,
    "default.endsWith": EndsWith,
    "default.alluppercase": AllUppercase,
    "default.alllowercase": AllLowercase,
    "default.modelWhitelist": ModelWhitelist,
    "default.modelwhitelist": ModelWhitelist,
    "default.requiredMetadataKeys": RequiredMetadataKeys,
    "default.notNull": NotNull,
    "default.addPrefix": AddPrefix,
    "default.log": Log,
    "default.jwt": Jwt,
    "default.webhook": Webhook,
    "default.pii": Pii,
    "default.secrets": Secrets,
}

# keys of a shorthand entry that describe the guardrail, not a check
_HOOK_KEYS = frozenset(
    {"id", "deny", "async", "on_fail", "on_success", "type", "name", "sequential"}
)
_GENERIC_PARAMS = ("not", "is_enabled")
_counter = itertools.count(1)


class CompiledCheck:
    __slots__ = ("id", "impl", "invert", "runs_last")

    def __init__(self, id: str, impl: Check, invert: bool) -> None:
        self.id = id
        self.impl = impl
        self.invert = invert
        self.runs_last = bool(getattr(impl, "runs_last", False))


class Guardrail:
    """A guardrail ready to run: checks built, policy flags read."""

    __slots__ = ("checks", "deny", "id", "is_async", "label", "mutator", "on_fail", "on_success")

    def __init__(
        self,
        id: str,
        checks: list[CompiledCheck],
        deny: bool,
        is_async: bool,
        on_fail: dict[str, Any] | None,
        on_success: dict[str, Any] | None,
    ) -> None:
        self.id = id
        self.checks = checks
        self.deny = deny
        self.is_async = is_async
        self.on_fail = on_fail
        self.on_success = on_success
        self.mutator = any(c.impl.mutator for c in checks)
        # metrics label: the id of a guardrail defined in settings; any other definition
        # (a config's or a client's, whose ids are free text) counts as "inline"
        self.label = "inline"


def _field_of(exc: msgspec.ValidationError) -> str:
    """msgspec's "... - at `$.a.b`" as ".a.b: ..." (": ..." at the top level)."""
    message, sub = validation_where(exc)
    return f".{sub}: {message}" if sub else f": {message}"


class Registry:
    """Builds checks by id. ``trusted``: settings may import dotted paths, clients may not."""

    def __init__(self, env: CheckEnv, user_checks: Mapping[str, str]) -> None:
        self.env = env
        self.classes: dict[str, type[Check]] = dict(BUILTIN)
        for cid, path in user_checks.items():
            self.classes[cid] = self._import(path, f"checks.{cid}")

    @staticmethod
    def _import(path: str, field: str) -> type[Check]:
        cls = import_object(path, field=field)
        if not (isinstance(cls, type) and callable(getattr(cls, "run", None))):
            raise SettingsError(f"{field}: {path!r} is not a check class (needs async run)")
        return cls

    def check_class(self, cid: str, where: str, trusted: bool) -> type[Check]:
        cls = self.classes.get(cid) or self.classes.get(f"default.{cid}")
        if cls is not None:
            return cls
        if trusted and ":" in cid:
            cls = self._import(cid, f"{where}.id")
            self.classes[cid] = cls
            return cls
        raise ValueError(f"{where}.id: unknown check {cid!r}")

    def build_check(self, raw: Any, where: str, trusted: bool) -> CompiledCheck | None:
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
            raise ValueError(f"{where}: a check is an object with a string id")
        unknown = set(raw) - {"id", "parameters", "is_enabled"}
        if unknown:
            raise ValueError(f"{where}: unknown field {sorted(unknown)[0]!r}")
        cid = raw["id"]
        cls = self.check_class(cid, where, trusted)
        params = raw.get("parameters") or {}
        if not isinstance(params, dict):
            raise ValueError(f"{where}.parameters: must be an object")
        params = dict(params)
        invert = bool(params.pop("not", False))
        enabled = params.pop("is_enabled", raw.get("is_enabled", True))
        if enabled is False:
            return None
        try:
            decoded = msgspec.convert(params, cls.Params, strict=False)
        except msgspec.ValidationError as exc:
            raise ValueError(f"{where}.parameters{_field_of(exc)}") from None
        try:
            impl = cls(decoded, self.env)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{where}.parameters.{exc}") from None
        full_id = cid if "." in cid or ":" in cid else f"default.{cid}"
        return CompiledCheck(full_id, impl, invert)

    def build(self, raw: Any, where: str, trusted: bool, default_id: str = "") -> Guardrail:
        """A full definition or a shorthand entry → Guardrail (ValueError names the field)."""
        if not isinstance(raw, dict):
            raise ValueError(f"{where}: a guardrail is an object")
        if "checks" in raw:
            unknown = set(raw) - _HOOK_KEYS - {"checks"}
            if unknown:
                raise ValueError(f"{where}: unknown field {sorted(unknown)[0]!r}")
            specs = raw["checks"]
            if not isinstance(specs, list):
                raise ValueError(f"{where}.checks: must be a list")
            items = [(f"{where}.checks[{i}]", s) for i, s in enumerate(specs)]
        else:  # shorthand: every key that is not a guardrail flag is a check id
            items = [
                (f"{where}.{k}", {"id": k, "parameters": v if v is not None else {}})
                for k, v in raw.items()
                if k not in _HOOK_KEYS
            ]
        checks = [c for at, spec in items if (c := self.build_check(spec, at, trusted))]
        if not checks:
            raise ValueError(f"{where}: a guardrail needs at least one check")
        for flag in ("deny", "async"):
            if not isinstance(raw.get(flag, False), bool):
                raise ValueError(f"{where}.{flag}: must be true or false")
        on_fail, on_success = raw.get("on_fail"), raw.get("on_success")
        for name, value in (("on_fail", on_fail), ("on_success", on_success)):
            if value is not None and not isinstance(value, dict):
                raise ValueError(f"{where}.{name}: must be an object")
        gid = raw.get("id")
        if not isinstance(gid, str) or not gid:
            gid = default_id or f"guardrail_{next(_counter)}"
        return Guardrail(
            gid,
            checks,
            deny=bool(raw.get("deny", False)),
            is_async=bool(raw.get("async", False)),
            on_fail=on_fail,
            on_success=on_success,
        )
