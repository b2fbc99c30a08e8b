"""JSON Schema -> Gemini Schema conversion."""

from __future__ import annotations

import pytest

from proxy.errors import InvalidRequest
from proxy.providers.google.jsonschema import to_gemini_schema


def test_refs_are_inlined_and_unsupported_keywords_dropped() -> None:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "$defs": {
            "Step": {
                "type": "object",
                "title": "Step",
                "properties": {"explanation": {"type": "string"}, "output": {"type": "string"}},
                "required": ["explanation", "output"],
                "additionalProperties": False,
            }
        },
        "properties": {
            "steps": {"type": "array", "items": {"$ref": "#/$defs/Step"}, "minItems": 1},
            "final_answer": {"type": "string", "format": "email", "description": "the answer"},
            "when": {"type": "string", "format": "date-time"},
        },
        "required": ["steps", "final_answer"],
        "additionalProperties": False,
    }
    assert to_gemini_schema(schema, "p", ordered=True) == {
        "type": "OBJECT",
        "properties": {
            "steps": {
                "type": "ARRAY",
                "items": {
                    "type": "OBJECT",
                    "title": "Step",
                    "properties": {
                        "explanation": {"type": "STRING"},
                        "output": {"type": "STRING"},
                    },
                    "propertyOrdering": ["explanation", "output"],
                    "required": ["explanation", "output"],
                },
                "minItems": 1,
            },
            "final_answer": {"type": "STRING", "description": "the answer"},
            "when": {"type": "STRING", "format": "date-time"},
        },
        "propertyOrdering": ["steps", "final_answer", "when"],
        "required": ["steps", "final_answer"],
    }


def test_nullable_forms_enum_const_and_unions() -> None:
    schema = {
        "type": "object",
        "properties": {
            "a": {"anyOf": [{"type": "string"}, {"type": "null"}], "description": "A"},
            "b": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
            "c": {"enum": ["x", "y", None]},
            "d": {"const": "fixed"},
            "e": {"type": ["number", "string"]},
            "f": {"allOf": [{"properties": {"x": {"type": "integer"}}, "required": ["x"]}]},
        },
    }
    out = to_gemini_schema(schema, "p")["properties"]
    assert out["a"] == {"type": "STRING", "nullable": True, "description": "A"}
    assert out["b"] == {"anyOf": [{"type": "STRING"}, {"type": "INTEGER"}]}
    assert out["c"] == {"enum": ["x", "y"], "type": "STRING", "nullable": True}
    assert out["d"] == {"enum": ["fixed"], "type": "STRING"}
    assert out["e"] == {"anyOf": [{"type": "NUMBER"}, {"type": "STRING"}]}
    assert out["f"] == {
        "type": "OBJECT",
        "properties": {"x": {"type": "INTEGER"}},
        "required": ["x"],
    }


def test_recursive_and_foreign_refs_are_400() -> None:
    recursive = {
        "type": "object",
        "$defs": {"Node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/Node"}}}},
        "properties": {"head": {"$ref": "#/$defs/Node"}},
    }
    with pytest.raises(InvalidRequest) as exc:
        to_gemini_schema(recursive, "response_format.json_schema.schema")
    assert exc.value.param == "response_format.json_schema.schema"
    assert "recursive" in exc.value.message
    with pytest.raises(InvalidRequest):
        to_gemini_schema({"$ref": "https://example.com/s.json"}, "p")


def test_implied_types_are_written() -> None:
    schema = {"properties": {"tags": {"items": {"type": "string"}}}}
    assert to_gemini_schema(schema, "p") == {
        "type": "OBJECT",
        "properties": {"tags": {"type": "ARRAY", "items": {"type": "STRING"}}},
    }
