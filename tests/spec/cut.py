"""Cut the operations this gateway serves out of OpenAI's OpenAPI document.

Usage: ``python tests/spec/cut.py <openapi.yaml> <commit> <date>`` with the file from
github.com/openai/openai-openapi (MIT, see LICENSE beside this file). Keeps the operations
listed below and the component schemas they reach, without the documentation (descriptions,
examples, ``x-oai*`` annotations, discriminators): what is left is what validates. The
result, ``openai.json``, is loaded by ``tests/spec/openapi.py``, which resolves ``$ref``.
"""

from __future__ import annotations

import json
import pathlib
import sys
from typing import Any

import yaml

# (method, path) of each operation served; their request and response schemas are kept
OPERATIONS = [
    ("post", "/chat/completions"),
    ("post", "/completions"),
    ("post", "/embeddings"),
    ("get", "/models"),
]
EXTRA = ["ErrorResponse"]  # every error answer, whatever the operation
DROPPED = {"description", "example", "examples", "title", "discriminator", "deprecated"}


def strip(node: Any) -> Any:
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k == "properties":  # property names are data, not keywords
                out[k] = {name: strip(p) for name, p in v.items()}
            elif k not in DROPPED and not k.startswith("x-") and k not in ("beta", "group"):
                out[k] = strip(v)
        return out
    if isinstance(node, list):
        return [strip(v) for v in node]
    return node


def refs(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            found.add(ref.rsplit("/", 1)[1])
        for v in node.values():
            refs(v, found)
    elif isinstance(node, list):
        for v in node:
            refs(v, found)


def main(source: str, commit: str, date: str) -> None:
    spec = yaml.load(pathlib.Path(source).read_text(), Loader=yaml.CSafeLoader)
    schemas = spec["components"]["schemas"]
    operations: dict[str, Any] = {}
    roots = set(EXTRA)
    for method, path in OPERATIONS:
        op = spec["paths"][path][method]
        entry: dict[str, Any] = {"method": method.upper(), "path": path}
        body = op.get("requestBody", {}).get("content", {}).get("application/json")
        if body:
            entry["request"] = body["schema"]["$ref"].rsplit("/", 1)[1]
        entry["responses"] = {
            ctype: c["schema"]["$ref"].rsplit("/", 1)[1]
            for ctype, c in op["responses"]["200"]["content"].items()
        }
        roots.update(entry["responses"].values())
        roots.update([entry["request"]] if "request" in entry else [])
        operations[op["operationId"]] = entry
    kept: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name not in kept:
            kept.add(name)
            found: set[str] = set()
            refs(schemas[name], found)
            todo.extend(found)
    out = {
        "source": {
            "repository": "https://github.com/openai/openai-openapi",
            "file": "openapi.yaml",
            "commit": commit,
            "date": date,
            "api_version": spec["info"]["version"],
            "license": "MIT (c) OpenAI, see LICENSE",
        },
        "operations": operations,
        "components": {"schemas": {n: strip(schemas[n]) for n in sorted(kept)}},
    }
    target = pathlib.Path(__file__).with_name("openai.json")
    target.write_text(json.dumps(out, indent=1, sort_keys=False) + "\n")
    print(f"{len(operations)} operations, {len(kept)} schemas -> {target}")


if __name__ == "__main__":
    main(*sys.argv[1:4])
