"""Soak: N concurrent open streams through one gateway worker; RSS and event-loop lag.

Every stream trickles one event every ``--interval`` seconds (default 0.5), ``--events``
of them (default 60), from bench/mock_upstream.py ``/slow/``. The streams are opened by
``--soak-clients`` separate load processes (bench/soak_client.py, raw asyncio protocols,
pinned with the mock), ramped over ``--ramp`` seconds (default: 1,000 new streams a
second), so that neither the client side nor a burst of 10,000 simultaneous connects is
what is measured. This process only watches: ``/health`` is timed every 50 ms on one
keep-alive connection (its latency is the gateway's event-loop lag plus a trivial handler),
``/metrics`` is read once a second for the gateway's own count of open streams, and the
gateway's RSS is sampled. CPU seconds of the gateway, the mock, the load processes and the
rest of the machine are reported, so a saturated machine shows as such.

The gateway needs one upstream connection per open stream: the soak runs it with
``upstream.pool_size`` above N (the default pool is 1,000), and the file descriptors of
client and upstream sides (``ulimit -n`` above 2N + a margin).
"""

from __future__ import annotations

import asyncio
import json
import re
import resource
import shutil
import sys
import time
from pathlib import Path

import aiohttp

from bench import procs
from bench.scale import cpu_s, machine_busy_s


def children_cpu_s() -> float:
    """CPU seconds of this process's waited-for children (the load processes)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def soak_settings(n: int, results: Path) -> Path:
    """A settings file whose upstream pool holds N streams (JSON is YAML)."""
    path = results / "soak-settings.yaml"
    path.write_text(json.dumps({"upstream": {"pool_size": n + 100}}))
    return path


def runqueue_wait_s(pid: int) -> float:
    """Seconds a process's main thread was runnable but waited for its CPU (schedstat):
    the lag that other processes on the gateway's core add."""
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            return int(f.read().split()[1]) / 1e9
    except OSError:
        return 0.0


def _pct(xs: list[float], q: float) -> float | None:
    return round(xs[min(len(xs) - 1, int(len(xs) * q))], 2) if xs else None


async def soak(
    gw_pid: int,
    mock_pid: int,
    gw_url: str,
    mock_url: str,
    n: int,
    clients: int = 4,
    ramp: float | None = None,
    cpus: str | None = None,
) -> dict[str, object]:
    ramp = n / 1000 if ramp is None else ramp
    cpu0 = cpu_s(gw_pid), cpu_s(mock_pid), children_cpu_s(), machine_busy_s()
    wait0 = runqueue_wait_s(gw_pid)
    port = gw_url.rsplit(":", 1)[1]
    shares = [n // clients + (i < n % clients) for i in range(clients)]
    t0 = time.perf_counter()
    pin = ["taskset", "-c", cpus] if cpus and shutil.which("taskset") else []
    loaders = [
        await asyncio.create_subprocess_exec(
            *pin,
            sys.executable,
            "-m",
            "bench.soak_client",
            "--port",
            port,
            "--mock",
            mock_url,
            "--streams",
            str(k),
            "--ramp",
            str(ramp),
            stdout=asyncio.subprocess.PIPE,
        )
        for k in shares
    ]
    outputs = asyncio.gather(*(p.communicate() for p in loaders))
    lags: list[tuple[float, float]] = []  # (seconds since start, ms)
    rss_peak = procs.tree_rss(gw_pid)
    open_peak = 0.0
    last_scrape = 0.0
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as s:
        while not outputs.done():
            t = time.perf_counter()
            async with s.get(gw_url + "/health") as r:
                await r.read()
            lags.append((t - t0, (time.perf_counter() - t) * 1000))
            rss_peak = max(rss_peak, procs.tree_rss(gw_pid))
            if t - last_scrape >= 1.0:
                last_scrape = t
                async with s.get(gw_url + "/metrics") as r:
                    text = await r.text()
                found = re.search(r"^gateway_in_flight_streams ([\d.e+]+)$", text, re.M)
                open_peak = max(open_peak, float(found.group(1)) if found else 0.0)
            await asyncio.sleep(0.05)
        results = [json.loads(out.decode().strip().splitlines()[-1]) for out, _ in await outputs]
    elapsed = time.perf_counter() - t0
    cpu1 = cpu_s(gw_pid), cpu_s(mock_pid), children_cpu_s(), machine_busy_s()
    waited = runqueue_wait_s(gw_pid) - wait0
    gw_cpu, mock_cpu, load_cpu, busy = (b - a for a, b in zip(cpu0, cpu1, strict=True))
    errors: dict[str, int] = {}
    for r in results:
        for why, k in r["errors"].items():
            errors[why] = errors.get(why, 0) + k
    all_ms = sorted(ms for _, ms in lags)
    opening = sorted(ms for t, ms in lags if t < ramp)
    held = sorted(ms for t, ms in lags if t >= ramp)
    return {
        "streams": n,
        "load_processes": clients,
        "ramp_s": ramp,
        "completed": sum(r["completed"] for r in results),
        "failed": sum(r["failed"] for r in results),
        "peak_open_gateway": int(open_peak),
        "elapsed_s": round(elapsed, 1),
        "errors": errors,
        "cpu_s": {
            "gateway": round(gw_cpu, 1),
            "mock": round(mock_cpu, 1),
            "load_processes": round(load_cpu, 1),
            "rest_of_machine": round(max(0.0, busy - gw_cpu - mock_cpu - load_cpu), 1),
        },
        "gateway_runqueue_wait_s": round(waited, 2),
        "peak_rss_mib": round(rss_peak / 2**20, 1),
        "health_probes": len(all_ms),
        "health_p50_ms": _pct(all_ms, 0.5),
        "health_p99_ms": _pct(all_ms, 0.99),
        "health_max_ms": _pct(all_ms, 1.0),
        "while_opening_p99_ms": _pct(opening, 0.99),
        "after_opening_p99_ms": _pct(held, 0.99),
    }


if __name__ == "__main__":
    print(json.dumps({"hint": "run python -m bench --soak"}))
