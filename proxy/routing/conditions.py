"""Conditional routing queries (Portkey's ``strategy.conditions[].query``).

A query is a MongoDB-style filter over three roots: ``metadata.*`` (the
``x-portkey-metadata`` object), ``params.*`` (the request body as the client sent it) and
``url.pathname``. Keys are dotted paths; a bare value means ``$eq``; several keys, or
several operators on one key, must all hold. ``$and`` / ``$or`` take lists of queries.
As in MongoDB, ``$ne`` and ``$nin`` hold for a missing field, every other operator fails.

Queries come from clients (inline configs), and ``$regex`` runs against the client's body
on the event loop, so patterns are RE2's (google-re2): no backtracking, a search costs at
most the text's length times the compiled program's size. RE2 has no backreferences or
lookaround; such a pattern is refused when the config is parsed (a 400 naming the field).
Linear is not enough on its own: ``[ab]{1,1000}z`` (2,004 instructions) over a 1 MB body
took 7 s of RE2's NFA once its DFA cache overflowed. So a value longer than the pattern's
work budget (MAX_REGEX_WORK steps, ~35 ms) is not searched: the condition does not hold.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

import re2  # type: ignore[import-untyped]

_MISSING: Any = object()

FIELD_OPS = frozenset({"$eq", "$ne", "$in", "$nin", "$gt", "$gte", "$lt", "$lte", "$regex"})
LOGIC_OPS = frozenset({"$and", "$or"})
MAX_PATTERN_CHARS = 1000
# $and/$or nesting: a header can nest ~900 levels, deeper than Python's recursion limit
MAX_QUERY_DEPTH = 16
# RE2's memory budget per pattern (program + DFA cache); past it, compiling fails, and a
# search that fills the DFA cache falls back to RE2's NFA (slower, still linear). An
# adversarial search leaves ~0.3 MB per cached pattern at 1 MiB (~3 MB at RE2's 8 MiB).
RE2_MAX_MEM = 1 << 20
MAX_REGEX_WORK = 10_000_000  # text chars x program size (~3.5 ns a step on RE2's NFA)


_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # a client's bad pattern is their 400, not lines on our stderr
_OPTIONS.max_mem = RE2_MAX_MEM


@lru_cache(maxsize=256)  # bounded: clients choose the patterns
def _regex(pattern: str) -> Any:
    return re2.compile(pattern, _OPTIONS)


def _search(pattern: str, text: str) -> bool:
    compiled = _regex(pattern)
    if len(text) * compiled.programsize > MAX_REGEX_WORK:
        return False  # too long to search within the budget: the condition does not hold
    return compiled.search(text) is not None


def _re2_error(exc: Exception) -> str:
    why = exc.args[0] if exc.args else exc
    return why.decode("utf-8", "replace") if isinstance(why, bytes) else str(why)


def check_query(query: Any, depth: int = 0) -> None:
    """Raise ValueError naming the first thing wrong with a query (done once, at parse)."""
    if not isinstance(query, dict):
        raise ValueError("a query must be an object")
    if depth > MAX_QUERY_DEPTH:
        raise ValueError(f"$and/$or nested deeper than {MAX_QUERY_DEPTH} levels")
    for key, value in query.items():
        if key in LOGIC_OPS:
            if not isinstance(value, list) or not value:
                raise ValueError(f"{key} takes a non-empty list of queries")
            for sub in value:
                check_query(sub, depth + 1)
        elif key.startswith("$"):
            raise ValueError(f"unknown operator {key!r}")
        elif _is_ops(value):
            for op, arg in value.items():
                _check_op(key, op, arg)


def _is_ops(value: Any) -> bool:
    return isinstance(value, dict) and any(isinstance(k, str) and k.startswith("$") for k in value)


def _check_op(key: str, op: str, arg: Any) -> None:
    if op not in FIELD_OPS:
        raise ValueError(f"{key}: unknown operator {op!r}")
    if op in ("$in", "$nin") and not isinstance(arg, list):
        raise ValueError(f"{key}: {op} takes a list")
    if op == "$regex":
        if not isinstance(arg, str):
            raise ValueError(f"{key}: $regex takes a string")
        if len(arg) > MAX_PATTERN_CHARS:
            raise ValueError(f"{key}: $regex longer than {MAX_PATTERN_CHARS} characters")
        try:
            _regex(arg)
        except re2.error as exc:
            # RE2 syntax: no backreferences or lookaround (they need backtracking)
            raise ValueError(f"{key}: bad $regex for RE2 ({_re2_error(exc)})") from None


def lookup(data: Mapping[str, Any], path: str) -> Any:
    """``a.b.c`` in nested dicts (lists by index); _MISSING when absent."""
    node: Any = data
    for part in path.split("."):
        if isinstance(node, Mapping):
            node = node.get(part, _MISSING)
        elif isinstance(node, list) and _is_index(part) and int(part) < len(node):
            node = node[int(part)]
        else:
            return _MISSING
        if node is _MISSING:
            return _MISSING
    return node


def _is_index(part: str) -> bool:
    # ASCII digits only, and short: int("²") and int() of 5,000 digits both raise
    return 0 < len(part) <= 18 and part.isascii() and part.isdigit()


def _compare(fn: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def op(value: Any, arg: Any) -> bool:
        if value is _MISSING or isinstance(value, bool) != isinstance(arg, bool):
            return False
        try:
            return fn(value, arg)
        except TypeError:  # "3" > 2: a type mismatch never matches
            return False

    return op


def _eq(value: Any, arg: Any) -> bool:
    return value is not _MISSING and value == arg


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "$eq": _eq,
    "$ne": lambda v, a: not _eq(v, a),
    "$in": lambda v, a: v is not _MISSING and v in a,
    "$nin": lambda v, a: v is _MISSING or v not in a,
    "$gt": _compare(lambda v, a: bool(v > a)),
    "$gte": _compare(lambda v, a: bool(v >= a)),
    "$lt": _compare(lambda v, a: bool(v < a)),
    "$lte": _compare(lambda v, a: bool(v <= a)),
    "$regex": lambda v, a: isinstance(v, str) and _search(a, v),
}


def matches(query: Mapping[str, Any], data: Mapping[str, Any]) -> bool:
    """Whether ``data`` ({"metadata": ..., "params": ..., "url": ...}) satisfies ``query``."""
    for key, cond in query.items():
        if key == "$and":
            if not all(matches(q, data) for q in cond):
                return False
        elif key == "$or":
            if not any(matches(q, data) for q in cond):
                return False
        else:
            value = lookup(data, key)
            if _is_ops(cond):
                if not all(_OPS[op](value, arg) for op, arg in cond.items()):
                    return False
            elif not _eq(value, cond):
                return False
    return True
