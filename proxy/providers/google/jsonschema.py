"""JSON Schema (as OpenAI clients send it) -> Gemini's ``Schema`` (an OpenAPI 3.0 subset).

Gemini answers 400 to keywords outside its documented Schema fields (``additionalProperties``,
``$schema``, ``$ref``, ``const``, most ``format`` values, ...), so the schema is rewritten:

- local ``$ref`` (``#/$defs/X``, ``#/definitions/X``) are inlined; a recursive one is a 400,
  since the subset cannot express recursion;
- ``type: [T, "null"]`` and ``anyOf``/``oneOf`` with a ``null`` branch become ``nullable``;
  ``oneOf`` becomes ``anyOf``; ``allOf`` is merged; ``const`` becomes a one-value ``enum``;
- ``format`` is kept only where Gemini documents it (enum, date-time, int32/int64,
  float/double); every other keyword outside the subset is dropped;
- types are written as Gemini's enum names (``OBJECT``, ``STRING``, ...);
- for response schemas, ``propertyOrdering`` keeps the client's property order (Gemini
  otherwise orders the output's keys alphabetically).

Inlining copies a definition at every use, so a schema whose definitions each use the next
twice doubles with every level: 1.9 KB (18 levels) took 3.2 s and came out as 17 MB. The
conversion counts the nodes it writes and refuses (a 400) past MAX_NODES, or past
EXPANSION times the objects the client sent (at least MIN_BUDGET): a request's tools each
convert separately, so only a bound proportional to what was sent keeps their sum linear.
"""

from __future__ import annotations

from typing import Any

from proxy.errors import InvalidRequest

KEPT = frozenset(
    {
        "type",
        "format",
        "title",
        "description",
        "nullable",
        "enum",
        "maxItems",
        "minItems",
        "properties",
        "required",
        "minProperties",
        "maxProperties",
        "minLength",
        "maxLength",
        "pattern",
        "example",
        "anyOf",
        "propertyOrdering",
        "default",
        "items",
        "minimum",
        "maximum",
    }
)
FORMATS = {
    "STRING": {"enum", "date-time"},
    "INTEGER": {"int32", "int64"},
    "NUMBER": {"float", "double"},
}
# converted above, never copied as sent
HANDLED = frozenset({"type", "format", "enum", "anyOf", "properties", "items", "nullable"})
MAX_DEPTH = 64
MAX_NODES = 5_000  # schema nodes written, $refs inlined (real structured outputs: < 500)
EXPANSION = 16  # nodes written per object sent: room for definitions used many times
MIN_BUDGET = 200


def to_gemini_schema(
    schema: dict[str, Any], param: str, *, ordered: bool = False
) -> dict[str, Any]:
    """Convert a whole schema (the root holds the ``$defs``). Raises 400 when impossible."""
    budget = min(MAX_NODES, max(MIN_BUDGET, EXPANSION * _objects(schema)))
    return _Converter(schema, param, ordered, budget).node(schema, (), 0)


def _objects(value: Any) -> int:
    """JSON objects in ``value``, counted without recursion (a client's value)."""
    count, stack = 0, [value]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            count += 1
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return count


class _Converter:
    def __init__(self, root: dict[str, Any], param: str, ordered: bool, budget: int) -> None:
        self.root = root
        self.param = param
        self.ordered = ordered
        self.budget = budget
        self.nodes = 0

    def fail(self, why: str) -> InvalidRequest:
        return InvalidRequest(
            f"{self.param}: {why} (Gemini accepts an OpenAPI 3.0 subset of JSON Schema)",
            param=self.param,
            code="unsupported_schema",
        )

    def resolve(self, ref: str) -> dict[str, Any]:
        for prefix in ("#/$defs/", "#/definitions/"):
            if ref.startswith(prefix):
                defs = self.root.get(prefix[2:-1])
                target = defs.get(ref[len(prefix) :]) if isinstance(defs, dict) else None
                if isinstance(target, dict):
                    return target
        raise self.fail(f"$ref {ref!r} does not point into this schema's $defs")

    def node(self, s: Any, refs: tuple[str, ...], depth: int) -> dict[str, Any]:
        if depth > MAX_DEPTH:
            raise self.fail("schema nests too deeply")
        self.nodes += 1
        if self.nodes > self.budget:
            raise self.fail(f"schema grows past {self.budget} nodes once its $refs are inlined")
        if not isinstance(s, dict):
            if s is True or s == {}:
                return {}
            raise self.fail("every schema must be an object")
        if "$ref" in s:
            ref = s["$ref"]
            if not isinstance(ref, str) or ref in refs:
                raise self.fail(f"recursive $ref {ref!r} cannot be expressed")
            merged = {**self.resolve(ref), **{k: v for k, v in s.items() if k != "$ref"}}
            return self.node(merged, (*refs, ref), depth + 1)
        s = dict(s)
        if isinstance(s.get("allOf"), list):
            s = self.merge_all_of(s)
        out: dict[str, Any] = {}
        nullable = bool(s.get("nullable"))
        branches = s.get("anyOf", s.get("oneOf"))
        if isinstance(branches, list):
            kept = [b for b in branches if not (isinstance(b, dict) and b.get("type") == "null")]
            nullable = nullable or len(kept) < len(branches)
            converted = [self.node(b, refs, depth + 1) for b in kept]
            if len(converted) == 1:
                out.update(converted[0])
            elif converted:
                out["anyOf"] = converted
        self.type_of(s, out)
        if out.get("nullable"):
            nullable = True
        if "const" in s:
            out["enum"] = [str(s["const"])]
            out.setdefault("type", "STRING")
        if isinstance(s.get("enum"), list):
            values = [v for v in s["enum"] if v is not None]
            nullable = nullable or len(values) < len(s["enum"])
            out["enum"] = [str(v) for v in values]
            out.setdefault("type", "STRING")
        if isinstance(s.get("properties"), dict):
            props = {str(k): self.node(v, refs, depth + 1) for k, v in s["properties"].items()}
            out["properties"] = props
            if self.ordered and props and "propertyOrdering" not in s:
                out["propertyOrdering"] = list(props)
        if "items" in s:
            items = s["items"]
            if isinstance(items, list):  # old tuple form: only a common item schema fits
                raise self.fail("tuple-style items (a list of schemas) cannot be expressed")
            out["items"] = self.node(items, refs, depth + 1)
        for key, value in s.items():
            if key in KEPT and key not in out and key not in HANDLED:
                out[key] = value
        fmt = s.get("format")
        if isinstance(fmt, str) and fmt in FORMATS.get(str(out.get("type")), set()):
            out["format"] = fmt
        if "type" not in out and "anyOf" not in out:  # Gemini wants a type where one is implied
            if "properties" in out:
                out["type"] = "OBJECT"
            elif "items" in out:
                out["type"] = "ARRAY"
        if out.get("type") == "OBJECT" and not out.get("properties"):
            out.pop("properties", None)
        if nullable:
            out["nullable"] = True
        return out

    def type_of(self, s: dict[str, Any], out: dict[str, Any]) -> None:
        t = s.get("type")
        if isinstance(t, str):
            if t != "null":
                out["type"] = t.upper()
            return
        if isinstance(t, list):
            names = [str(x).upper() for x in t if x != "null"]
            if len(names) < len(t):
                out["nullable"] = True
            if len(names) == 1:
                out["type"] = names[0]
            elif names:
                out["anyOf"] = [{"type": n} for n in names]

    def merge_all_of(self, s: dict[str, Any]) -> dict[str, Any]:
        merged = {k: v for k, v in s.items() if k != "allOf"}
        for part in s["allOf"]:
            if isinstance(part, dict) and "$ref" in part:
                part = self.resolve(part["$ref"])
            if not isinstance(part, dict):
                raise self.fail("allOf entries must be objects")
            for key, value in part.items():
                if key == "properties" and isinstance(value, dict):
                    merged["properties"] = {**merged.get("properties", {}), **value}
                elif key == "required" and isinstance(value, list):
                    merged["required"] = [*merged.get("required", []), *value]
                else:
                    merged.setdefault(key, value)
        return merged
