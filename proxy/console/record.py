"""What the console keeps of one request: a row for the live table, and the detail behind it.

Plain values only, never the RequestContext, its headers or its body objects: a credential
sent in a header never enters the ring. Client-chosen strings (model, trace id) are cut to a
bounded length. Bodies are captured only with ``console.capture_bodies``: key-like strings
(the secrets guardrail's patterns) and PII (the pii guardrail's) are masked *before* they
are stored, then the text is cut to ``body_limit`` characters.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from proxy.context import Attempt

if TYPE_CHECKING:
    from middleware.guardrails.detect import Detector

MAX_FIELD = 200  # characters of a client-chosen string shown in a row
# a body this small is decoded and re-encoded before masking, so a key written with JSON
# escapes ("\u0073k-...") is masked too; a larger one is masked as raw text
NORMALIZE_MAX = 1 << 20
_MARGIN = 512  # masking reads this much past the cut, so a key across it is still found
_PARTIAL = re.compile(r"[\w+/=.\-]+\Z")  # a token cut in two at the limit


def cut(value: str | None, limit: int = MAX_FIELD) -> str | None:
    if value is None or len(value) <= limit:
        return value
    return value[:limit] + "…"


class Row(msgspec.Struct, omit_defaults=True, gc=False):
    """One line of the live table (scalars only: ``gc=False`` keeps a full ring of them
    out of the cyclic garbage collector's work)."""

    seq: int
    ts: float  # seconds since the epoch
    id: str
    trace_id: str
    endpoint: str
    status: int
    latency_ms: float
    provider: str | None = None
    model: str | None = None
    error: str | None = None
    stream: bool = False
    ttfb_ms: float | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    estimated: bool = False
    cost: float | None = None
    cache: str | None = None
    attempts: int = 0
    retries: int = 0
    index: str | None = None  # x-portkey-last-used-option-index
    key: str | None = None  # the gateway key's name (never the key)
    guardrail: str | None = None  # pass | fail | deny


class Entry(msgspec.Struct, gc=False):
    """A row and its detail. No cycles run through it (the lists hold tuples and the
    guardrails' result dicts), so it too stays out of the garbage collector's way."""

    row: Row
    trail: Sequence[Attempt]
    hooks: Sequence[tuple[str, list[dict[str, Any]]]]
    request_body: str | None
    answer_body: str | None


def retries_of(trail: Sequence[Attempt]) -> int:
    tried = [a.option for a in trail if a.status is not None and a.outcome != "unusable"]
    return len(tried) - len(set(tried))


def verdict_of(hooks: Sequence[tuple[str, list[dict[str, Any]]]]) -> str | None:
    if not hooks:
        return None
    found = "pass"
    for _, results in hooks:
        for r in results:
            if r.get("deny"):
                return "deny"
            if not r.get("verdict"):
                found = "fail"
    return found


class Masker:
    """Masks secrets and PII in text, with the guardrails' own linear-time patterns."""

    def __init__(self) -> None:
        # imported here: only a console that shows bodies or hook results needs them
        from middleware.guardrails.checks.pii import ALL, detector_for
        from middleware.guardrails.checks.secrets import PATTERNS
        from middleware.guardrails.detect import Detector

        pii = detector_for(list(ALL)).patterns
        self.detector: Detector = Detector([*PATTERNS.values(), *pii])  # secrets win ties

    def mask(self, text: str) -> str:
        return self.detector.redact(text)[0]

    def body(self, data: bytes | str | None, limit: int) -> str | None:
        """Masked, then cut to ``limit`` characters (a token cut in two is dropped).

        A JSON body is masked string by string (numbers such as timestamps are not phone
        numbers), which also undoes JSON escapes a key might hide behind; the strings past
        the budget are not read at all. Anything else is masked as text."""
        if data is None:
            return None
        size = len(data)
        if isinstance(data, bytes) and size <= NORMALIZE_MAX:
            try:
                doc = msgspec.json.decode(data)
            except msgspec.DecodeError:
                pass
            else:
                budget = [limit + _MARGIN]
                text = msgspec.json.encode(self._walk(doc, budget)).decode()
                return self._cut(text, limit, size)
        if isinstance(data, bytes):
            data = data[: (limit + _MARGIN) * 4].decode("utf-8", "replace")
        return self._cut(self.mask(data[: limit + _MARGIN]), limit, size)

    def _walk(self, node: Any, budget: list[int]) -> Any:
        if isinstance(node, str):
            if budget[0] <= 0:
                return "…"
            budget[0] -= len(node)
            return self.mask(node[: limit_of(budget, node)])
        if isinstance(node, dict):
            return {k: self._walk(v, budget) for k, v in node.items()}
        if isinstance(node, list):
            return [self._walk(v, budget) for v in node]
        return node

    @staticmethod
    def _cut(text: str, limit: int, size: int) -> str:
        if len(text) <= limit:
            return text
        return _PARTIAL.sub("", text[:limit]) + f" … [cut: {size} in all]"


def limit_of(budget: list[int], node: str) -> int:
    """How much of a string to mask: what is left of the budget, plus the margin that
    catches a key straddling the cut."""
    return max(0, budget[0] + len(node)) + _MARGIN


def hooks_view(hooks: Sequence[tuple[str, list[dict[str, Any]]]], masker: Masker) -> list[Any]:
    """Guardrail results for the detail view: ids, verdicts, timings and the checks'
    explanations (masked); never the checks' data, which may quote the text."""
    out = []
    for phase, results in hooks:
        for r in results:
            checks = []
            for c in r.get("checks") or ():
                data = c.get("data")
                why = data.get("explanation") if isinstance(data, dict) else None
                err = c.get("error")
                checks.append(
                    {
                        "id": str(c.get("id")),
                        "verdict": bool(c.get("verdict")),
                        "explanation": cut(masker.mask(str(why)), 500) if why else None,
                        "error": cut(masker.mask(str(err.get("message"))), 200)
                        if isinstance(err, dict)
                        else None,
                    }
                )
            out.append(
                {
                    "phase": phase,
                    "id": str(r.get("id")),
                    "verdict": bool(r.get("verdict")),
                    "deny": bool(r.get("deny")),
                    "ms": r.get("execution_time"),
                    "checks": checks,
                }
            )
    return out
