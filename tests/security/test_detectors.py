"""The built-in detectors (secrets, PII) on the attacker's text: linear, in one pass or a
stream.

Before: the private-key pattern scanned 20,000 characters after every BEGIN line (1 MB of
BEGIN lines: 9 s), and stream redaction rescanned the whole held tail on every chunk while a
key block stayed open (5,000 chunks: /health waited 2.9 s).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.guardrails.upstreams import SplitStreamUpstream
from tests.security.conftest import chat, client_headers
from tests.servers import ServerThread

GUARDED = {
    "middleware": [
        {"class": "middleware.guardrails:GuardrailsMiddleware"},
        {"class": "middleware.router:RouterMiddleware"},
    ]
}
BEGIN = "-----BEGIN PRIVATE KEY-----"


@pytest.fixture
def split() -> Iterator[ServerThread]:
    with ServerThread(SplitStreamUpstream().app) as server:
        yield server


def secrets(redact: bool) -> dict[str, Any]:
    return {"checks": [{"id": "default.secrets", "parameters": {"redact": redact}}]}


def test_a_megabyte_of_begin_lines(gateway_process, upstream) -> None:
    gw = gateway_process(GUARDED)
    _, server = upstream
    text = (BEGIN + "\n") * 35_000  # 980,000 characters: under the default max_text_chars
    headers = client_headers(server, {"input_guardrails": [secrets(False)]})
    slowest, (status, body, seconds) = gw.health_while(
        lambda: gw.post(chat(text), headers), settle=0
    )
    check = body["hook_results"]["before_request_hooks"][0]["checks"][0]
    assert status == 246 and check["data"]["found"] == {"private_key": 35_000}
    assert seconds < 1.5 and slowest < 1.0


def test_stream_redaction_of_a_key_block_in_tiny_chunks(gateway_process, split) -> None:
    gw = gateway_process(GUARDED)
    body = "QUJD" * 5000  # 20,000 characters of base64, one chunk each 4
    text = "key: " + BEGIN + "|" + "|".join(body[i : i + 4] for i in range(0, len(body), 4))
    text += "|-----END PRIVATE KEY----- done"
    headers = client_headers(split, {"output_guardrails": [secrets(True)]})
    request = {**chat(text), "stream": True}

    def read() -> tuple[float, str]:
        t0 = time.monotonic()
        out = []
        with gw.http.stream(
            "POST", gw.url + "/v1/chat/completions", json=request, headers=headers
        ) as r:
            for line in r.iter_lines():
                if line.startswith("data: {"):
                    event = json.loads(line[6:])
                    if event.get("choices"):
                        out.append(event["choices"][0]["delta"].get("content") or "")
        return time.monotonic() - t0, "".join(out)

    slowest, (seconds, answer) = gw.health_while(read, settle=0)
    assert answer == "key: [REDACTED_PRIVATE_KEY] done"
    assert seconds < 1.0 and slowest < 1.0


def test_contains_work_is_words_times_text_capped(gateway_process, upstream) -> None:
    gw = gateway_process(GUARDED)
    _, server = upstream
    words = [f"w{i}z" for i in range(700)]  # as many as an 8 KB header holds
    check = {"id": "default.contains", "parameters": {"words": words, "operator": "none"}}
    headers = client_headers(server, {"input_guardrails": [{"checks": [check]}]})
    status, body, seconds = gw.post(chat("abc " * 20_000), headers)  # 80,000 characters
    result = body["hook_results"]["before_request_hooks"][0]["checks"][0]
    assert status == 246 and result["verdict"] is False and result["error"] is not None
    assert result["data"]["explanation"].startswith("not checked: 700 words are too many")
    assert seconds < 1.0
    status, body, _ = gw.post(chat("abc " * 15_000), headers)  # 60,000: within the budget
    assert status == 200
