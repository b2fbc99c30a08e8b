"""Claude on Vertex AI, as the mock Anthropic server serves it (Vertex's documented paths).

``POST /v1/projects/{p}/locations/{l}/publishers/anthropic/models/{model}:rawPredict`` (and
``:streamRawPredict``, SSE) take the Messages body with ``anthropic_version:
vertex-2023-10-16`` in it and no ``model`` (the URL names it), and a Google OAuth bearer
token; ``count-tokens:rawPredict`` takes the model in the body. Platform errors (no token,
unknown publisher path) come in Google's error shape, as Vertex sends them.
``test_mock_sdk.py`` proves the paths with the anthropic SDK's ``AnthropicVertex`` client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from tests.providers.anthropic.mock import count, error_response

if TYPE_CHECKING:
    from tests.providers.anthropic.mock import MockAnthropic

VERTEX_PATH = (
    "/{version}/projects/{project}/locations/{location}/publishers/anthropic/models/{call}"
)
# Vertex's documented version, and the API date version that the anthropic SDK 2.x's
# AnthropicVertex client puts in the body
VERSIONS = ("vertex-2023-10-16", "2026-10-21")


def google_error(status: int, message: str, code: str) -> web.Response:
    return web.json_response(
        {"error": {"code": status, "message": message, "status": code}}, status=status
    )


async def vertex(mock: MockAnthropic, request: web.Request) -> web.StreamResponse:
    if request.match_info["version"] not in ("v1", "v1beta1"):
        return google_error(404, "unknown API version", "NOT_FOUND")
    if not request.headers.get("authorization", "").startswith("Bearer "):
        return google_error(401, "Request is missing required authentication.", "UNAUTHENTICATED")
    model, _, method = request.match_info["call"].partition(":")
    body = mock.record(request, await request.read())
    if model == "count-tokens" and method == "rawPredict":
        if "model" not in body or "messages" not in body:
            return error_response(400, "model: Field required")
        return web.json_response({"input_tokens": count(body)})
    if method not in ("rawPredict", "streamRawPredict"):
        return google_error(404, f"method {method} not found", "NOT_FOUND")
    if body.get("anthropic_version") not in VERSIONS:
        return error_response(400, f"anthropic_version: must be one of {VERSIONS}")
    if "model" in body:
        return error_response(400, "model: Extra inputs are not permitted")
    if (method == "streamRawPredict") != bool(body.get("stream")):
        return error_response(400, "stream must match the method")
    for field in ("messages", "max_tokens"):
        if field not in body:
            return error_response(400, f"{field}: Field required")
    return await mock.answer(request, body, model)
