"""``python -m proxy spend`` and ``python -m proxy budgets rebuild``: the ledger from a shell.

    python -m proxy spend [--config F] [--group-by key|team|model|provider]
                          [--from 2025-01-01] [--to 2025-02-01] [--json]
    python -m proxy budgets rebuild [--config F]

Both read the same settings as the server (``ledger.url``, ``redis``, the gateway keys) and
run the same queries as ``GET /admin/spend`` and ``POST /admin/budgets/rebuild``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

import msgspec

from proxy.ledger import report
from proxy.ledger.store import open_store
from proxy.pipeline import SettingsError
from proxy.settings import Settings, load_settings

COMMANDS = ("spend", "budgets")


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="llm-gateway", description="the spend ledger")
    sub = ap.add_subparsers(dest="command", required=True)
    spend = sub.add_parser("spend", help="spend per key, team, model or provider")
    spend.add_argument("--config", "-c", help="settings file; env GATEWAY_SETTINGS")
    spend.add_argument("--group-by", default="key", choices=sorted(report.GROUPS))
    spend.add_argument("--from", dest="start", help="date, ISO time or epoch (default: 30 days)")
    spend.add_argument("--to", dest="end", help="date, ISO time or epoch (default: now)")
    spend.add_argument("--json", action="store_true", help="JSON instead of a table")
    budgets = sub.add_parser("budgets", help="budget counters")
    budgets.add_argument("action", choices=["rebuild"])
    budgets.add_argument("--config", "-c", help="settings file; env GATEWAY_SETTINGS")
    return ap


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings(args.config)
        if settings.ledger.url is None:
            raise SettingsError("ledger.url: no ledger is configured (or GATEWAY_LEDGER_URL)")
        if args.command == "spend":
            return asyncio.run(_spend(settings, args))
        return asyncio.run(_rebuild(settings))
    except SettingsError as exc:
        print(f"invalid settings: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


async def _spend(settings: Settings, args: argparse.Namespace) -> int:
    assert settings.ledger.url is not None
    end = report.parse_time(args.end, time.time())
    start = report.parse_time(args.start, end - 30 * 86400)
    store = open_store(settings.ledger.url, settings.ledger.table)
    await store.open()
    try:
        rows = await report.spend(store, args.group_by, start, end)
    finally:
        await store.close()
    if args.json:
        out = {"group_by": args.group_by, "from": start, "to": end, "data": rows}
        sys.stdout.write(msgspec.json.encode(out).decode() + "\n")
    else:
        print(table(rows, args.group_by))
    return 0


def table(rows: list[dict[str, Any]], group_by: str) -> str:
    head = [group_by, "requests", "prompt_tokens", "completion_tokens", "cost_usd", "errors"]
    if group_by == "key":
        head.insert(1, "key_name")
    lines = [[str(h) for h in head]]
    for r in rows:
        lines.append([_cell(r.get(h)) for h in head])
    total = sum(float(r["cost_usd"]) for r in rows)
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    text = ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in lines]
    return "\n".join([*text, f"total cost_usd {total:.6f} over {len(rows)} groups"])


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.6f}"
    return str(v)[:64]


async def _rebuild(settings: Settings) -> int:
    from proxy.gateway import Gateway
    from proxy.keystore import policy_of
    from proxy.pipeline import shutdown_all, startup_all

    assert settings.ledger.url is not None
    gw = Gateway(settings)
    await startup_all(gw.middlewares, gw)  # AuthMiddleware registers the settings keys
    store = open_store(settings.ledger.url, settings.ledger.table)
    await store.open()
    try:
        records = [r for r in await gw.keys.all() if r.revoked_at is None]
        done = await report.rebuild(store, gw.quota, map(policy_of, records))
    finally:
        await store.close()
        await shutdown_all(gw.middlewares)
        await gw.quota.limiter.close()
        await gw.keys.close()
    for d in done:
        print(
            f"{d['key']}  {d['bucket']}  ledger ${d['ledger_usd']:.6f}  "
            f"counter ${d['counter_usd']:.6f}"
        )
    return 0
