"""The spend ledger on a real gateway: one row per request in SQLite or PostgreSQL, spend
reports over the admin API and the CLI, budgets rebuilt from it."""

from __future__ import annotations

import json
import os
import pathlib
import sqlite3
import subprocess
import sys
import time

import httpx
import openai
import pytest
import yaml

from tests.ledger.conftest import pg_query
from tests.quota.helpers import MSG, client, settings, settled

ROOT = pathlib.Path(__file__).resolve().parents[2]
KEY = "gw-test-key-0002"
ADMIN = "admin-test-key-0004"


def ledger_settings(upstream: str, ledger: dict, **extra) -> dict:
    keys = [
        {"key": KEY, "name": "web", "team": "shop", "rpm": 3},
        {"key": "gw-other-key", "name": "batch", "team": "data"},
    ]
    return settings(
        upstream, keys, ledger={"flush_interval": 0.05, **ledger}, admin={"keys": [ADMIN]}, **extra
    )


def traffic(gw) -> None:
    """Four requests of the web key (one refused) and one of the batch key."""
    c = client(gw, KEY)
    c.chat.completions.create(model="@main/gpt-4o-mini", messages=MSG)
    list(c.chat.completions.create(model="@main/gpt-4o-mini", messages=MSG, stream=True))
    with pytest.raises(openai.InternalServerError):
        c.chat.completions.create(model="@main/error-500", messages=MSG)
    with pytest.raises(openai.RateLimitError):
        c.chat.completions.create(model="@main/gpt-4o-mini", messages=MSG)
    client(gw, "gw-other-key").chat.completions.create(model="@main/gpt-4o-mini", messages=MSG)


def wait_rows(count, n: int) -> None:
    deadline = time.monotonic() + 5
    while count() < n:
        assert time.monotonic() < deadline, f"ledger has {count()} rows, expected {n}"
        time.sleep(0.05)


def test_sqlite_ledger_rows_and_spend_report(make_gateway, mock_openai, tmp_path) -> None:
    _, upstream = mock_openai
    db = tmp_path / "ledger.db"
    gw = make_gateway(ledger_settings(upstream.url, {"url": f"sqlite:///{db}"}))
    traffic(gw)

    def count() -> int:
        if not db.exists():
            return 0
        with sqlite3.connect(db) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM llm_gateway_ledger").fetchone()[0])

    wait_rows(count, 5)
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        rows = [dict(r) for r in conn.execute("SELECT * FROM llm_gateway_ledger ORDER BY ts")]
    assert [r["status"] for r in rows] == [200, 200, 500, 429, 200]
    assert [r["key_id"] for r in rows] == ["s:web"] * 4 + ["s:batch"]
    assert {r["team"] for r in rows} == {"shop", "data"}
    ok = rows[0]
    assert ok["provider"] == "openai" and ok["model"] == "gpt-4o-mini"
    assert ok["prompt_tokens"] > 0 and ok["cost_usd"] > 0 and ok["trace_id"]
    assert rows[1]["stream"] == 1 and rows[1]["completion_tokens"] > 0
    assert rows[2]["cost_usd"] == 0 and rows[3]["error_type"] == "rate_limit_error"
    assert KEY not in json.dumps(rows)  # a secret is never in the ledger

    with httpx.Client(base_url=gw.url, headers={"x-portkey-admin-key": ADMIN}) as a:
        team = a.get("/admin/spend", params={"group_by": "team"}).json()["data"]
        by = {r["team"]: r for r in team}
        assert by["shop"]["requests"] == 4 and by["shop"]["errors"] == 2
        assert by["data"]["requests"] == 1
        total = sum(r["cost_usd"] for r in rows)
        assert abs(sum(r["cost_usd"] for r in team) - total) < 1e-9
        keys = a.get("/admin/spend", params={"group_by": "key"}).json()["data"]
        assert {r["key"]: r["key_name"] for r in keys} == {"s:web": "web", "s:batch": "batch"}
        future = a.get("/admin/spend", params={"from": "2100-01-01", "to": "2100-02-01"})
        assert future.json()["data"] == []


def test_a_ledger_that_cannot_be_opened_does_not_stop_the_gateway(
    make_gateway, mock_openai, tmp_path, logs
) -> None:
    _, upstream = mock_openai
    blocker = tmp_path / "file"
    blocker.write_text("x")  # a file where the ledger's folder should be: like a read-only fs
    ledger = {"url": f"sqlite:///{blocker}/l.db", "shutdown_timeout": 0.2}
    gw = make_gateway(ledger_settings(upstream.url, ledger))
    c = client(gw, KEY)
    assert c.chat.completions.create(model="@main/gpt-4o-mini", messages=MSG).choices
    assert any(x.get("event", "").startswith("ledger database unavailable") for x in logs())
    r = httpx.get(gw.url + "/admin/spend", headers={"x-portkey-admin-key": ADMIN})
    assert r.status_code == 503 and r.json()["error"]["code"] == "ledger_down"


def test_postgres_ledger_cli_report_and_budget_rebuild(
    make_gateway, mock_openai, pg_table, redis_url, tmp_path
) -> None:
    _, upstream = mock_openai
    url, table = pg_table
    raw = ledger_settings(
        upstream.url,
        {"url": url, "table": table},
        redis={"url": f"{redis_url}/13", "prefix": f"t-{table}:"},
    )
    raw["middleware"][2]["options"]["keys"][1]["budget_usd"] = 5.0
    gw = make_gateway(raw)
    traffic(gw)
    settled(gw)

    def count() -> int:
        try:
            return int(pg_query(url, f"SELECT COUNT(*) FROM {table}")[0][0])  # noqa: S608
        except Exception:
            return 0

    wait_rows(count, 5)
    config = tmp_path / "settings.yaml"
    config.write_text(yaml.safe_dump(raw))
    env = {**os.environ, "GATEWAY_LOG_FORMAT": "json"}
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "proxy",
            "spend",
            "--config",
            str(config),
            "--group-by",
            "model",
            "--from",
            "2000-01-01",
            "--json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    models = {r["model"]: r for r in json.loads(out.stdout)["data"]}
    assert models["gpt-4o-mini"]["requests"] == 4 and models["error-500"]["requests"] == 1
    text = subprocess.run(
        [sys.executable, "-m", "proxy", "spend", "--config", str(config), "--group-by", "team"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    ).stdout
    assert text.splitlines()[0].split()[:2] == ["team", "requests"] and "shop" in text

    # Redis lost its budget counters: the rebuild restores them from the ledger
    import redis

    r = redis.Redis.from_url(f"{redis_url}/13")
    for k in r.scan_iter(match=f"t-{table}:*"):
        r.delete(k)
    sql = f"SELECT SUM(cost_usd) FROM {table} WHERE key_id = 's:batch'"  # noqa: S608
    spent = float(pg_query(url, sql)[0][0])
    done = subprocess.run(
        [sys.executable, "-m", "proxy", "budgets", "rebuild", "--config", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    ).stdout
    assert "s:batch" in done
    with httpx.Client(base_url=gw.url, headers={"x-portkey-admin-key": ADMIN}) as a:
        usage = a.get("/admin/keys/batch/usage").json()
        assert usage["budget"]["spent_usd"] == pytest.approx(spent, abs=2e-6)
        assert usage["ledger_spent_usd"] == pytest.approx(spent)
        again = a.post("/admin/budgets/rebuild").json()["data"]
        assert [d["key"] for d in again] == ["s:batch"]
    r.close()
