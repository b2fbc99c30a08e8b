"""Load generation: wrk when installed (accurate, C), else a bounded aiohttp client."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass

import aiohttp

BODY = {
    "model": "gpt-4o-mini",
    "messages": [
        {"role": "system", "content": "You are a concise assistant."},
        {"role": "user", "content": "Summarise what an AI gateway does."},
    ],
}


@dataclass
class LoadResult:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    tool: str


def gateway_headers(mock: str, stream: bool) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "Authorization": "Bearer sk-bench-x",
        "x-portkey-provider": "openai",
        "x-portkey-custom-host": f"{mock}/stream/v1" if stream else f"{mock}/v1",
    }


def body(stream: bool) -> bytes:
    return json.dumps({**BODY, "stream": stream}).encode()


def _lua(payload: bytes, headers: dict[str, str]) -> str:
    def q(s: str) -> str:
        return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"

    lines = ["wrk.method = 'POST'", f"wrk.body = {q(payload.decode())}"]
    lines += [f"wrk.headers[{q(k)}] = {q(v)}" for k, v in headers.items()]
    return "\n".join(lines) + "\n"


_UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    assert m, text
    return float(m.group(1)) * _UNIT[m.group(2)]


def wrk(
    url: str,
    payload: bytes,
    headers: dict[str, str],
    connections: int,
    seconds: float,
    cpus: str | None,
) -> LoadResult:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(_lua(payload, headers))
    secs = max(1, round(seconds))
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{secs}s", "--latency", "-s", f.name, url]
    if cpus and shutil.which("taskset"):
        cmd = ["taskset", "-c", cpus, *cmd]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60).stdout
    pct = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", out, re.M))
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if found is None or "50" not in pct or "99" not in pct:
        raise RuntimeError(f"wrk failed: {out[-500:]}")
    rps = float(found.group(1))
    errors = sum(int(x) for x in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if sock:
        errors += sum(int(x) for x in sock.groups())
    return LoadResult(rps, _ms(pct["50"]), _ms(pct["99"]), errors, "wrk")


async def _py_load(
    url: str, payload: bytes, headers: dict[str, str], connections: int, seconds: float
) -> LoadResult:
    lat: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds
    conn = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=conn) as s:

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                async with s.post(url, data=payload, headers=headers) as r:
                    await r.read()
                    if r.status != 200:
                        errors += 1
                lat.append((time.perf_counter() - t0) * 1000)

        await asyncio.gather(*(worker() for _ in range(connections)))
    lat.sort()
    return LoadResult(
        len(lat) / seconds, lat[len(lat) // 2], lat[int(len(lat) * 0.99)], errors, "python"
    )


def run_load(
    url: str,
    payload: bytes,
    headers: dict[str, str],
    connections: int,
    seconds: float,
    cpus: str | None = None,
) -> LoadResult:
    if shutil.which("wrk"):
        return wrk(url, payload, headers, connections, seconds, cpus)
    return asyncio.run(_py_load(url, payload, headers, connections, seconds))


async def ttfb_ms(url: str, payload: bytes, headers: dict[str, str], n: int) -> float:
    """Median time to the first body byte of a streamed answer, one request at a time."""
    samples = []
    async with aiohttp.ClientSession() as s:
        for _ in range(n):
            t0 = time.perf_counter()
            async with s.post(url, data=payload, headers=headers) as r:
                await r.content.readany()
                samples.append((time.perf_counter() - t0) * 1000)
                await r.read()
    samples.sort()
    return samples[len(samples) // 2]
