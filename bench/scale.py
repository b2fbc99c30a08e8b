"""``python -m bench --scale``: one worker against ``--workers 2``, same load, same machine.

For each worker count W in (1, 2) it starts the mock upstream and ``python -m proxy
--workers W`` with NO pinning (every process may use every core: the comparison is what a
pod with W cores gets), and for non-streamed and streamed chat:

- runs wrk (``--scale-threads`` threads, ``-c`` connections) for ``--duration`` seconds
  after a warm-up, and reads the CPU seconds (utime + stime, /proc/<pid>/stat) that the
  gateway's workers, the mock and wrk used during the measured run, plus the whole
  machine's busy time (/proc/stat) so that CPU taken by anything else shows;
- reports req/s, the ratio W=2 / W=1, and req/s per gateway CPU-second (scaling
  independent of the load generator's share of the two cores);
- checks that metrics stay whole: it sends an exact number of requests on fresh
  connections (spread over the workers by SO_REUSEPORT), waits for the workers' one-second
  flush, and compares the growth of ``gateway_requests_total`` (summed over every series,
  scraped from whichever worker answers) with the number sent.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import resource
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp

from bench import load, procs
from bench.load import gateway_headers

TICK = os.sysconf("SC_CLK_TCK")
COUNTED = 2000  # requests of the exact metrics check, per worker count


def cpu_s(pid: int) -> float:
    """utime + stime of one process, seconds (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def machine_busy_s() -> float:
    """Non-idle CPU seconds of the whole machine since boot (all cores)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return (sum(v[:8]) - idle) / TICK


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


def worker_pids(gw: subprocess.Popen[bytes], workers: int) -> list[int]:
    if workers == 1:
        return [gw.pid]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = children(gw.pid)
        if len(found) == workers:
            return found
        time.sleep(0.05)
    raise RuntimeError("workers did not start")


def run_wrk(
    url: str, payload: bytes, headers: dict[str, str], conns: int, threads: int, secs: int
) -> tuple[float, int, int, float]:
    """req/s, requests completed, errors, wrk's own CPU seconds."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(load._lua(payload, headers))
    cmd = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{secs}s", "-s", f.name, url]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=secs + 60).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    os.unlink(f.name)
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    if found is None or total is None:
        raise RuntimeError(f"wrk failed: {out[-500:]}")
    errors = sum(int(x) for x in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if sock:
        errors += sum(int(x) for x in sock.groups())
    wrk_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return float(found.group(1)), int(total.group(1)), errors, wrk_cpu


def requests_counted(gw_url: str) -> float:
    with urllib.request.urlopen(gw_url + "/metrics", timeout=5) as r:  # noqa: S310 - loopback
        text = r.read().decode()
    return sum(
        float(m.group(1))
        for m in re.finditer(r"^gateway_requests_total\{[^}]*\} ([\d.e+]+)$", text, re.M)
    )


async def send_exact(url: str, payload: bytes, headers: dict[str, str], n: int) -> int:
    """n requests, 16 at a time, each on a new connection; returns how many got a 200."""
    ok = 0
    sem = asyncio.Semaphore(16)
    conn = aiohttp.TCPConnector(force_close=True, limit=16)
    async with aiohttp.ClientSession(connector=conn) as s:

        async def one() -> None:
            nonlocal ok
            async with sem, s.post(url, data=payload, headers=headers) as r:
                await r.read()
                ok += r.status == 200

        await asyncio.gather(*(one() for _ in range(n)))
    return ok


def measure_workers(args: argparse.Namespace, workers: int, results: Path) -> dict[str, Any]:
    mock_port, mock = procs.start_mock(None, results / "mock.log")
    log = results / f"gateway-w{workers}.log"
    gw_port, gw = procs.start_gateway(None, log, "--workers", str(workers))
    mock_url, gw_url = f"http://127.0.0.1:{mock_port}", f"http://127.0.0.1:{gw_port}"
    out: dict[str, Any] = {"workers": workers}
    try:
        procs.wait_port(mock_port)
        procs.wait_ready(gw_url + "/ready", gw)
        pids = worker_pids(gw, workers)
        url = gw_url + "/v1/chat/completions"
        for stream in (False, True):
            payload, headers = load.body(stream), gateway_headers(mock_url, stream)
            name = "chat-stream" if stream else "chat"
            conns, threads = args.connections, args.scale_threads
            run_wrk(url, payload, headers, conns, threads, max(1, round(args.duration / 3)))
            gw0 = [cpu_s(p) for p in pids]
            mock0, busy0, t0 = cpu_s(mock.pid), machine_busy_s(), time.perf_counter()
            rps, total, errors, wrk_cpu = run_wrk(
                url, payload, headers, conns, threads, round(args.duration)
            )
            wall = time.perf_counter() - t0
            per_worker = [cpu_s(p) - c for p, c in zip(pids, gw0, strict=True)]
            gw_cpu = sum(per_worker)
            mock_cpu = cpu_s(mock.pid) - mock0
            busy = machine_busy_s() - busy0
            out[name] = {
                "rps": round(rps),
                "requests": total,
                "errors": errors,
                "wall_s": round(wall, 2),
                "gateway_cpu_s": round(gw_cpu, 2),
                "per_worker_cpu_s": [round(c, 2) for c in per_worker],
                "wrk_cpu_s": round(wrk_cpu, 2),
                "mock_cpu_s": round(mock_cpu, 2),
                "machine_busy_s": round(busy, 2),
                "other_cpu_s": round(max(0.0, busy - gw_cpu - wrk_cpu - mock_cpu), 2),
                "rps_per_gateway_cpu_s": round(total / gw_cpu) if gw_cpu else None,
            }
        # metrics whole: an exact number of requests on fresh connections
        time.sleep(1.2)
        before = requests_counted(gw_url)
        payload, headers = load.body(False), gateway_headers(mock_url, False)
        ok = asyncio.run(send_exact(url, payload, headers, COUNTED))
        time.sleep(1.5)  # every worker hands its tallies to the shared files each second
        grew = [requests_counted(gw_url) - before for _ in range(4)]  # any worker answers
        out["metrics_check"] = {"sent": COUNTED, "ok": ok, "counted_by_scrapes": grew}
        flushed = requests_counted(gw_url)
        sent = sum(out[k]["requests"] for k in ("chat", "chat-stream"))
        out["metrics_total"] = {"counter_total": flushed, "wrk_completed_plus_exact": sent + ok}
    finally:
        procs.stop(gw)
        procs.stop(mock)
    return out


def scale(args: argparse.Namespace, results: Path) -> dict[str, Any]:
    """``--repeat`` rounds of 1 then 2 workers; the ratios compare, per scenario, the best
    round of each (the one least disturbed by whatever else the machine runs)."""
    runs = [measure_workers(args, w, results) for _ in range(args.repeat) for w in (1, 2)]
    ratios = {}
    for name in ("chat", "chat-stream"):
        a = max((r[name] for r in runs if r["workers"] == 1), key=lambda v: v["rps"])
        b = max((r[name] for r in runs if r["workers"] == 2), key=lambda v: v["rps"])
        ratios[name] = {
            "rps": [a["rps"], b["rps"]],
            "rps_ratio": round(b["rps"] / a["rps"], 2),
            "rps_per_cpu_ratio": round(b["rps_per_gateway_cpu_s"] / a["rps_per_gateway_cpu_s"], 2),
            "gateway_cpu_ratio": round(b["gateway_cpu_s"] / a["gateway_cpu_s"], 2),
        }
    whole = all(
        all(g == r["metrics_check"]["sent"] for g in r["metrics_check"]["counted_by_scrapes"])
        for r in runs
    )
    return {"runs": runs, "ratios": ratios, "metrics_whole": whole, "nproc": os.cpu_count()}


def summary(r: dict[str, Any]) -> str:
    lines = [
        "| workers | scenario | req/s | gateway CPU s | per worker | wrk CPU s | mock CPU s "
        "| other CPU s | req per gateway CPU-s |",
        "|---|---|---:|---:|---|---:|---:|---:|---:|",
    ]
    for run in r["runs"]:
        for name in ("chat", "chat-stream"):
            v = run[name]
            lines.append(
                f"| {run['workers']} | {name} | {v['rps']} | {v['gateway_cpu_s']} | "
                f"{v['per_worker_cpu_s']} | {v['wrk_cpu_s']} | {v['mock_cpu_s']} | "
                f"{v['other_cpu_s']} | {v['rps_per_gateway_cpu_s']} |"
            )
    for name, v in r["ratios"].items():
        lines.append(
            f"\n{name}: best of each, {v['rps'][0]} -> {v['rps'][1]} req/s: 2 workers / 1 = "
            f"{v['rps_ratio']}x req/s, gateway CPU "
            f"{v['gateway_cpu_ratio']}x, req per gateway CPU-s {v['rps_per_cpu_ratio']}x"
        )
    for run in r["runs"]:
        m = run["metrics_check"]
        lines.append(
            f"metrics, {run['workers']} worker(s): sent {m['sent']} ({m['ok']} ok), "
            f"scrapes counted {m['counted_by_scrapes']}"
        )
    lines.append(f"metrics whole: {r['metrics_whole']}")
    return "\n".join(lines)
