"""Strict checks of Responses wire bytes against the openai SDK's own pydantic models.

The SDK builds its objects leniently (a missing required field is not an error there), so
a test that only reads attributes proves little. These helpers validate the raw JSON with
``model_validate``: a missing or mistyped field of the documented format fails the test.
"""

from __future__ import annotations

import json
import typing
from typing import Any

import httpx
from openai.types.responses import Response, ResponseItem, ResponseStreamEvent

_EVENTS: dict[str, Any] = {}
for _cls in typing.get_args(typing.get_args(ResponseStreamEvent)[0]):
    _EVENTS[typing.get_args(_cls.model_fields["type"].annotation)[0]] = _cls


def response(obj: dict[str, Any]) -> Response:
    return Response.model_validate(obj)


def event(obj: dict[str, Any]) -> Any:
    return _EVENTS[obj["type"]].model_validate(obj)


def item(obj: dict[str, Any]) -> Any:
    from pydantic import TypeAdapter

    return TypeAdapter(ResponseItem).validate_python(obj)


def parse_sse(raw: bytes) -> list[tuple[str | None, dict[str, Any]]]:
    """(event name, data) of every event of a stream, in order."""
    out: list[tuple[str | None, dict[str, Any]]] = []
    for block in raw.decode().replace("\r\n", "\n").split("\n\n"):
        name, data = None, []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        if data:
            out.append((name, json.loads("\n".join(data))))
    return out


def stream(raw: bytes) -> list[dict[str, Any]]:
    """Every event of a Responses stream, each validated; names match types, numbers count
    up from 0 with no gap."""
    events = parse_sse(raw)
    for i, (name, data) in enumerate(events):
        assert name == data["type"], f"event line {name!r} for a {data['type']!r} event"
        assert data["sequence_number"] == i, f"sequence_number {data['sequence_number']} at {i}"
        event(data)
    return [d for _, d in events]


def post(url: str, body: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
    return httpx.post(url + "/v1/responses", json=body, headers=headers, timeout=15)
