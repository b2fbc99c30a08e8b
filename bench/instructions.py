"""``python -m bench.instructions``: instructions per request, ours beside the ceiling.

Throughput on a shared machine moves by tens of percent from run to run; instructions
executed do not. Each gateway runs under valgrind's callgrind, counters are zeroed after
start-up and warm-up, N sequential requests go through it to the bench mock upstream, and
the dump gives the instructions it executed per request. On one core a CPU-bound server's
throughput is inversely proportional to this count, so ``ceiling / ours`` estimates how
close we are to the bare aiohttp pass-through (../shared/bench/ceiling.py) — the ratio the
performance issue sets (chat >= 80 %, streams >= 70 %). Confirm with run-peers on a quiet
machine; this is for comparing changes while other work loads the machine.
"""

from __future__ import annotations

import argparse
import glob
import http.client
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import load, procs
from bench.__main__ import RESULTS
from bench.load import gateway_headers

CEILING = Path(__file__).resolve().parents[2] / "shared" / "bench" / "ceiling.py"


class _Client:
    """Sequential POSTs on one kept-alive connection, as wrk sends them: a new connection
    per request would add the same accept and setup to both sides and flatter the ratio."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)

    def post(self, path: str, payload: bytes, headers: dict[str, str]) -> None:
        self.conn.request("POST", path, body=payload, headers=headers)
        resp = self.conn.getresponse()
        resp.read()
        if resp.status != 200:
            raise RuntimeError(f"{path}: HTTP {resp.status}")


def count(cmd: list[str], env: dict[str, str], mock_url: str, n: int, stream: bool) -> float:
    port = procs.free_port()
    url = f"http://127.0.0.1:{port}"
    out = tempfile.mkdtemp(prefix="instr-")
    full = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}/cg.%p"]
    full += [c.replace("{port}", str(port)) for c in cmd]
    gw = procs.start(full, None, RESULTS / "instructions.log", env={**env, "PYTHONHASHSEED": "0"})
    try:
        procs.wait_ready(url + "/ready", gw, timeout=300)
        via, client = "/v1/chat/completions", _Client(port)
        payload, headers = load.body(stream), gateway_headers(mock_url, stream)
        for _ in range(100):  # warm: caches, memoised labels
            client.post(via, payload, headers)
        subprocess.run(["callgrind_control", "-z", str(gw.pid)], check=True, capture_output=True)
        for _ in range(n):
            client.post(via, payload, headers)
        subprocess.run(["callgrind_control", "-d", str(gw.pid)], check=True, capture_output=True)
        dumps = sorted(glob.glob(f"{out}/cg.*"), key=os.path.getmtime)
        text = Path(dumps[-1]).read_text()
        total = re.search(r"^(?:summary|totals):\s+(\d+)", text, re.M)
        assert total is not None
        return int(total.group(1)) / n
    finally:
        procs.stop(gw)


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__)
    ap.add_argument("-n", type=int, default=300, help="requests counted (after 100 to warm up)")
    ap.add_argument("--config", help="a settings file for our gateway (default: none)")
    ap.add_argument(
        "--ceiling",
        nargs=2,
        type=float,
        metavar=("CHAT", "STREAM"),
        help="the ceiling's counts from an earlier run (they move only with aiohttp): not run",
    )
    args = ap.parse_args()
    RESULTS.mkdir(exist_ok=True)
    mock_port, mock = procs.start_mock(None, RESULTS / "mock.log")
    mock_url = f"http://127.0.0.1:{mock_port}"
    ours = [sys.executable, "-m", "proxy", "--host", "127.0.0.1", "--port", "{port}"]
    if args.config:
        ours += ["--config", args.config]
    ceiling = [sys.executable, str(CEILING), "--host", "127.0.0.1", "--port", "{port}"]
    env = procs.GATEWAY_ENV
    try:
        procs.wait_port(mock_port)
        for stream in (False, True):
            mine = count(ours, env, mock_url, args.n, stream)
            if args.ceiling:
                top = args.ceiling[1 if stream else 0]
            else:
                top = count(ceiling, {}, mock_url, args.n, stream)
            print(
                f"{'stream' if stream else 'chat  '}: ours {mine:,.0f} instructions per request, "
                f"ceiling {top:,.0f}: ceiling/ours = {top / mine:.1%}"
            )
    finally:
        procs.stop(mock)


if __name__ == "__main__":
    main()
