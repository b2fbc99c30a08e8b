"""Claude through InvokeModel on the mock Bedrock runtime, as Bedrock documents it.

``POST /model/{id}/invoke`` with an ``anthropic.claude`` model id takes Anthropic's Messages
body with ``anthropic_version: bedrock-2023-05-31``, no ``model`` and no ``stream`` (the
operation says both), betas as an ``anthropic_beta`` list; it answers a Message.
``/invoke-with-response-stream`` answers eventstream ``chunk`` frames whose payload is
``{"bytes": base64(<Messages event JSON>)}``, the ``message_stop`` event carrying
``amazon-bedrock-invocationMetrics``. The answers are the mock Anthropic server's (same
rules, same checks of thinking and cache_control, same failure model names).
``test_mock_sdk.py`` proves it with boto3.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from aiohttp import web

from tests.providers.anthropic.mock import (
    cache_error,
    cache_usage,
    reply,
    stream_events,
    thinking_error,
)
from tests.providers.bedrock import frames

# Bedrock's documented version, and the API date version the anthropic SDK 2.x sends
VERSIONS = ("bedrock-2023-05-31", "2026-10-21")
ALLOWED = {
    "anthropic_version",
    "anthropic_beta",
    "messages",
    "max_tokens",
    "system",
    "stop_sequences",
    "temperature",
    "top_p",
    "top_k",
    "tools",
    "tool_choice",
    "thinking",
    "metadata",
    "output_config",
    "context_management",
}


def _invalid(message: str) -> web.Response:
    from tests.providers.bedrock.mock import error_response

    return error_response(400, message)


def chunk(event: dict[str, Any]) -> bytes:
    data = base64.b64encode(json.dumps(event).encode()).decode()
    return frames.event("chunk", {"bytes": data, "p": "abcd"})


async def invoke_claude(
    request: web.Request, model: str, body: Any, stream: bool, cache: set[str]
) -> web.StreamResponse:
    if not isinstance(body, dict):
        return _invalid("Malformed input request, please reformat your input")
    if body.get("anthropic_version") not in VERSIONS:
        return _invalid(f"anthropic_version: must be one of {VERSIONS}")
    extra = set(body) - ALLOWED
    if extra:
        return _invalid(f"Malformed input request: extraneous key [{sorted(extra)[0]}]")
    for field in ("messages", "max_tokens"):
        if field not in body:
            return _invalid(f"Malformed input request: required key [{field}] not found")
    problem = thinking_error(body) or cache_error(body)
    if problem:
        return _invalid(problem)
    msg = reply({**body, "model": model})
    msg["usage"].update(cache_usage(cache, body))
    if not stream:
        return web.json_response(msg)
    resp = web.StreamResponse(headers={"Content-Type": "application/vnd.amazon.eventstream"})
    await resp.prepare(request)
    for _, event in stream_events(msg):
        if event["type"] == "ping":
            continue  # Bedrock does not relay Anthropic's pings
        if event["type"] == "message_stop":
            event = {
                **event,
                "amazon-bedrock-invocationMetrics": {
                    "inputTokenCount": msg["usage"]["input_tokens"],
                    "outputTokenCount": msg["usage"]["output_tokens"],
                    "invocationLatency": 12,
                    "firstByteLatency": 5,
                },
            }
        await resp.write(chunk(event))
    await resp.write_eof()
    return resp
