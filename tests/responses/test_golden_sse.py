"""Golden streams: the exact Responses event sequence the gateway writes for a translated
(Claude) stream, every event and field, compared with the files in ``golden/``.

Ids and timestamps are random or the clock's; they are replaced by placeholders, after
checking that each placeholder stands for one consistent value (one response id, the same
item id on every event of an item). Regenerating a golden file is a deliberate act: read
the diff against OpenAI's streaming reference before accepting it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import PROVIDER_KEY
from tests.responses import strict
from tests.responses.conftest import WEATHER

GOLDEN = Path(__file__).parent / "golden"
CASES: dict[str, dict[str, Any]] = {
    # text: created, in_progress, message item, one part, three deltas, done events, completed
    "anthropic_text": {"model": "claude-x", "input": "hello there", "stream": True},
    # a text then two parallel tool calls: one message item and two function_call items
    "anthropic_text_and_tools": {
        "model": "claude-x-parallel",
        "input": "weather?",
        "tools": [WEATHER],
        "instructions": "use the tool",
        "stream": True,
    },
    # the length finish: response.incomplete with its reason, the item incomplete too
    "anthropic_incomplete": {"model": "max-tokens", "input": "long", "stream": True},
}
IDS = [
    (re.compile(r"resp_gw[0-9a-f]{32}"), "<response_id>"),
    (re.compile(r"msg_[0-9a-f]{24}"), "<message_id>"),
    (re.compile(r"fc_[0-9a-f]{24}"), "<call_item_id>"),
]


def normalize(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    text = json.dumps(events)
    for pattern, name in IDS:
        found = sorted(set(pattern.findall(text)), key=text.index)
        for n, value in enumerate(found):
            text = text.replace(value, f"{name[:-1]}_{n}>")
    text = re.sub(r'"created_at": \d+', '"created_at": "<created_at>"', text)
    return json.loads(text)  # type: ignore[no-any-return]


@pytest.mark.parametrize("case", sorted(CASES))
def test_stream_matches_golden_file(via, case: str) -> None:
    client, _, gw = via("anthropic")
    headers = {
        "authorization": f"Bearer {PROVIDER_KEY}",
        "x-portkey-provider": "anthropic",
        "x-portkey-custom-host": str(client.default_headers["x-portkey-custom-host"]),
    }
    r = httpx.post(gw.url + "/v1/responses", json=CASES[case], headers=headers, timeout=10)
    assert r.headers["content-type"].startswith("text/event-stream")
    got = normalize(strict.stream(r.content))  # names, numbering and SDK models checked
    want = json.loads((GOLDEN / f"{case}.json").read_text())
    assert [e["type"] for e in got] == [e["type"] for e in want]
    for g, w in zip(got, want, strict=True):
        assert g == w, f"event {w['sequence_number']} ({w['type']}) differs"


def test_lifecycle_response_is_the_same_response(via) -> None:
    """The SDK's stream helper refuses a stream whose lifecycle events change identity."""
    client, _, _ = via("anthropic")
    with client.responses.stream(
        **{k: v for k, v in CASES["anthropic_text_and_tools"].items() if k != "stream"}
    ) as s:
        ids = {e.response.id for e in s if hasattr(e, "response")}
        final = s.get_final_response()
    assert ids == {final.id}
    assert [i.type for i in final.output] == ["message", "function_call", "function_call"]
