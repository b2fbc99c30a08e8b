"""Checks on JSON in the text: schema conformance and keys present."""

from __future__ import annotations

import re
from typing import Any, Literal

import msgspec

from middleware.guardrails.checks.base import Check, CheckContext, Outcome

_FENCED = re.compile(r"```(?:json)?[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)
_NOT_FOUND = object()


def extract_json(text: str) -> Any:
    """The JSON value in the text: all of it, a fenced block, or the outermost {...}."""
    candidates = [text.strip()]
    candidates += [m.group(1).strip() for m in _FENCED.finditer(text)]
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        candidates.append(text[start : end + 1])
    for c in candidates:
        if not c:
            continue
        try:
            return msgspec.json.decode(c)
        except (msgspec.DecodeError, RecursionError):  # msgspec stops at ~1,000 levels
            continue
    return _NOT_FOUND


class SchemaParams(msgspec.Struct, forbid_unknown_fields=True):
    schema: dict[str, Any]


class JsonSchema(Check):
    """Passes when the text holds JSON that the schema accepts (see ``schemas.py``)."""

    Params = SchemaParams

    def __init__(self, params: SchemaParams, env: Any) -> None:
        super().__init__(params, env)
        try:
            # the key, not the validator: the shared cache bounds what stays compiled
            self.key = env.schemas.key(params.schema)
            env.schemas.compile(params.schema, self.key)
        except ValueError as exc:
            raise ValueError(f"schema: {exc}") from None

    def check(self, cx: CheckContext) -> Outcome:
        value = extract_json(cx.text)
        if value is _NOT_FOUND:
            return Outcome(False, "no JSON found in the text")
        # inline, never in a thread: jsonschema-rs holds the GIL (see schemas.py)
        schema = self.env.schemas.compile(self.params.schema, self.key)
        budget = self.env.limits.schema_budget_ms * 1_000_000
        cost = schema.cost_ns(len(cx.text))
        if cost > budget:
            why = f"the JSON is too large for this schema (worst case ~{cost // 1_000_000} ms)"
            return Outcome(False, f"not checked: {why}", error=why)
        errors = schema.errors(value, budget - cost)
        if errors:
            return Outcome(False, "the JSON does not match the schema", {"errors": errors})
        return Outcome(True, "the JSON matches the schema")


class KeysParams(msgspec.Struct, forbid_unknown_fields=True):
    keys: list[str]
    operator: Literal["any", "all", "none"] = "any"


class JsonKeys(Check):
    """The JSON object in the text has any / all / none of the keys (top level)."""

    Params = KeysParams

    def __init__(self, params: KeysParams, env: Any) -> None:
        super().__init__(params, env)
        if not params.keys:
            raise ValueError("keys: must list at least one key")

    def check(self, cx: CheckContext) -> Outcome:
        value = extract_json(cx.text)
        if not isinstance(value, dict):
            return Outcome(False, "no JSON object found in the text")
        present = [k for k in self.params.keys if k in value]
        op = self.params.operator
        n = len(self.params.keys)
        ok = bool(present) if op == "any" else len(present) == n if op == "all" else not present
        return Outcome(ok, f"{len(present)} of {n} keys present (operator {op})")
