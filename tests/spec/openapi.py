"""OpenAI's OpenAPI operations, as vendored in ``openai.json`` (see cut.py and LICENSE).

``schema(name)`` is a component schema with every ``$ref`` resolved (copied in place: the
cut holds no recursive schema) and OpenAPI's ``nullable: true`` turned into JSON Schema's
``null`` type, so that both jsonschema-rs (validation) and hypothesis-jsonschema
(generation) read it as plain JSON Schema 2020-12.
"""

from __future__ import annotations

import functools
import json
import pathlib
from typing import Any

import jsonschema_rs

SPEC = json.loads(pathlib.Path(__file__).with_name("openai.json").read_text())
SCHEMAS: dict[str, Any] = SPEC["components"]["schemas"]
OPERATIONS: dict[str, dict[str, Any]] = SPEC["operations"]


def _resolve(node: Any, seen: tuple[str, ...] = ()) -> Any:
    if isinstance(node, list):
        return [_resolve(v, seen) for v in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str):
        name = ref.rsplit("/", 1)[1]
        if name in seen:
            raise ValueError(f"recursive schema {' -> '.join((*seen, name))}")
        rest = {k: v for k, v in node.items() if k != "$ref"}
        target = _resolve(SCHEMAS[name], (*seen, name))
        return {"allOf": [target, _resolve(rest, seen)]} if rest else target
    out = {
        k: (
            {p: _resolve(s, seen) for p, s in v.items()} if k == "properties" else _resolve(v, seen)
        )
        for k, v in node.items()
        if k != "nullable"
    }
    if node.get("nullable") is True:
        return {"anyOf": [out, {"type": "null"}]}
    return out


@functools.cache
def schema(name: str) -> dict[str, Any]:
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **_resolve(SCHEMAS[name])}


@functools.cache
def validator(name: str) -> Any:
    return jsonschema_rs.validator_for(schema(name))


def errors(name: str, instance: Any) -> list[str]:
    """What makes ``instance`` invalid against the schema (empty: valid)."""
    return [f"{e.instance_path}: {e.message}"[:300] for e in validator(name).iter_errors(instance)]
