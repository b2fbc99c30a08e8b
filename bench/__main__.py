"""``python -m bench``: the gateway against a direct call to the same mock upstream.

Starts a fast mock upstream (bench/mock_upstream.py) and the gateway on loopback, pinned to
separate cores when taskset exists (gateway on --gw-cpus, mock and load on --load-cpus), and
reports, for non-streamed and streamed completions: req/s at fixed concurrency, p50/p99,
the gateway's added latency against the direct path (ms and ratio), p50 at one connection,
time to first byte for streams, peak RSS and start-up time. ``--soak`` holds ``--streams``
concurrent open streams and reports RSS and event-loop lag instead; ``--scale`` compares
one worker with two (bench/scale.py).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import platform
import sys
from pathlib import Path

from bench import load, procs
from bench.load import gateway_headers
from bench.scale import scale, summary
from bench.soak import soak, soak_settings

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    ap.add_argument("--duration", type=float, default=10.0, help="seconds per measured run")
    ap.add_argument("-c", "--connections", type=int, default=64)
    ap.add_argument("--gw-cpus", default="1")
    ap.add_argument("--load-cpus", default="0")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--config", help="gateway settings file (default: none = default chain)")
    ap.add_argument(
        "--console",
        choices=("on", "off"),
        default="off",
        help="the console (GATEWAY_CONSOLE): measure its cost on the request path",
    )
    ap.add_argument("--soak", action="store_true", help="1,000 open streams: RSS and loop lag")
    ap.add_argument("--streams", type=int, default=1000)
    ap.add_argument("--soak-clients", type=int, default=4, help="load processes of --soak")
    ap.add_argument("--events", type=int, default=60, help="--soak: events per stream")
    ap.add_argument(
        "--interval", type=float, default=0.5, help="--soak: seconds between a stream's events"
    )
    ap.add_argument(
        "--ramp", type=float, help="--soak: seconds to open the streams (default N/1000)"
    )
    ap.add_argument(
        "--scale",
        action="store_true",
        help="1 worker then 2 workers, no pinning: req/s ratio, CPU, metrics whole",
    )
    ap.add_argument("--scale-threads", type=int, default=1, help="wrk threads in --scale")
    ap.add_argument("--repeat", type=int, default=1, help="--scale: rounds of 1 then 2 workers")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()

    RESULTS.mkdir(exist_ok=True)
    if args.scale:
        report = scale(args, RESULTS)
        report["date"] = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        report["connections"], report["duration_s"] = args.connections, args.duration
        print(summary(report))
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=2))
        return
    mock_port, gw_port = procs.free_port(), procs.free_port()
    mock_url, gw_url = f"http://127.0.0.1:{mock_port}", f"http://127.0.0.1:{gw_port}"
    mock_cmd = [sys.executable, "-m", "bench.mock_upstream", "--port", str(mock_port)]
    mock_cmd += ["--slow-events", str(args.events), "--slow-interval", str(args.interval)]
    mock = procs.start(
        mock_cmd,
        args.load_cpus,
        RESULTS / "mock.log",
    )
    gw_cmd = [
        sys.executable,
        "-m",
        "proxy",
        "--host",
        "127.0.0.1",
        "--port",
        str(gw_port),
        "--workers",
        str(args.workers),
    ]
    if args.config:
        gw_cmd += ["--config", args.config]
    elif args.soak:  # an upstream pool as large as the streams held open
        gw_cmd += ["--config", str(soak_settings(args.streams, RESULTS))]
    gw_env = {"GATEWAY_LOG_FORMAT": "json", "GATEWAY_CONSOLE": "1" if args.console == "on" else "0"}
    gw = procs.start(gw_cmd, args.gw_cpus, RESULTS / "gateway.log", env=gw_env)
    try:
        procs.wait_port(mock_port)
        startup = procs.wait_ready(gw_url + "/ready", gw)
        if args.soak:
            report = asyncio.run(
                soak(
                    gw.pid,
                    mock.pid,
                    gw_url,
                    mock_url,
                    args.streams,
                    args.soak_clients,
                    args.ramp,
                    args.load_cpus,
                )
            )
            report["startup_s"] = round(startup, 3)
            report["events_per_stream"], report["interval_s"] = args.events, args.interval
        else:
            report = measure(args, gw, gw_url, mock_url)
            report["startup_s"] = round(startup, 3)
    finally:
        procs.stop(gw)
        procs.stop(mock)
    report["console"] = args.console
    report["date"] = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    report["machine"] = f"{platform.machine()} {platform.processor() or ''} nproc={_nproc()}"
    print(json.dumps(report, indent=2) if args.soak else table(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


def _nproc() -> int:
    import os

    return len(os.sched_getaffinity(0))


def measure(args: argparse.Namespace, gw, gw_url: str, mock_url: str) -> dict:  # type: ignore[no-untyped-def]
    rows = []
    sampler = procs.RSSSampler(gw.pid)
    sampler.start()
    for stream in (False, True):
        payload = load.body(stream)
        direct_url = (
            f"{mock_url}/stream/v1/chat/completions"
            if stream
            else (f"{mock_url}/v1/chat/completions")
        )
        via_url = f"{gw_url}/v1/chat/completions"
        headers = gateway_headers(mock_url, stream)
        warm = max(1.0, args.duration / 5)
        load.run_load(via_url, payload, headers, args.connections, warm, args.load_cpus)
        row: dict = {"scenario": "chat-stream" if stream else "chat"}
        for name, url in (("direct", direct_url), ("gateway", via_url)):
            hi = load.run_load(
                url, payload, headers, args.connections, args.duration, args.load_cpus
            )
            one = load.run_load(url, payload, headers, 1, args.duration / 2, args.load_cpus)
            row[name] = {
                "rps": round(hi.rps),
                "p50_ms": hi.p50_ms,
                "p99_ms": hi.p99_ms,
                "errors": hi.errors + one.errors,
                "p50_c1_ms": one.p50_ms,
                "tool": hi.tool,
            }
        if stream:
            row["ttfb_direct_ms"] = asyncio.run(load.ttfb_ms(direct_url, payload, headers, 300))
            row["ttfb_gateway_ms"] = asyncio.run(load.ttfb_ms(via_url, payload, headers, 300))
        rows.append(row)
    return {
        "rows": rows,
        "peak_rss_mib": round(sampler.stop() / 2**20, 1),
        "connections": args.connections,
        "duration_s": args.duration,
    }


def table(r: dict) -> str:
    out = [
        f"# bench {r['date']} on {r['machine']}; {r['connections']} connections, "
        f"{r['duration_s']}s runs; gateway start-up {r['startup_s']}s, "
        f"peak RSS {r['peak_rss_mib']} MiB",
        "",
        "| scenario | path | req/s | p50 ms | p99 ms | added p50 | p50 @c1 ms | added @c1 "
        "| errors |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in r["rows"]:
        d, g = row["direct"], row["gateway"]
        for name, v in (("direct", d), ("gateway", g)):
            added = added1 = "-"
            if name == "gateway":
                added = f"+{v['p50_ms'] - d['p50_ms']:.2f} ms ({v['p50_ms'] / d['p50_ms']:.1f}x)"
                added1 = f"+{v['p50_c1_ms'] - d['p50_c1_ms']:.3f} ms"
            out.append(
                f"| {row['scenario']} | {name} | {v['rps']} | {v['p50_ms']:.2f} | "
                f"{v['p99_ms']:.2f} | {added} | {v['p50_c1_ms']:.3f} | {added1} | "
                f"{v['errors']} |"
            )
        if "ttfb_gateway_ms" in row:
            out.append(
                f"\nstream time to first byte (c=1, median of 300): direct "
                f"{row['ttfb_direct_ms']:.3f} ms, gateway {row['ttfb_gateway_ms']:.3f} ms "
                f"(+{row['ttfb_gateway_ms'] - row['ttfb_direct_ms']:.3f} ms)\n"
            )
    return "\n".join(out)


if __name__ == "__main__":
    main()
