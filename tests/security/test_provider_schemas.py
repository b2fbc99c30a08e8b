"""A client's response_format schema, converted for Gemini: its refs inlined, within bounds.

Before: definitions that each use the next twice doubled the output with every level; a
1.9 KB schema (18 levels) took 3.2 s of the event loop and came out as 17 MB.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import PROVIDER_KEY
from tests.providers.google.mock import MockGemini
from tests.security.conftest import chat
from tests.servers import ServerThread


@pytest.fixture
def gemini() -> Iterator[tuple[MockGemini, ServerThread]]:
    mock = MockGemini()
    with ServerThread(mock.app) as server:
        yield mock, server


def doubling(levels: int) -> dict[str, Any]:
    defs: dict[str, Any] = {
        f"d{i}": {
            "type": "object",
            "properties": {"a": {"$ref": f"#/$defs/d{i + 1}"}, "b": {"$ref": f"#/$defs/d{i + 1}"}},
        }
        for i in range(levels)
    }
    defs[f"d{levels}"] = {"type": "string"}
    return {"$defs": defs, "$ref": "#/$defs/d0"}


def test_ref_expansion_is_bounded(gateway_process, gemini) -> None:
    gw = gateway_process({})
    mock, server = gemini
    headers = {
        "authorization": f"Bearer {PROVIDER_KEY}",
        "x-portkey-provider": "google",
        "x-portkey-custom-host": server.url,
    }
    body = {
        **chat("as json"),
        "model": "json",
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "tree", "schema": doubling(26)},
        },
    }
    slowest, (status, answer, seconds) = gw.health_while(
        lambda: [gw.post(body, headers) for _ in range(10)][-1], settle=0
    )
    assert status == 400, answer
    err = answer["error"]
    assert err["code"] == "unsupported_schema"
    assert err["param"] == "response_format.json_schema.schema"
    assert "once its $refs are inlined" in err["message"]
    assert seconds < 1.0 and slowest < 1.0
    params = {"type": "object", "properties": {"x": {"$ref": "#/$defs/d0"}}}
    params["$defs"] = doubling(26)["$defs"]
    tools = [{"type": "function", "function": {"name": "f", "parameters": params}}]
    status, answer, _ = gw.post({**chat("hi"), "model": "tools", "tools": tools}, headers)
    assert status == 400 and answer["error"]["param"] == "tools[0].function.parameters"
    # a schema that reuses its definitions within reason still converts
    ok = {**body, "response_format": {"type": "json_schema", "json_schema": {
        "name": "tree", "schema": doubling(4)}}}  # fmt: skip
    status, answer, _ = gw.post(ok, headers)
    assert status == 200, answer
    sent = mock.last["json"]["generationConfig"]["responseSchema"]
    assert sent["properties"]["a"]["properties"]["b"]["type"] == "OBJECT"
