"""Run guardrails against a document and shape the results like Portkey's hook_results.

The guardrails of one phase run concurrently, and so do the checks of one guardrail (a
webhook does not wait for another). Synchronous checks run in list order before any check
awaits, so a mutator's rewrite is seen by the checks listed after it. A ``log`` check runs
after its siblings so that their results go along. A text longer than ``max_text_chars``
fails every check that reads the text: a guard that cannot look must not say yes.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import structlog

from middleware.guardrails.checks.base import CheckContext, Outcome
from middleware.guardrails.registry import CompiledCheck, Guardrail

log = structlog.get_logger("gateway.guardrails")


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def run_check(check: CompiledCheck, cx: CheckContext) -> dict[str, Any]:
    created = _now_iso()
    t0 = time.perf_counter()
    impl = check.impl
    limit = cx.env.limits.max_text_chars
    if impl.needs_text and (cx.doc.truncated or sum(len(s) for s in cx.doc.segments()) > limit):
        out = Outcome(False, f"text longer than {limit} characters: not checked")
    else:
        try:
            out = await impl.run(cx)
        except Exception:
            # a bug in a check fails it (never the request as a 500); details stay in the log
            log.exception("guardrail check crashed", check=check.id, request_id=cx.ctx.request_id)
            out = Outcome(False, "the check failed to run", error="check error")
    verdict = out.verdict != check.invert
    data: dict[str, Any] = {"explanation": out.explanation}
    if out.data:
        data.update(out.data)
    if check.invert:
        data["inverted"] = True
    return {
        "verdict": verdict,
        "id": check.id,
        "data": data,
        "error": {"message": out.error} if out.error else None,
        "execution_time": round((time.perf_counter() - t0) * 1000.0, 3),
        "created_at": created,
    }


async def run_guardrail(g: Guardrail, cx: CheckContext) -> dict[str, Any]:
    created = _now_iso()
    t0 = time.perf_counter()
    first = [c for c in g.checks if not c.runs_last]
    last = [c for c in g.checks if c.runs_last]
    results = list(await asyncio.gather(*(run_check(c, cx) for c in first)))
    if last:
        cx.results = results
        results += await asyncio.gather(*(run_check(c, cx) for c in last))
    verdict = all(r["verdict"] for r in results)
    transformed = any(isinstance(r["data"], dict) and r["data"].get("transformed") for r in results)
    return {
        "verdict": verdict,
        "id": g.id,
        "checks": results,
        "feedback": _feedback(g, verdict, results),
        "execution_time": round((time.perf_counter() - t0) * 1000.0, 3),
        "async": g.is_async,
        "type": "mutator" if g.mutator else "guardrail",
        "created_at": created,
        "deny": g.deny and not verdict,
        "transformed": transformed,
    }


def _feedback(g: Guardrail, verdict: bool, results: list[dict[str, Any]]) -> Any:
    conf = g.on_success if verdict else g.on_fail
    fb = conf.get("feedback") if conf else None
    if not isinstance(fb, dict):
        return None
    meta: dict[str, Any] = fb["metadata"] if isinstance(fb.get("metadata"), dict) else {}
    return {
        "value": fb.get("value"),
        "weight": fb.get("weight"),
        "metadata": {
            **meta,
            "successfulChecks": ", ".join(r["id"] for r in results if r["verdict"]),
            "failedChecks": ", ".join(r["id"] for r in results if not r["verdict"]),
        },
    }


async def run_all(guardrails: list[Guardrail], cx: CheckContext) -> list[dict[str, Any]]:
    if len(guardrails) == 1:
        return [await run_guardrail(guardrails[0], cx)]
    return list(await asyncio.gather(*(run_guardrail(g, cx) for g in guardrails)))


def summary(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What goes in the log line: ids, verdicts, timings. Never the text or check data."""
    out = []
    for r in results:
        line = {
            "id": r["id"],
            "verdict": r["verdict"],
            "deny": r["deny"],
            "ms": r["execution_time"],
            "failed_checks": [c["id"] for c in r["checks"] if not c["verdict"]],
        }
        errors = [c["id"] for c in r["checks"] if c["error"]]
        if errors:
            line["errors"] = errors
        out.append(line)
    return out
