"""What a stream event costs the gateway in process: ``python -m bench.stream_cost``.

Feeds the mock's canned upstream streams (bench/natives.py, bench/mock_upstream.py) through
what the relay runs on them (proxy/terminal/relay.py: the framing decoder and the
provider's translator, or the OpenAI scanning fast path), then through what the front door
writes (chat SSE, Anthropic events, Responses events), all in one read as the mock sends
them. Reports CPU microseconds per upstream event, best of several rounds (on a shared
machine the minimum is the repeatable number). No sockets, no chain: the socket and
per-request costs are in bench.frontdoors' added latencies.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from bench import mock_upstream, natives
from proxy.framing import FRAMINGS
from proxy.frontdoors.chat import chat_frame
from proxy.frontdoors.messages.stream import MessagesEncoder
from proxy.frontdoors.responses.door import frame as responses_frame
from proxy.frontdoors.responses.events import EventWriter
from proxy.frontdoors.responses.native import NativeTranslation
from proxy.providers import PROVIDERS
from proxy.providers.anthropic.messages import direct_translation
from proxy.providers.openai_compat import OpenAICompatAdapter
from proxy.reply import Chunk
from proxy.terminal.relay import EventReader, Reader

Run = Callable[[], int]  # one whole stream; returns the bytes written to the client


def _reader(translation: Any, framing: str, model: str) -> Reader:
    return EventReader(FRAMINGS[framing](), translation.stream_translator(model, True))


def _chunks(make: Callable[[], Reader], data: bytes) -> list[Chunk]:
    reader, out = make(), list[Chunk]()
    reader.feed(data, out)
    reader.finish(out)
    return out


def to_chat(make: Callable[[], Reader], data: bytes) -> Run:
    """The chat door: each chunk as ``data:`` SSE, then ``[DONE]``."""

    def run() -> int:
        return len(b"".join([chat_frame(c) for c in _chunks(make, data)]) + b"data: [DONE]\n\n")

    return run


def to_messages(make: Callable[[], Reader], data: bytes) -> Run:
    """The messages door: native events relayed, or chat chunks encoded as Anthropic's."""

    def run() -> int:
        enc = MessagesEncoder("m")
        out = [enc.frame(c) for c in _chunks(make, data)]
        out.append(enc.end())
        return len(b"".join(out))

    return run


def to_responses(make: Callable[[], Reader], data: bytes) -> Run:
    """The responses door: native events relayed, or chat chunks written as Responses."""
    req = {"model": "gpt-4o-mini", "input": natives.USER, "store": False}

    def run() -> int:
        writer: EventWriter | None = None
        out: list[bytes] = []
        for c in _chunks(make, data):
            if c.wire == "responses":
                out.append(responses_frame(c))
                continue
            parsed = c.parsed
            if writer is None:
                writer = EventWriter(req, "resp_x", 1, "gpt-4o-mini")
                out += [responses_frame(e) for e in writer.start()]
            out += [responses_frame(e) for e in writer.feed(parsed)]
        if writer is not None:
            out += [responses_frame(e) for e in writer.end()]
        return len(b"".join(out))

    return run


def cases() -> list[tuple[str, int, Run]]:
    """(what, upstream events, one stream)."""
    oa = PROVIDERS["openai"]
    assert isinstance(oa, OpenAICompatAdapter)
    chat_sse = mock_upstream.stream_body()
    anthropic_sse, gemini_sse = natives.anthropic_stream(), natives.gemini_stream()
    converse = natives.converse_stream()
    responses_sse = natives.responses_stream()
    oa_events = lambda: _reader(oa, "sse", "gpt-4o-mini")  # noqa: E731
    return [
        ("chat <- openai (fast path: scan, relay bytes)", 20, to_chat(oa.framed_stream, chat_sse)),
        ("chat <- openai (event by event: a middleware reads)", 20, to_chat(oa_events, chat_sse)),
        (
            "chat <- anthropic (translated)",
            24,
            to_chat(lambda: _reader(PROVIDERS["anthropic"], "sse", "claude"), anthropic_sse),
        ),
        (
            "chat <- google (translated)",
            18,
            to_chat(lambda: _reader(PROVIDERS["google"], "sse", "gemini"), gemini_sse),
        ),
        (
            "chat <- bedrock (eventstream, translated)",
            22,
            to_chat(
                lambda: _reader(PROVIDERS["bedrock"], "aws-eventstream", "amazon.nova"), converse
            ),
        ),
        (
            "messages <- anthropic (native relay)",
            24,
            to_messages(lambda: _reader(direct_translation(False), "sse", "c"), anthropic_sse),
        ),
        ("messages <- openai (chat -> Anthropic events)", 20, to_messages(oa_events, chat_sse)),
        (
            "responses <- openai (native relay)",
            26,
            to_responses(
                lambda: _reader(NativeTranslation(oa, chat=False), "sse", "g"), responses_sse
            ),
        ),
        (
            "responses <- openai-compatible (chat -> Responses)",
            20,
            to_responses(oa_events, chat_sse),
        ),
    ]


def best_us(run: Run, rounds: int, n: int) -> float:
    for _ in range(200):
        run()
    best = float("inf")
    for _ in range(rounds):
        t0 = time.process_time()
        for _ in range(n):
            run()
        best = min(best, (time.process_time() - t0) / n * 1e6)
    return best


def measure(rounds: int = 7, n: int = 2000) -> list[dict[str, Any]]:
    rows = []
    for what, events, run in cases():
        us = best_us(run, rounds, n)
        rows.append(
            {
                "what": what,
                "events": events,
                "stream_us": round(us, 1),
                "per_event_us": round(us / events, 2),
                "client_bytes": run(),
            }
        )
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    out = [
        "| stream (door <- provider) | upstream events | CPU µs per stream | µs per event "
        "| bytes to client |",
        "|---|---:|---:|---:|---:|",
    ]
    out += [
        f"| {r['what']} | {r['events']} | {r['stream_us']} | {r['per_event_us']} | "
        f"{r['client_bytes']} |"
        for r in rows
    ]
    return "\n".join(out)


if __name__ == "__main__":
    print(table(measure()))
