"""``python -m bench.paired``: ours against the ceiling in alternating rounds.

run-peers measures each gateway once, minutes apart. On a machine whose speed drifts (a
shared VM: the same loop took 1.1 s and 1.7 s minutes apart on 2026-11-30) that puts the
drift into the ratio: run-peers gave ours/ceiling from 68% to 98% for the same code within
half an hour. Here both gateways run side by side (each pinned to the gateway core, only
the one under load busy), the run-peers nginx mock and wrk share the other core, and
short rounds alternate which goes first; the ratio of each round's pair is what drift
touches least, and the median of the rounds is reported with its spread.

Needs nginx and wrk (``apt-get install -y nginx-light wrk``) and ../shared/bench/run-peers
(its mock answers and its ceiling).
"""

from __future__ import annotations

import argparse
import importlib.machinery
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType

from bench import procs
from bench.__main__ import RESULTS

SHARED = Path(__file__).resolve().parents[2] / "shared" / "bench"


def _run_peers() -> ModuleType:
    loader = importlib.machinery.SourceFileLoader("run_peers", str(SHARED / "run-peers"))
    spec = importlib.util.spec_from_loader("run_peers", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def _rps(url: str, lua: Path, seconds: int) -> float:
    cmd = ["taskset", "-c", "1", "wrk", "-t1", "-c64", f"-d{seconds}s", "-s", str(lua), url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        if line.startswith("BENCHJSON "):
            d = json.loads(line[len("BENCHJSON ") :])
            errors = d["err_connect"] + d["err_read"] + d["err_status"] + d["err_timeout"]
            if errors:
                sys.exit(f"{url}: {errors} errors in a round")
            return float(d["requests"]) / (d["duration_us"] / 1e6)
    sys.exit(f"no result from wrk: {out[-300:]}")


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.paired", description=__doc__)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--seconds", type=int, default=8, help="per gateway per round")
    args = ap.parse_args()
    rp = _run_peers()
    RESULTS.mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="paired-"))
    (work / "tmp").mkdir()
    mock_port = procs.free_port()
    (work / "nginx.conf").write_text(rp.nginx_conf(str(work), mock_port))
    nginx = procs.start(
        ["nginx", "-p", str(work), "-c", str(work / "nginx.conf")], "1", RESULTS / "paired-mock.log"
    )
    ceiling_port = procs.free_port()
    ceiling_cmd = [sys.executable, str(SHARED / "ceiling.py"), "--host", "127.0.0.1"]
    ceiling_cmd += ["--port", str(ceiling_port)]
    ceiling = procs.start(ceiling_cmd, "0", RESULTS / "paired-ceiling.log")
    ours_port, ours = procs.start_gateway("0", RESULTS / "paired-ours.log")
    try:
        for port in (mock_port, ceiling_port, ours_port):
            procs.wait_port(port)
        for name in ("chat", "chat-stream"):
            sc = rp.SCENARIOS[name]
            lua = work / f"{name}.lua"
            headers = {
                "Content-Type": "application/json",
                "Authorization": "Bearer sk-bench",
                "x-portkey-provider": sc["provider"],
                "x-portkey-custom-host": f"http://127.0.0.1:{mock_port}{sc['mock']}",
            }
            rp.write_lua(str(lua), rp.scenario_body(sc, rp.OA_MODEL), headers)
            urls = {
                "ceiling": f"http://127.0.0.1:{ceiling_port}{sc['path']}",
                "ours": f"http://127.0.0.1:{ours_port}{sc['path']}",
            }
            for url in urls.values():  # warm both
                _rps(url, lua, 2)
            ratios: list[float] = []
            for r in range(args.rounds):
                order = ("ceiling", "ours") if r % 2 == 0 else ("ours", "ceiling")
                got = {gw: _rps(urls[gw], lua, args.seconds) for gw in order}
                ratios.append(got["ours"] / got["ceiling"])
                print(
                    f"{name} round {r + 1}: ceiling {got['ceiling']:,.0f} req/s, "
                    f"ours {got['ours']:,.0f} req/s, ours/ceiling {ratios[-1]:.1%}",
                    flush=True,
                )
            print(
                f"{name}: median ours/ceiling {statistics.median(ratios):.1%} over "
                f"{len(ratios)} rounds (min {min(ratios):.1%}, max {max(ratios):.1%})",
                flush=True,
            )
    finally:
        for p in (ours, ceiling, nginx):
            procs.stop(p)


if __name__ == "__main__":
    main()
