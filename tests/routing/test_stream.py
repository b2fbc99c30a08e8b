"""Streams fall back or retry only before the first byte reaches the client."""

from __future__ import annotations

import openai
import pytest

from tests.routing.conftest import MESSAGES, access_lines, client


def text_of(stream) -> str:
    return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)


def test_failure_before_first_chunk_falls_back(routed, upstream, logs) -> None:
    a, b = upstream(503), upstream("ok", name="b")
    config = {"strategy": {"mode": "fallback"}, "targets": [a.target(), b.target("groq")]}
    c = client(routed, config)
    with c.chat.completions.with_streaming_response.create(
        model="m", messages=MESSAGES, stream=True
    ) as resp:
        assert resp.headers["x-portkey-last-used-option-index"] == "config.targets[1]"
        assert resp.headers["x-portkey-provider"] == "groq"
        assert text_of(resp.parse()).strip() == "b: hello"
    (line,) = access_lines(logs)
    assert line["targets"] == ["config.targets[0]", "config.targets[1]"]


def test_stall_before_first_chunk_times_out_and_falls_back(routed, upstream) -> None:
    a, b = upstream(("stall", 5)), upstream("ok", name="b")
    config = {
        "strategy": {"mode": "fallback"},
        "request_timeout": 300,
        "targets": [a.target(), b.target()],
    }
    stream = client(routed, config).chat.completions.create(
        model="m", messages=MESSAGES, stream=True
    )
    assert text_of(stream).strip() == "b: hello"
    assert a.calls == 1


def test_stream_retry_before_first_chunk(routed, upstream) -> None:
    up = upstream("reset", "ok", name="r")
    stream = client(routed, {"retry": {"attempts": 1}, **up.target()}).chat.completions.create(
        model="m", messages=MESSAGES, stream=True
    )
    assert text_of(stream).strip() == "r: hello"
    assert up.calls == 2


def test_failure_after_first_chunk_ends_with_error_event(routed, upstream, logs) -> None:
    a, b = upstream("break"), upstream("ok")
    config = {
        "strategy": {"mode": "fallback"},
        "retry": {"attempts": 2},
        "targets": [a.target(), b.target()],
    }
    stream = client(routed, config).chat.completions.create(
        model="m", messages=MESSAGES, stream=True
    )
    got = []
    with pytest.raises(openai.APIError) as info:
        for c in stream:
            got.append(c)
    assert got, "the first chunks reached the client"
    assert "broke" in str(info.value)
    assert (a.calls, b.calls) == (1, 0)  # no retry, no fallback once bytes went out
    (line,) = access_lines(logs)
    assert line["status"] == 502
