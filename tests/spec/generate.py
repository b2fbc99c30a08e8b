"""Hypothesis strategies for JSON Schema 2020-12 documents, the keywords OpenAI's spec uses.

hypothesis-jsonschema would be the obvious tool, but its object generator reaches into
Hypothesis internals that no longer exist in the Hypothesis this project runs; schemathesis
pins a jsonschema-rs older than the one installed. So this is the small generator the cut
of OpenAI's spec needs (type, enum, const, properties, required, additionalProperties,
items, min/maxItems, min/maxLength, minimum/maximum, anyOf, oneOf, allOf), kept valid the
simple way: every draw is checked against the whole schema with jsonschema-rs and redrawn
when a combination (``oneOf`` overlaps, ``allOf`` of unlike parts) turned out invalid.
"""

from __future__ import annotations

from typing import Any

import jsonschema_rs
from hypothesis import strategies as st

MAX_EXTRA_ITEMS = 3  # beyond minItems: big enough to matter, small enough to be quick
MAX_TEXT = 24
JSON_LEAF = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**31), 2**31), st.text(max_size=MAX_TEXT)
)
ANY_JSON = st.recursive(
    JSON_LEAF,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def _merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """``allOf`` of object schemas as one object schema (the validity check catches the
    rare part this leaves out)."""
    out: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
    for p in parts:
        if "allOf" in p:
            p = {**_merge(p["allOf"]), **{k: v for k, v in p.items() if k != "allOf"}}
        out["properties"].update(p.get("properties", {}))
        out["required"] += [r for r in p.get("required", []) if r not in out["required"]]
        if p.get("additionalProperties") is False:
            out["additionalProperties"] = False
    return out


def _string(s: dict[str, Any]) -> st.SearchStrategy[str]:
    return st.text(
        min_size=s.get("minLength", 0), max_size=min(s.get("maxLength", MAX_TEXT), MAX_TEXT)
    )


def _number(s: dict[str, Any], integer: bool) -> st.SearchStrategy[Any]:
    lo, hi = s.get("minimum"), s.get("maximum")
    if integer:
        return st.integers(min_value=lo, max_value=hi)
    return st.floats(min_value=lo, max_value=hi, allow_nan=False, allow_infinity=False)


def _object(s: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    props = s.get("properties", {})
    required = [r for r in s.get("required", []) if r in props]
    base = st.fixed_dictionaries(
        {k: strategy(props[k]) for k in required},
        optional={k: strategy(v) for k, v in props.items() if k not in required},
    )
    extra = s.get("additionalProperties", True)
    if extra is False:
        return base
    values = ANY_JSON if extra is True or extra == {} else strategy(extra)
    names = st.text(min_size=1, max_size=12).filter(lambda n: n not in props)
    more = st.dictionaries(names, values, max_size=2)
    return st.tuples(base, more).map(lambda t: {**t[1], **t[0]})


def strategy(s: Any) -> st.SearchStrategy[Any]:
    """Values for schema ``s`` (refs already resolved), mostly valid: see ``valid``."""
    if s is True or s == {} or not isinstance(s, dict):
        return ANY_JSON
    if "const" in s:
        return st.just(s["const"])
    if "enum" in s:
        return st.sampled_from(s["enum"])
    for key in ("anyOf", "oneOf"):
        if key in s:
            rest = {k: v for k, v in s.items() if k != key}
            branches = [strategy({**rest, **b} if rest else b) for b in s[key]]
            return st.one_of(branches)
    if "allOf" in s:
        parts = [p for p in s["allOf"] if isinstance(p, dict)]
        rest = {k: v for k, v in s.items() if k != "allOf"}
        if all(p.get("type", "object") == "object" for p in parts):
            return _object(_merge([*parts, rest]))
        return strategy({**parts[0], **rest})
    t = s.get("type")
    if isinstance(t, list):
        return st.one_of([strategy({**s, "type": one}) for one in t])
    if t == "object" or (t is None and "properties" in s):
        return _object(s)
    if t == "array":
        lo = s.get("minItems", 0)
        hi = min(s.get("maxItems", lo + MAX_EXTRA_ITEMS), lo + MAX_EXTRA_ITEMS)
        return st.lists(strategy(s.get("items", {})), min_size=lo, max_size=hi)
    if t == "string":
        return _string(s)
    if t in ("integer", "number"):
        return _number(s, t == "integer")
    if t == "boolean":
        return st.booleans()
    if t == "null":
        return st.none()
    return ANY_JSON


def valid(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Only instances the schema accepts (jsonschema-rs decides)."""
    check = jsonschema_rs.validator_for(schema)
    return strategy(schema).filter(check.is_valid)
