"""Spend reports and budget rebuilds, from the ledger: the one set of queries behind
``GET /admin/spend`` and ``python -m proxy spend``.

What the client chooses (group, time range) selects among fixed SQL texts and binds
values; nothing it sends is pasted into SQL.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Iterable
from typing import Any

from proxy.ledger.store import Store, params
from proxy.quota.policy import MICROS, KeyPolicy, period_bucket, period_start

GROUPS = {"key": "key_id", "team": "team", "model": "model", "provider": "provider"}
MAX_GROUPS = 10_000


def parse_time(value: str | None, default: float) -> float:
    """Epoch seconds from ``2025-01-31``, ``2025-01-31T12:00:00[Z|+hh:mm]`` or a number;
    ValueError otherwise. Times without a zone are UTC."""
    if value is None or value == "":
        return default
    if len(value) > 40:
        raise ValueError("a time is at most 40 characters")
    try:
        return float(value) if value.replace(".", "", 1).isdigit() else _iso(value)
    except ValueError:
        raise ValueError(f"{value[:40]!r} is not a date, an ISO time or epoch seconds") from None


def _iso(value: str) -> float:
    t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.timestamp()


async def spend(store: Store, group_by: str, start: float, end: float) -> list[dict[str, Any]]:
    """Requests, tokens and cost per group in ``[start, end)``, most expensive first."""
    col = GROUPS.get(group_by)
    if col is None:
        raise ValueError(f"group_by: one of {', '.join(GROUPS)}")
    a, b = params(store, 2)
    # the column comes from GROUPS, the table name is checked in settings, values are bound
    sql = (
        f"SELECT {col}, MAX(key_name), COUNT(*), SUM(prompt_tokens), SUM(completion_tokens), "  # noqa: S608
        f"SUM(cached_tokens), SUM(cost_usd), "
        f"SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END) "
        f"FROM {store.table} WHERE ts >= {a} AND ts < {b} GROUP BY {col} "
        f"ORDER BY SUM(cost_usd) DESC, COUNT(*) DESC LIMIT {MAX_GROUPS}"
    )
    out = []
    for g, name, n, pin, pout, cached, cost, errors in await store.query(sql, [start, end]):
        row: dict[str, Any] = {group_by: g}
        if group_by == "key":
            row["key_name"] = name
        row.update(
            requests=int(n),
            prompt_tokens=int(pin or 0),
            completion_tokens=int(pout or 0),
            cached_tokens=int(cached or 0),
            cost_usd=round(float(cost or 0.0), 10),
            errors=int(errors or 0),
        )
        out.append(row)
    return out


async def key_spent(store: Store, key_id: str, start: float, end: float) -> float:
    a, b, c = params(store, 3)
    sql = (  # the table name is checked in settings, values are bound
        f"SELECT SUM(cost_usd) FROM {store.table} "  # noqa: S608
        f"WHERE key_id = {a} AND ts >= {b} AND ts < {c}"
    )
    rows = await store.query(sql, [key_id, start, end])
    return float(rows[0][0] or 0.0) if rows else 0.0


async def rebuild(store: Store, quota: Any, policies: Iterable[KeyPolicy]) -> list[dict[str, Any]]:
    """Raise each budgeted key's current period counter to what the ledger holds (after a
    Redis loss). Never lowers a counter: in-flight reservations stay counted."""
    now = time.time()
    out = []
    for p in policies:
        if p.budget_micros < 0:
            continue
        bucket, ends = period_bucket(p.budget_period, now)
        start = period_start(p.budget_period, now)
        spent = await key_spent(store, p.id, start, now + 1)
        micros = math.ceil(spent * MICROS)
        ttl = math.ceil(ends - now) + 86400 if ends is not None else 0
        value = await quota.limiter.raise_spent(p.id, bucket, micros, ttl)
        out.append({"key": p.id, "name": p.name, "bucket": bucket, "ledger_usd": spent,
                    "counter_usd": value / MICROS})  # fmt: skip
    return out
