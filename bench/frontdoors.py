"""Every front door and provider: ``python -m bench.frontdoors``.

For each pair (front door -> provider) below, streamed and not, the gateway against the
direct path to the same mock answer in the same run (bench/mock_upstream.py, whose native
answers are in bench/natives.py): req/s and p50 at ``-c`` connections, p50 at one
connection and the gateway's added p50 there. Pinning and load as ``python -m bench``
(gateway on --gw-cpus, mock and wrk on --load-cpus). Before measuring, one request of each
pair goes through the gateway and must come back 200 with the mock's text in it.

Then the translation cost per stream event, in process (bench/stream_cost.py).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import load, natives, procs, stream_cost

RESULTS = Path(__file__).resolve().parent / "results"
KEY = "sk-bench-x"
BEDROCK_MODEL = "amazon.nova-lite-v1:0"
BEDROCK_PATH = "/model/amazon.nova-lite-v1%3A0/"
AWS = {
    "x-portkey-aws-access-key-id": "AKIDEXAMPLEBENCH0001",
    "x-portkey-aws-secret-access-key": "bench-secret",
    "x-portkey-aws-region": "us-east-1",
}


def _b(o: object) -> bytes:
    return json.dumps(o, separators=(",", ":")).encode()


def chat_body(model: str, stream: bool) -> bytes:
    return _b({**load.BODY, "model": model, "stream": stream})


def messages_body(model: str, stream: bool) -> bytes:
    return _b(
        {
            "model": model,
            "max_tokens": 1024,
            "system": natives.SYSTEM,
            "messages": [{"role": "user", "content": natives.USER}],
            "stream": stream,
        }
    )


def responses_body(stream: bool) -> bytes:
    # store false: the translated path would otherwise keep each answer in the gateway's
    # response store, which is not translation
    return _b(
        {
            "model": "gpt-4o-mini",
            "instructions": natives.SYSTEM,
            "input": natives.USER,
            "stream": stream,
            "store": False,
        }
    )


def gemini_body(stream: bool) -> bytes:
    return _b(
        {
            "contents": [{"role": "user", "parts": [{"text": natives.USER}]}],
            "systemInstruction": {"parts": [{"text": natives.SYSTEM}]},
        }
    )


def converse_body(stream: bool) -> bytes:
    return _b(
        {
            "messages": [{"role": "user", "content": [{"text": natives.USER}]}],
            "system": [{"text": natives.SYSTEM}],
        }
    )


@dataclass
class Upstream:
    """The direct path to one mock answer: URL and native body, by stream."""

    name: str
    events: int  # upstream events of the streamed answer

    def url(self, mock: str, stream: bool) -> str:
        pre = "/stream" if stream else ""
        if self.name == "openai-chat":
            return f"{mock}{pre}/v1/chat/completions"
        if self.name == "anthropic":
            return f"{mock}{pre}/v1/messages"
        if self.name == "gemini":
            method = "streamGenerateContent?alt=sse" if stream else "generateContent"
            return f"{mock}/v1beta/models/gemini-2.0-flash:{method}"
        if self.name == "bedrock":
            return f"{mock}{BEDROCK_PATH}{'converse-stream' if stream else 'converse'}"
        assert self.name == "openai-responses"
        return f"{mock}{pre}/v1/responses"

    def body(self, stream: bool) -> bytes:
        return {
            "openai-chat": lambda s: chat_body("gpt-4o-mini", s),
            "anthropic": lambda s: messages_body("claude-sonnet-4-5", s),
            "gemini": gemini_body,
            "bedrock": converse_body,
            "openai-responses": responses_body,
        }[self.name](stream)


UPSTREAMS = {
    u.name: u
    for u in (
        Upstream("openai-chat", 20),
        Upstream("anthropic", 24),
        Upstream("gemini", 18),
        Upstream("bedrock", 22),
        Upstream("openai-responses", 26),
    )
}


@dataclass
class Pair:
    door: str  # the gateway path
    provider: str  # x-portkey-provider
    upstream: str  # UPSTREAMS key
    model: str
    note: str

    @property
    def name(self) -> str:
        return f"{self.door} -> {self.provider} ({self.note})"

    def headers(self, mock: str, stream: bool) -> dict[str, str]:
        pre = "/stream" if stream else ""
        h = {
            "Content-Type": "application/json",
            "Authorization": f"Bearer {KEY}",
            "x-portkey-provider": self.provider,
        }
        if self.provider in ("google", "bedrock"):
            h["x-portkey-custom-host"] = mock
        else:
            h["x-portkey-custom-host"] = f"{mock}{pre}/v1"
        if self.provider == "bedrock":
            h |= AWS
        return h

    def body(self, stream: bool) -> bytes:
        if self.door == "/v1/messages":
            return messages_body(self.model, stream)
        if self.door == "/v1/responses":
            return responses_body(stream)
        return chat_body(self.model, stream)


PAIRS = [
    Pair("/v1/chat/completions", "openai", "openai-chat", "gpt-4o-mini", "native"),
    Pair("/v1/chat/completions", "anthropic", "anthropic", "claude-sonnet-4-5", "Messages"),
    Pair("/v1/chat/completions", "google", "gemini", "gemini-2.0-flash", "generateContent"),
    Pair("/v1/chat/completions", "bedrock", "bedrock", BEDROCK_MODEL, "Converse, SigV4"),
    Pair("/v1/messages", "anthropic", "anthropic", "claude-sonnet-4-5", "native"),
    Pair("/v1/messages", "openai", "openai-chat", "gpt-4o-mini", "via chat"),
    Pair("/v1/responses", "openai", "openai-responses", "gpt-4o-mini", "native"),
    Pair("/v1/responses", "openai-compatible", "openai-chat", "gpt-4o-mini", "via chat"),
]


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310 - loopback http
            return int(r.status), bytes(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def check(pairs: list[Pair], gw: str, mock: str) -> None:
    """One request of each pair and each direct path: 200 and the mock's text, or exit."""
    for p in pairs:
        for stream in (False, True):
            up = UPSTREAMS[p.upstream]
            for url, body, headers in (
                (up.url(mock, stream), up.body(stream), {"Content-Type": "application/json"}),
                (gw + p.door, p.body(stream), p.headers(mock, stream)),
            ):
                status, answer = post(url, body, headers)
                if status != 200 or b"mock-ok" not in answer:
                    sys.exit(f"{p.name} stream={stream} {url}: {status} {answer[:400]!r}")


def run_load(url: str, body: bytes, headers: dict[str, str], c: int, secs: float, cpus: str) -> Any:
    """One wrk run; retried once when wrk's output lacks a number (seen once at c=64)."""
    try:
        return load.run_load(url, body, headers, c, secs, cpus)
    except RuntimeError as exc:
        print(f"  retrying: {exc}", flush=True)
        return load.run_load(url, body, headers, c, secs, cpus)


def measure(
    args: argparse.Namespace, pairs: list[Pair], gw: str, mock: str
) -> list[dict[str, Any]]:
    rows = []
    direct: dict[tuple[str, bool], dict[str, Any]] = {}  # the same answer: measured once
    cpus, c = args.load_cpus, args.connections
    for p in pairs:
        for stream in (False, True):
            up = UPSTREAMS[p.upstream]
            url, body, headers = up.url(mock, stream), up.body(stream), dict[str, str]()
            if (up.name, stream) not in direct:
                hi = run_load(url, body, headers, c, args.duration, cpus)
                one = run_load(url, body, headers, 1, args.duration_c1, cpus)
                direct[up.name, stream] = {
                    "rps": round(hi.rps),
                    "p50_ms": hi.p50_ms,
                    "p50_c1_ms": one.p50_ms,
                    "errors": hi.errors + one.errors,
                }
            d = direct[up.name, stream]
            gurl, gbody, gheaders = gw + p.door, p.body(stream), p.headers(mock, stream)
            run_load(gurl, gbody, gheaders, c, 1.0, cpus)  # warm-up
            hi = run_load(gurl, gbody, gheaders, c, args.duration, cpus)
            one = run_load(gurl, gbody, gheaders, 1, args.duration_c1, cpus)
            rows.append(
                {
                    "pair": p.name,
                    "stream": stream,
                    "upstream_events": up.events if stream else 0,
                    "direct": d,
                    "gateway": {
                        "rps": round(hi.rps),
                        "p50_ms": hi.p50_ms,
                        "p99_ms": hi.p99_ms,
                        "p50_c1_ms": one.p50_ms,
                        "errors": hi.errors + one.errors,
                    },
                    "added_c1_ms": round(one.p50_ms - d["p50_c1_ms"], 3),
                }
            )
            print(f"  {p.name} stream={stream}: {rows[-1]['added_c1_ms']:+.3f} ms", flush=True)
    return rows


def table(r: dict[str, Any]) -> str:
    out = [
        f"# bench.frontdoors {r['date']} on {r['machine']}; {r['connections']} connections, "
        f"{r['duration_s']} s runs (c=1: {r['duration_c1_s']} s), peak RSS {r['peak_rss_mib']} MiB",
        "",
        "| front door -> provider | stream | gateway req/s @c64 | direct req/s | gateway p50 "
        "@c64 ms | p50 @c1 ms gateway / direct | added @c1 | errors |",
        "|---|---|---:|---:|---:|---|---:|---:|",
    ]
    for row in r["rows"]:
        d, g = row["direct"], row["gateway"]
        stream = f"{row['upstream_events']} events" if row["stream"] else "no"
        out.append(
            f"| {row['pair']} | {stream} | {g['rps']} | {d['rps']} | {g['p50_ms']:.2f} | "
            f"{g['p50_c1_ms']:.3f} / {d['p50_c1_ms']:.3f} | +{row['added_c1_ms']:.3f} ms | "
            f"{g['errors'] + d['errors']} |"
        )
    if r.get("stream_cost"):
        out += ["", stream_cost.table(r["stream_cost"])]
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.frontdoors", description=__doc__)
    ap.add_argument("--duration", type=float, default=3.0, help="seconds per run at -c")
    ap.add_argument("--duration-c1", type=float, default=2.0, help="seconds per run at c=1")
    ap.add_argument("-c", "--connections", type=int, default=64)
    ap.add_argument("--gw-cpus", default="1")
    ap.add_argument("--load-cpus", default="0")
    ap.add_argument("--only", help="pairs whose name contains this (e.g. bedrock)")
    ap.add_argument("--no-stream-cost", action="store_true", help="skip the in-process part")
    ap.add_argument("--check", action="store_true", help="only check every pair answers")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    pairs = [p for p in PAIRS if not args.only or args.only in p.name]

    RESULTS.mkdir(exist_ok=True)
    mock_port, mock_p = procs.start_mock(args.load_cpus, RESULTS / "mock.log")
    gw_port, gw_p = procs.start_gateway(args.gw_cpus, RESULTS / "gateway.log")
    mock, gw = f"http://127.0.0.1:{mock_port}", f"http://127.0.0.1:{gw_port}"
    try:
        procs.wait_port(mock_port)
        procs.wait_ready(gw + "/ready", gw_p)
        check(pairs, gw, mock)
        if args.check:
            print(f"{len(pairs)} pairs x (stream, not): 200 with the mock's text")
            return
        sampler = procs.RSSSampler(gw_p.pid)
        sampler.start()
        rows = measure(args, pairs, gw, mock)
        peak = sampler.stop()
    finally:
        procs.stop(gw_p)
        procs.stop(mock_p)
    report: dict[str, Any] = {
        "rows": rows,
        "peak_rss_mib": round(peak / 2**20, 1),
        "connections": args.connections,
        "duration_s": args.duration,
        "duration_c1_s": args.duration_c1,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} nproc={os.cpu_count()}",
    }
    if not args.no_stream_cost:
        report["stream_cost"] = stream_cost.measure()
    print(table(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
