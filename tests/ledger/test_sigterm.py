"""No spend is lost on a rollout: a gateway process gets SIGTERM mid-load and every request
it answered is in the PostgreSQL ledger afterwards (rows are written on the drain)."""

from __future__ import annotations

import asyncio
import time

import httpx

from tests.ledger.conftest import pg_query
from tests.mock_openai import MockOpenAI
from tests.quota.helpers import MSG, SETTINGS_KEY
from tests.quota.replicas import start
from tests.servers import ServerThread

KEY = "gw-test-key-0002"


async def test_every_answered_request_is_in_the_ledger_after_sigterm(pg_table, tmp_path) -> None:
    url, table = pg_table
    mock = MockOpenAI()
    with ServerThread(mock.app) as upstream:
        settings = {
            # nothing is written before the drain: the rows below come from the shut-down
            "ledger": {"url": url, "table": table, "flush_interval": 60, "batch_size": 10_000},
            "logging": {"level": "warning"},
            "middleware": [
                {"class": "middleware.observability:ObservabilityMiddleware"},
                {"class": "middleware.auth:AuthMiddleware",
                 "options": {"keys": [{"key": KEY, "name": "load", "team": "qa"}]}},
                {"class": "middleware.router:RouterMiddleware"},
            ],
            "providers": {"main": {"provider": "openai", "api_key": SETTINGS_KEY,
                                   "custom_host": upstream.url + "/v1"}},
        }  # fmt: skip
        [proc] = start(settings, tmp_path, 1)
        answered: set[str] = set()
        sent: set[str] = set()
        try:
            async with httpx.AsyncClient(timeout=20) as h:
                stop = asyncio.Event()

                async def worker(w: int) -> None:
                    i = 0
                    while not stop.is_set() or i < 3:  # keep the load on across the signal
                        trace = f"sig-{w}-{i}"
                        i += 1
                        sent.add(trace)
                        body = {"model": "@main/gpt-4o-mini", "messages": MSG,
                                "stream": i % 3 == 0}  # fmt: skip
                        headers = {"authorization": f"Bearer {KEY}", "x-portkey-trace-id": trace}
                        try:
                            r = await h.post(proc.url + "/v1/chat/completions", json=body,
                                             headers=headers)  # fmt: skip
                        except httpx.TransportError:
                            return  # the listener closed
                        if r.status_code == 200:
                            answered.add(trace)
                        if i > 200:
                            return

                workers = [asyncio.create_task(worker(w)) for w in range(16)]
                while len(answered) < 150:
                    await asyncio.sleep(0.01)
                proc.proc.send_signal(15)
                t0 = time.monotonic()
                stop.set()
                await asyncio.gather(*workers)
            assert await asyncio.to_thread(proc.proc.wait, 30) == 0
            print(f"exited {time.monotonic() - t0:.2f}s after SIGTERM, {len(answered)} answered")
        finally:
            proc.stop()
    sql = f"SELECT trace_id, team, status FROM {table}"  # noqa: S608
    rows = await asyncio.to_thread(pg_query, url, sql)
    traced = {r[0] for r in rows}
    assert len(answered) >= 150
    assert answered <= traced, f"{len(answered - traced)} answered requests missing"
    assert traced <= sent
    assert {r[1] for r in rows} == {"qa"}
