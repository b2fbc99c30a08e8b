"""JSON Schemas of the ``jsonSchema`` check, compiled once by jsonschema-rs, within bounds.

A schema, from settings or from a client's inline config, is checked before it is compiled:
at most MAX_SCHEMA_BYTES (canonical JSON) and MAX_SCHEMA_DEPTH levels deep, and within the
static bounds of ``schema_bounds`` (evaluations per value node, local refs only). Then
jsonschema-rs compiles it, which also checks it against its draft's meta-schema, with:

- a retriever that refuses every URL: a ``$ref`` (or ``$schema``) naming
  ``http://169.254.169.254/...`` is an error, never a request;
- ``RegexOptions``: ``pattern`` and ``patternProperties`` run on Rust's ``regex`` crate
  (linear time, no backtracking), with a size limit on each compiled pattern;
- no ``format`` validation (annotations only, as the 2020-12 draft says).

Compiled schemas live in a bounded LRU keyed by a hash of the canonical JSON, so the same
schema sent by many clients or configs is compiled once; refusals are remembered too. The
LRU also bounds the patterns its schemas hold (CACHED_PATTERNS): a compiled pattern keeps
its lazy DFA, ~0.4 MB after an adversarial search at REGEX_DFA_LIMIT. Checks keep the key,
not the validator, so nothing else pins one; an evicted schema is compiled again.

jsonschema-rs holds the GIL while it validates (measured: a worker thread running it stops
the event loop just the same), so validation runs inline, and only when its worst case fits
the ``schema_budget_ms`` option: evaluations per node times the value's nodes, plus pattern
steps (text length times pattern matches per node times the largest pattern's program size:
Rust's regex falls back to its NFA when a DFA cache overflows). Past the budget the check
fails unchecked. The estimates are worst cases measured on jsonschema-rs 0.61.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Any

import jsonschema_rs
import msgspec

from middleware.guardrails.saferegex import program_size
from middleware.guardrails.schema_bounds import Bounds, SchemaRejected, analyse

MAX_SCHEMA_BYTES = 64 * 1024  # canonical JSON
MAX_SCHEMA_DEPTH = 64  # JSON nesting of the schema document itself
CACHE_SIZE = 256
CACHED_PATTERNS = 512  # pattern / patternProperties regexes over every cached schema
MAX_PATTERNS = 64  # distinct regexes in one schema
REGEX_SIZE_LIMIT = 1 << 20  # bytes, per compiled pattern
REGEX_DFA_LIMIT = 256 << 10  # bytes, per pattern's lazy DFA (1 MiB left ~1.3 MB behind)
MAX_MESSAGE_CHARS = 300  # an error message quotes the value: keep it short
# worst-case cost (ns): a sub-schema evaluation, a regex step (a character times a pattern's
# program size), and an evaluation while the first error is built (with anyOf contexts)
NS_EVALUATION = 6
NS_REGEX_STEP = 4
NS_ERROR_EVALUATION = 7_000
GENERIC_ERROR = "$: does not match the schema (details would cost more than the budget)"


def refuse_retrieval(uri: str) -> Any:
    """The validator's retriever: no schema is ever fetched on a client's behalf."""
    raise ValueError(f"remote $ref {uri!r} refused: only local references (#/...) are allowed")


def _where(root: str, path: list[str | int]) -> str:
    return root + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


def _short(message: str) -> str:
    message = message.split("\n", 1)[0]
    if len(message) > MAX_MESSAGE_CHARS:
        return message[: MAX_MESSAGE_CHARS - 1] + "…"
    return message


def _depth(value: Any) -> int:
    """JSON nesting depth, without recursion (the value may be deep)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, d = stack.pop()
        deepest = max(deepest, d)
        if deepest > MAX_SCHEMA_DEPTH:
            return deepest
        if isinstance(node, dict):
            stack += [(v, d + 1) for v in node.values()]
        elif isinstance(node, list):
            stack += [(v, d + 1) for v in node]
    return deepest


class CompiledSchema:
    __slots__ = ("bounds", "program", "validator")

    def __init__(self, validator: Any, bounds: Bounds, program: int) -> None:
        self.validator = validator
        self.bounds = bounds
        self.program = program  # the largest pattern's RE2 program size

    def cost_ns(self, chars: int) -> int:
        """Worst-case cost of validating a value written in ``chars`` characters of JSON
        (at most ``chars // 2 + 1`` nodes: every value but the last takes a comma)."""
        b = self.bounds
        nodes = chars // 2 + 1
        regex_steps = chars * b.patterns * self.program
        return nodes * b.evaluations * NS_EVALUATION + regex_steps * NS_REGEX_STEP

    def errors(self, value: Any, budget_ns: int = 50_000_000) -> list[str]:
        """[] when the value is valid, else its first error (``$.a[0]: message``).

        ``is_valid`` stops at the first failure; ``validate`` then builds that one error,
        with the errors of every anyOf/oneOf branch under it, which costs ~1,000 times more
        per evaluation: past ``budget_ns`` the message is generic. (``iter_errors`` builds
        every error of an array before yielding the first: never used.)"""
        if self.validator.is_valid(value):
            return []
        if self.bounds.evaluations * NS_ERROR_EVALUATION > budget_ns:
            return [GENERIC_ERROR]
        try:
            self.validator.validate(value)
        except jsonschema_rs.ValidationError as exc:
            return [f"{_where('$', exc.instance_path)}: {_short(exc.message)}"]
        return [GENERIC_ERROR]  # is_valid said no: keep its verdict


def compile_schema(schema: Any) -> CompiledSchema:
    """Check and compile; ValueError naming the field (``schema.type: ...``)."""
    if not isinstance(schema, dict | bool):
        raise ValueError("schema: must be an object or a boolean")
    if _depth(schema) > MAX_SCHEMA_DEPTH:
        raise ValueError(f"schema: nested deeper than {MAX_SCHEMA_DEPTH} levels")
    try:
        bounds = analyse(schema)
    except SchemaRejected as exc:
        raise ValueError(str(exc)) from None
    regexes = set(bounds.regexes)
    if len(regexes) > MAX_PATTERNS:
        raise ValueError(f"schema: more than {MAX_PATTERNS} distinct patterns")
    try:
        validator = jsonschema_rs.validator_for(
            schema,
            retriever=refuse_retrieval,
            validate_formats=False,
            pattern_options=jsonschema_rs.RegexOptions(
                size_limit=REGEX_SIZE_LIMIT, dfa_size_limit=REGEX_DFA_LIMIT
            ),
        )
    except jsonschema_rs.ValidationError as exc:  # the meta-schema's verdict on the schema
        raise ValueError(f"{_where('schema', exc.instance_path)}: {_short(exc.message)}") from None
    except Exception as exc:  # referencing and other compile errors
        raise ValueError(f"schema: {_short(str(exc))}") from None
    program = max((program_size(rx) for rx in regexes), default=0)
    return CompiledSchema(validator, bounds, program)


class SchemaCache:
    """Compiled schemas (and refusals) by a hash of their canonical JSON: an LRU bounded in
    entries and in the patterns they hold together."""

    def __init__(self, size: int = CACHE_SIZE, patterns: int = CACHED_PATTERNS) -> None:
        self.size = size
        self.max_patterns = patterns
        self.patterns = 0
        self._entries: OrderedDict[bytes, CompiledSchema | str] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    @staticmethod
    def key(schema: Any) -> bytes:
        """The cache key: SHA-256 of the canonical JSON; ValueError past the size limits."""
        if _depth(schema) > MAX_SCHEMA_DEPTH:  # before encoding: that recurses
            raise ValueError(f"schema: nested deeper than {MAX_SCHEMA_DEPTH} levels")
        raw = msgspec.json.encode(schema, order="sorted")
        if len(raw) > MAX_SCHEMA_BYTES:
            raise ValueError(f"schema: {len(raw)} bytes, more than {MAX_SCHEMA_BYTES}")
        return hashlib.sha256(raw).digest()

    def compile(self, schema: Any, key: bytes | None = None) -> CompiledSchema:
        """From the cache, or compiled now; ValueError naming the field when refused."""
        key = self.key(schema) if key is None else key
        found = self._entries.get(key)
        if found is None:
            try:
                found = compile_schema(schema)
            except ValueError as exc:
                found = str(exc)
            self._entries[key] = found
            self.patterns += _weight(found)
            while len(self._entries) > 1 and (
                len(self._entries) > self.size or self.patterns > self.max_patterns
            ):
                self.patterns -= _weight(self._entries.popitem(last=False)[1])
        else:
            self._entries.move_to_end(key)
        if isinstance(found, str):
            raise ValueError(found)
        return found


def _weight(entry: CompiledSchema | str) -> int:
    return len(set(entry.bounds.regexes)) if isinstance(entry, CompiledSchema) else 0
