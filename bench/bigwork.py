"""Big work: ``python -m bench.bigwork``.

What the gateway adds to large requests and long streams, against the direct path to the
same mock in the same run, one connection, one request at a time (the median of ``-n``
requests, the two paths alternating so drift hits both alike):

- ``/v1/chat/completions`` to the OpenAI-compatible mock with 100 KB, 1 MB and 10 MB
  request bodies (one user message that long; non-streamed answer);
- a 2,000-event chat stream (bench/mock_upstream.py ``/big/``).

Reports ms and ms per MB (per 1,000 events for the stream), so one can see whether cost
grows linearly, and the gateway's peak RSS over each size above its resident size before
it (the kernel's high-water mark, VmHWM, reset through ``/proc/<pid>/clear_refs`` before
each size's warm-up: exact, not sampled), and its resident size after. The default
``server.max_body_bytes`` (25 MiB) admits 10 MB: no settings needed.

The client is a blocking socket with the requests pre-rendered: the client's cost is the
same on both paths and small next to the gateway's.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import socket
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bench import natives, procs

RESULTS = Path(__file__).resolve().parent / "results"
SIZES = (100_000, 1_000_000, 10_000_000)
MB = 1_000_000


class Conn:
    """One keep-alive HTTP/1.1 connection: send pre-rendered bytes, read one answer."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self) -> None:
        self.sock.close()

    def _more(self) -> None:
        data = self.sock.recv(1 << 20)
        if not data:
            raise ConnectionError("closed")
        self.buf += data

    def call(self, request: bytes) -> tuple[int, int]:
        """Send ``request``; (status, body bytes) of its answer."""
        self.sock.sendall(request)
        while b"\r\n\r\n" not in self.buf:
            self._more()
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        fields = {
            k.strip().lower(): v.strip() for k, _, v in (x.partition(b":") for x in lines[1:])
        }
        if b"content-length" in fields:
            n = int(fields[b"content-length"])
            parts, have = [self.buf], len(self.buf)
            while have < n:
                data = self.sock.recv(1 << 20)
                if not data:
                    raise ConnectionError("closed")
                parts.append(data)
                have += len(data)
            whole = b"".join(parts)
            self.buf = whole[n:]
            return status, n
        # chunked: the answer ends with the zero-length chunk (SSE data never ends so)
        parts, size = [self.buf], len(self.buf)
        tail = self.buf[-5:]
        while not tail.endswith(b"0\r\n\r\n"):
            data = self.sock.recv(1 << 20)
            if not data:
                raise ConnectionError("closed")
            parts.append(data)
            size += len(data)
            tail = (tail + data)[-5:]
        self.buf = b""
        return status, size


def render(path: str, headers: dict[str, str], body: bytes) -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return head.encode() + b"\r\n" + body


def chat_body(size: int, stream: bool = False) -> bytes:
    """A chat request whose user message makes the body ``size`` bytes."""
    base = {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": natives.SYSTEM},
            {"role": "user", "content": ""},
        ],
        "stream": stream,
    }
    empty = len(json.dumps(base, separators=(",", ":")))
    words = (natives.TEXT + " ") * (size // len(natives.TEXT) + 1)
    base["messages"][1]["content"] = words[: max(0, size - empty)]  # type: ignore[index]
    return json.dumps(base, separators=(",", ":")).encode()


def reset_peak(pid: int) -> None:
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM to the current RSS (Linux >= 4.0)


def status_kib(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def timed(conn: Conn, request: bytes) -> float:
    t0 = time.perf_counter()
    status, _ = conn.call(request)
    ms = (time.perf_counter() - t0) * 1000
    if status != 200:
        sys.exit(f"HTTP {status}")
    return ms


def compare(
    mock_port: int, gw_port: int, gw_pid: int, direct: bytes, via: bytes, n: int
) -> dict[str, Any]:
    """Medians of ``n`` alternating calls, and the gateway's peak RSS over them."""
    d, g = Conn(mock_port), Conn(gw_port)
    try:
        base = status_kib(gw_pid, "VmRSS")
        reset_peak(gw_pid)
        for _ in range(2):  # warm: connections, pools, first-use allocations
            timed(d, direct)
            timed(g, via)
        ds, gs = [], []
        for _ in range(n):
            ds.append(timed(d, direct))
            gs.append(timed(g, via))
        peak = status_kib(gw_pid, "VmHWM")
        after = status_kib(gw_pid, "VmRSS")
    finally:
        d.close()
        g.close()
    dm, gm = statistics.median(ds), statistics.median(gs)
    return {
        "direct_ms": round(dm, 3),
        "gateway_ms": round(gm, 3),
        "added_ms": round(gm - dm, 3),
        "rss_before_mib": round(base / 1024, 1),
        "peak_over_mib": round((peak - base) / 1024, 1),
        "rss_after_mib": round(after / 1024, 1),
    }


def measure(args: argparse.Namespace, mock_port: int, gw_port: int, gw_pid: int) -> list[Any]:
    rows = []
    mock = f"http://127.0.0.1:{mock_port}"
    route = {
        "Content-Type": "application/json",
        "Authorization": "Bearer sk-bench-x",
        "x-portkey-provider": "openai",
    }
    for size in SIZES:
        body = chat_body(size)
        direct = render("/v1/chat/completions", {"Content-Type": "application/json"}, body)
        via = render("/v1/chat/completions", {**route, "x-portkey-custom-host": f"{mock}/v1"}, body)
        n = args.n if size < 10 * MB else max(5, args.n // 2)
        row = compare(mock_port, gw_port, gw_pid, direct, via, n)
        row |= {"work": f"{size // 1000} KB body", "size": size, "n": n}
        row["added_ms_per_mb"] = round(row["added_ms"] / (size / MB), 3)
        rows.append(row)
        print(f"  {row['work']}: +{row['added_ms']} ms", flush=True)
    body = chat_body(200, stream=True)
    direct = render("/big/v1/chat/completions", {"Content-Type": "application/json"}, body)
    via = render("/v1/chat/completions", {**route, "x-portkey-custom-host": f"{mock}/big/v1"}, body)
    row = compare(mock_port, gw_port, gw_pid, direct, via, args.n)
    row |= {"work": "2,000-event stream", "size": 0, "n": args.n}
    row["added_ms_per_1000_events"] = round(row["added_ms"] / 2, 3)
    rows.append(row)
    return rows


def table(r: dict[str, Any]) -> str:
    out = [
        f"# bench.bigwork {r['date']} on {r['machine']}; one connection, medians",
        "",
        "| work | n | direct ms | gateway ms | added ms | added per MB (per 1,000 events) "
        "| gateway RSS before MiB | peak over it MiB | RSS after MiB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for x in r["rows"]:
        per = x.get("added_ms_per_mb", x.get("added_ms_per_1000_events"))
        out.append(
            f"| {x['work']} | {x['n']} | {x['direct_ms']:.3f} | {x['gateway_ms']:.3f} | "
            f"+{x['added_ms']:.3f} | {per:.3f} ms | {x['rss_before_mib']} | "
            f"+{x['peak_over_mib']} | {x['rss_after_mib']} |"
        )
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.bigwork", description=__doc__)
    ap.add_argument("-n", type=int, default=20, help="requests per size (10 MB: half)")
    ap.add_argument("--gw-cpus", default="1")
    ap.add_argument("--load-cpus", default="0")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    os.sched_setaffinity(0, {int(c) for c in args.load_cpus.split(",")})  # the client
    RESULTS.mkdir(exist_ok=True)
    mock_port, mock_p = procs.start_mock(args.load_cpus, RESULTS / "mock.log")
    gw_port, gw_p = procs.start_gateway(args.gw_cpus, RESULTS / "gateway.log")
    try:
        procs.wait_port(mock_port)
        procs.wait_ready(f"http://127.0.0.1:{gw_port}/ready", gw_p)
        rows = measure(args, mock_port, gw_port, gw_p.pid)
    finally:
        procs.stop(gw_p)
        procs.stop(mock_p)
    report = {
        "rows": rows,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} nproc={os.cpu_count()}",
    }
    print(table(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
