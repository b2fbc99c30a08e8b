"""The issue's "done means": fallback across three provider families keeps answering while
two upstreams fail (an OpenAI 503 and Anthropic's native 529 overloaded error), for plain
and streamed requests, and the headers and logs show every attempt."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.providers.anthropic.mock import MockAnthropic
from tests.routing.conftest import MESSAGES, access_lines, ask, client
from tests.servers import ServerThread


@pytest.fixture
def anthropic_up() -> Iterator[tuple[MockAnthropic, ServerThread]]:
    mock = MockAnthropic()
    with ServerThread(mock.app) as server:
        yield mock, server


def test_fallback_across_three_providers(routed, upstream, anthropic_up, logs) -> None:
    openai_down = upstream(503)
    claude, claude_server = anthropic_up
    groq_up = upstream("ok", name="groq")
    config = {
        "strategy": {"mode": "fallback"},
        "targets": [
            openai_down.target("openai"),
            {
                "provider": "anthropic",
                "custom_host": claude_server.url + "/v1",
                "override_params": {"model": "error-529", "max_tokens": 64},
            },
            groq_up.target("groq"),
        ],
    }
    c = client(routed, config)
    raw = ask(c, model="llama-3.1-8b")
    assert raw.parse().choices[0].message.content == "groq: hello"
    assert raw.headers["x-portkey-provider"] == "groq"
    assert raw.headers["x-portkey-last-used-option-index"] == "config.targets[2]"
    stream = c.chat.completions.create(model="llama-3.1-8b", messages=MESSAGES, stream=True)
    text = "".join(ch.choices[0].delta.content or "" for ch in stream if ch.choices)
    assert text.strip() == "groq: hello"

    assert (openai_down.calls, len(claude.requests), groq_up.calls) == (2, 2, 2)
    assert claude.requests[0]["json"]["model"] == "error-529"  # its own override ...
    for sent in groq_up.mock.requests:  # ... never leaks into the next target's body
        assert sent["json"]["model"] == "llama-3.1-8b"
        assert "max_tokens" not in sent["json"]
    every = ["config.targets[0]", "config.targets[1]", "config.targets[2]"]
    lines = access_lines(logs)
    assert [(x["status"], x["attempts"], x["targets"], x["stream"]) for x in lines] == [
        (200, 3, every, False),
        (200, 3, every, True),
    ]
    failed = [x for x in logs() if x.get("event") == "upstream attempt failed"]
    assert [(x["provider"], x["status"]) for x in failed] == [
        ("openai", 503),
        ("anthropic", 529),
    ] * 2
