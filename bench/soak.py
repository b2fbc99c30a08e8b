"""Soak: N concurrent open streams through the gateway; RSS and event-loop lag.

Every stream trickles one event every 0.5 s for ~30 s (bench/mock_upstream.py ``/slow/``).
While they are open, ``/health`` is timed every 50 ms: its latency is the gateway's
event-loop lag plus a trivial handler.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time

import aiohttp

from bench import procs
from bench.load import body


async def soak(gw: subprocess.Popen[bytes], gw_url: str, mock_url: str, n: int) -> dict:
    headers = {
        "Content-Type": "application/json",
        "Authorization": "Bearer sk-bench-x",
        "x-portkey-provider": "openai",
        "x-portkey-custom-host": f"{mock_url}/slow/v1",
    }
    payload = body(True)
    done = failed = 0
    open_now = 0
    peak_open = 0
    rss_peak = procs.tree_rss(gw.pid)
    lags: list[float] = []
    conn = aiohttp.TCPConnector(limit=n + 10)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=conn, timeout=timeout) as s:

        async def one() -> None:
            nonlocal done, failed, open_now, peak_open
            try:
                async with s.post(
                    gw_url + "/v1/chat/completions", data=payload, headers=headers
                ) as r:
                    open_now += 1
                    peak_open = max(peak_open, open_now)
                    data = await r.read()
                    open_now -= 1
                    ok = r.status == 200 and data.endswith(b"data: [DONE]\n\n")
                    done += ok
                    failed += not ok
            except (aiohttp.ClientError, TimeoutError):
                failed += 1

        async def probe() -> None:
            nonlocal rss_peak
            while done + failed < n:
                t0 = time.perf_counter()
                async with s.get(gw_url + "/health") as r:
                    await r.read()
                lags.append((time.perf_counter() - t0) * 1000)
                rss_peak = max(rss_peak, procs.tree_rss(gw.pid))
                await asyncio.sleep(0.05)

        t0 = time.perf_counter()
        tasks = [asyncio.create_task(one()) for _ in range(n)]
        await asyncio.gather(probe(), *tasks)
        elapsed = time.perf_counter() - t0
    lags.sort()
    return {
        "streams": n,
        "completed": done,
        "failed": failed,
        "peak_concurrent_open": peak_open,
        "elapsed_s": round(elapsed, 1),
        "peak_rss_mib": round(rss_peak / 2**20, 1),
        "health_p50_ms": round(lags[len(lags) // 2], 2) if lags else None,
        "health_p99_ms": round(lags[int(len(lags) * 0.99)], 2) if lags else None,
        "health_max_ms": round(lags[-1], 2) if lags else None,
    }


if __name__ == "__main__":
    print(json.dumps({"hint": "run python -m bench --soak"}))
