"""A small JSON-Schema validator for the subset LLM output checks use.

Covers type (with lists and "integer"), enum, const, properties, required,
additionalProperties, items, min/maxItems, uniqueItems, min/maxLength, pattern,
minimum/maximum and their exclusive forms, multipleOf, min/maxProperties, allOf, anyOf,
oneOf, not, and local ``$ref`` (``#/$defs/...``, ``#/definitions/...``). ``format`` and other
annotations are ignored. A dependency (jsonschema + its resolver stack) would cover every
draft, but this subset is what structured-output schemas use, and it keeps the gateway's
dependency list short. Schemas are checked when the guardrail is built, not per request.
"""

from __future__ import annotations

from typing import Any

from middleware.guardrails import saferegex

_TYPES = {"object", "array", "string", "number", "integer", "boolean", "null"}
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf")
_INT_KEYS = ("minItems", "maxItems", "minLength", "maxLength", "minProperties", "maxProperties")
_NUM_KEYS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")
MAX_DEPTH = 64
MAX_ERRORS = 20
PATTERN_TIMEOUT = 0.05


def _type_ok(value: Any, t: str) -> bool:
    if t == "object":
        return isinstance(value, dict)
    if t == "array":
        return isinstance(value, list)
    if t == "string":
        return isinstance(value, str)
    if t == "boolean":
        return isinstance(value, bool)
    if t == "null":
        return value is None
    if isinstance(value, bool):
        return False
    if t == "integer":
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    return isinstance(value, int | float)  # number


class Schema:
    """A checked schema, ready to validate instances."""

    def __init__(self, schema: Any) -> None:
        self.root = schema
        self._patterns: dict[str, Any] = {}
        self._check(schema, "schema", 0)

    # ---------------------------------------------------------------- start-up checks

    def _check(self, s: Any, at: str, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise ValueError(f"{at}: schema nested too deeply")
        if isinstance(s, bool):
            return
        if not isinstance(s, dict):
            raise ValueError(f"{at}: a schema must be an object or a boolean")
        t = s.get("type")
        if t is not None:
            ts = t if isinstance(t, list) else [t]
            bad = [x for x in ts if x not in _TYPES]
            if bad:
                raise ValueError(f"{at}.type: unknown type {bad[0]!r}")
        for key in _INT_KEYS:
            if key in s and (not isinstance(s[key], int) or isinstance(s[key], bool) or s[key] < 0):
                raise ValueError(f"{at}.{key}: must be a non-negative integer")
        for key in _NUM_KEYS:
            if key in s and (isinstance(s[key], bool) or not isinstance(s[key], int | float)):
                raise ValueError(f"{at}.{key}: must be a number")
        if "multipleOf" in s and s["multipleOf"] <= 0:
            raise ValueError(f"{at}.multipleOf: must be positive")
        if "required" in s and not (
            isinstance(s["required"], list) and all(isinstance(k, str) for k in s["required"])
        ):
            raise ValueError(f"{at}.required: must be a list of strings")
        if "enum" in s and not isinstance(s["enum"], list):
            raise ValueError(f"{at}.enum: must be a list")
        if "pattern" in s:
            if not isinstance(s["pattern"], str):
                raise ValueError(f"{at}.pattern: must be a string")
            try:
                self._patterns[s["pattern"]] = saferegex.compile_pattern(s["pattern"])
            except ValueError as exc:
                raise ValueError(f"{at}.pattern: {exc}") from None
        props = s.get("properties")
        if props is not None:
            if not isinstance(props, dict):
                raise ValueError(f"{at}.properties: must be an object")
            for name, sub in props.items():
                self._check(sub, f"{at}.properties.{name}", depth + 1)
        for key in ("additionalProperties", "items", "not"):
            if key in s:
                self._check(s[key], f"{at}.{key}", depth + 1)
        for key in _SCHEMA_LISTS:
            if key in s:
                if not isinstance(s[key], list) or not s[key]:
                    raise ValueError(f"{at}.{key}: must be a non-empty list of schemas")
                for i, sub in enumerate(s[key]):
                    self._check(sub, f"{at}.{key}[{i}]", depth + 1)
        for key in ("$defs", "definitions"):
            if key in s:
                if not isinstance(s[key], dict):
                    raise ValueError(f"{at}.{key}: must be an object")
                for name, sub in s[key].items():
                    self._check(sub, f"{at}.{key}.{name}", depth + 1)
        ref = s.get("$ref")
        if ref is not None:
            self._resolve(ref, at)

    def _resolve(self, ref: Any, at: str) -> Any:
        if not isinstance(ref, str) or not ref.startswith("#"):
            raise ValueError(f"{at}.$ref: only local references (#/...) are supported")
        node: Any = self.root
        for part in ref[1:].split("/")[1:] if ref != "#" else []:
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or part not in node:
                raise ValueError(f"{at}.$ref: {ref!r} does not resolve")
            node = node[part]
        return node

    # ---------------------------------------------------------------- validation

    def errors(self, value: Any) -> list[str]:
        out: list[str] = []
        self._validate(value, self.root, "$", out, 0)
        return out[:MAX_ERRORS]

    def _validate(self, v: Any, s: Any, at: str, out: list[str], depth: int) -> None:
        if len(out) >= MAX_ERRORS:
            return
        if depth > MAX_DEPTH:
            out.append(f"{at}: schema recursion too deep")
            return
        if s is True:
            return
        if s is False:
            out.append(f"{at}: no value is allowed here")
            return
        if "$ref" in s:
            self._validate(v, self._resolve(s["$ref"], at), at, out, depth + 1)
        t = s.get("type")
        if t is not None:
            ts = t if isinstance(t, list) else [t]
            if not any(_type_ok(v, x) for x in ts):
                out.append(f"{at}: expected {' or '.join(ts)}")
                return
        if "enum" in s and v not in s["enum"]:
            out.append(f"{at}: not one of the allowed values")
        if "const" in s and v != s["const"]:
            out.append(f"{at}: not the constant value")
        if isinstance(v, dict):
            self._object(v, s, at, out, depth)
        elif isinstance(v, list):
            self._array(v, s, at, out, depth)
        elif isinstance(v, str):
            self._string(v, s, at, out)
        elif isinstance(v, int | float) and not isinstance(v, bool):
            self._number(v, s, at, out)
        for sub in s.get("allOf", ()):
            self._validate(v, sub, at, out, depth + 1)
        if "anyOf" in s and not any(self._ok(v, sub, depth) for sub in s["anyOf"]):
            out.append(f"{at}: matches none of anyOf")
        if "oneOf" in s:
            n = sum(1 for sub in s["oneOf"] if self._ok(v, sub, depth))
            if n != 1:
                out.append(f"{at}: matches {n} of oneOf, expected exactly 1")
        if "not" in s and self._ok(v, s["not"], depth):
            out.append(f"{at}: matches a schema it must not match")

    def _ok(self, v: Any, s: Any, depth: int) -> bool:
        errs: list[str] = []
        self._validate(v, s, "$", errs, depth + 1)
        return not errs

    def _object(
        self, v: dict[str, Any], s: dict[str, Any], at: str, out: list[str], d: int
    ) -> None:
        for k in s.get("required", ()):
            if k not in v:
                out.append(f"{at}: missing required property {k!r}")
        props = s.get("properties", {})
        for k, sub in props.items():
            if k in v:
                self._validate(v[k], sub, f"{at}.{k}", out, d + 1)
        extra = s.get("additionalProperties", True)
        if extra is not True:
            for k in v:
                if k not in props:
                    if extra is False:
                        out.append(f"{at}: unexpected property {k!r}")
                    else:
                        self._validate(v[k], extra, f"{at}.{k}", out, d + 1)
        if "minProperties" in s and len(v) < s["minProperties"]:
            out.append(f"{at}: fewer than {s['minProperties']} properties")
        if "maxProperties" in s and len(v) > s["maxProperties"]:
            out.append(f"{at}: more than {s['maxProperties']} properties")

    def _array(self, v: list[Any], s: dict[str, Any], at: str, out: list[str], d: int) -> None:
        if "minItems" in s and len(v) < s["minItems"]:
            out.append(f"{at}: fewer than {s['minItems']} items")
        if "maxItems" in s and len(v) > s["maxItems"]:
            out.append(f"{at}: more than {s['maxItems']} items")
        if s.get("uniqueItems") and len({repr(x) for x in v}) != len(v):
            out.append(f"{at}: items are not unique")
        items = s.get("items")
        if items is not None:
            for i, x in enumerate(v):
                self._validate(x, items, f"{at}[{i}]", out, d + 1)

    def _string(self, v: str, s: dict[str, Any], at: str, out: list[str]) -> None:
        if "minLength" in s and len(v) < s["minLength"]:
            out.append(f"{at}: shorter than {s['minLength']} characters")
        if "maxLength" in s and len(v) > s["maxLength"]:
            out.append(f"{at}: longer than {s['maxLength']} characters")
        if "pattern" in s:
            pat = self._patterns[s["pattern"]]
            try:
                if pat.engine == "re2":
                    hit = pat.compiled.search(v)
                else:
                    hit = saferegex._search_backtracking(pat, v, PATTERN_TIMEOUT)
            except saferegex.RegexTimeout:
                out.append(f"{at}: pattern took too long")
                return
            if hit is None:
                out.append(f"{at}: does not match the pattern")

    def _number(self, v: float, s: dict[str, Any], at: str, out: list[str]) -> None:
        if "minimum" in s and v < s["minimum"]:
            out.append(f"{at}: below the minimum {s['minimum']}")
        if "maximum" in s and v > s["maximum"]:
            out.append(f"{at}: above the maximum {s['maximum']}")
        if "exclusiveMinimum" in s and v <= s["exclusiveMinimum"]:
            out.append(f"{at}: not above {s['exclusiveMinimum']}")
        if "exclusiveMaximum" in s and v >= s["exclusiveMaximum"]:
            out.append(f"{at}: not below {s['exclusiveMaximum']}")
        if "multipleOf" in s:
            q = v / s["multipleOf"]
            if abs(q - round(q)) > 1e-9:
                out.append(f"{at}: not a multiple of {s['multipleOf']}")
