"""The console's cost on the request path: ``python -m bench.console_cost``.

Throughput on this shared machine moves by ±30% from run to run (other processes), far
more than the 2% this must resolve. So besides req/s this reads the gateway process's own CPU
time per request (utime + stime from /proc), under the same wrk load, the console off and
on, alternated over several rounds. A gateway bound by one core serves 1 / (CPU per
request): the ratio of CPU per request is the throughput cost. That ratio still moves by a
few percent with what else runs (caches, clocks), so ``--instructions`` counts instead:
the gateway runs under valgrind's callgrind, counters are zeroed after start-up and
warm-up (``callgrind_control -z``), N sequential requests run, and the dump gives the
instructions the gateway executed for them: the same count run after run.
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import statistics
import subprocess
import sys
import tempfile
import urllib.request

from bench import load, procs
from bench.__main__ import RESULTS
from bench.load import gateway_headers


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one(console: str, mock_url: str, args: argparse.Namespace, stream: bool) -> tuple[float, float]:
    """(CPU µs per request, req/s) of one gateway run."""
    port = procs.free_port()
    url = f"http://127.0.0.1:{port}"
    env = {"GATEWAY_LOG_FORMAT": "json", "GATEWAY_CONSOLE": "1" if console == "on" else "0"}
    cmd = [sys.executable, "-m", "proxy", "--host", "127.0.0.1", "--port", str(port)]
    gw = procs.start(cmd, args.gw_cpus, RESULTS / f"gateway-console-{console}.log", env=env)
    try:
        procs.wait_ready(url + "/ready", gw)
        via = url + "/v1/chat/completions"
        payload, headers = load.body(stream), gateway_headers(mock_url, stream)
        load.run_load(via, payload, headers, args.connections, 2.0, args.load_cpus)  # warm
        before = cpu_seconds(gw.pid)
        res = load.run_load(via, payload, headers, args.connections, args.duration, args.load_cpus)
        used = cpu_seconds(gw.pid) - before
        return used / (res.rps * round(args.duration)) * 1e6, res.rps
    finally:
        procs.stop(gw)


def _post(url: str, payload: bytes, headers: dict[str, str]) -> None:
    req = urllib.request.Request(url, data=payload, headers=headers, method="POST")  # noqa: S310
    with urllib.request.urlopen(req, timeout=120) as resp:  # noqa: S310 - loopback http
        resp.read()


def instructions(console: str, mock_url: str, n: int, stream: bool) -> float:
    """Instructions the gateway executes per request (callgrind), after warm-up."""
    port = procs.free_port()
    url = f"http://127.0.0.1:{port}"
    out = tempfile.mkdtemp(prefix="console-cg-")
    env = {
        "GATEWAY_LOG_FORMAT": "json",
        "GATEWAY_CONSOLE": "1" if console == "on" else "0",
        "PYTHONHASHSEED": "0",
    }
    cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}/cg.%p",
           sys.executable, "-m", "proxy", "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    gw = procs.start(cmd, None, RESULTS / f"gateway-cg-{console}.log", env=env)
    try:
        procs.wait_ready(url + "/ready", gw, timeout=300)
        via = url + "/v1/chat/completions"
        payload, headers = load.body(stream), gateway_headers(mock_url, stream)
        for _ in range(200):  # warm: caches, memoised labels, a full ring
            _post(via, payload, headers)
        subprocess.run(["callgrind_control", "-z", str(gw.pid)], check=True, capture_output=True)
        for _ in range(n):
            _post(via, payload, headers)
        subprocess.run(["callgrind_control", "-d", str(gw.pid)], check=True, capture_output=True)
        dumps = sorted(glob.glob(f"{out}/cg.*"), key=os.path.getmtime)
        with open(dumps[-1]) as f:
            total = int(re.search(r"^(?:summary|totals):\s+(\d+)", f.read(), re.M).group(1))  # type: ignore[union-attr]
        return total / n
    finally:
        procs.stop(gw)


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.console_cost", description=__doc__)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--duration", type=float, default=6.0)
    ap.add_argument("-c", "--connections", type=int, default=32)
    ap.add_argument("--gw-cpus", default="1")
    ap.add_argument("--load-cpus", default="0")
    ap.add_argument("--instructions", type=int, metavar="N", default=0,
                    help="count instructions over N requests under callgrind instead")  # fmt: skip
    args = ap.parse_args()
    RESULTS.mkdir(exist_ok=True)
    mock_port, mock = procs.start_mock(args.load_cpus, RESULTS / "mock.log")
    mock_url = f"http://127.0.0.1:{mock_port}"
    try:
        procs.wait_port(mock_port)
        if args.instructions:
            for stream in (False, True):
                off = instructions("off", mock_url, args.instructions, stream)
                on = instructions("on", mock_url, args.instructions, stream)
                print(
                    f"{'stream' if stream else 'json  '}: instructions per request off "
                    f"{off:,.0f}, on {on:,.0f} ({(on / off - 1) * 100:+.2f}%); "
                    f"{args.instructions} requests each, after 200 to warm up"
                )
            return
        for stream in (False, True):
            runs: dict[str, list[tuple[float, float]]] = {"off": [], "on": []}
            for r in range(args.rounds):
                order = ("off", "on") if r % 2 == 0 else ("on", "off")
                for console in order:
                    runs[console].append(one(console, mock_url, args, stream))
            cpu = {k: statistics.median(c for c, _ in v) for k, v in runs.items()}
            rps = {k: statistics.median(q for _, q in v) for k, v in runs.items()}
            print(
                f"{'stream' if stream else 'json  '}: CPU per request off {cpu['off']:.1f} µs, "
                f"on {cpu['on']:.1f} µs ({(cpu['on'] / cpu['off'] - 1) * 100:+.1f}%); "
                f"req/s off {rps['off']:.0f}, on {rps['on']:.0f} "
                f"({(rps['on'] / rps['off'] - 1) * 100:+.1f}%); {args.rounds} rounds each"
            )
    finally:
        procs.stop(mock)


if __name__ == "__main__":
    main()
