"""A mock Anthropic upstream speaking the Messages API wire format.

``POST /v1/messages`` answers a ``message`` object, or with ``"stream": true`` the SSE
event sequence of Anthropic's streaming reference (``message_start``, ``ping``,
``content_block_start/delta/stop``, ``message_delta``, ``message_stop``). Errors use the
documented body ``{"type": "error", "error": {"type", "message"}, "request_id"}``. Both API
versions are accepted (``2023-06-01``, which the gateway pins, and ``2026-10-21``, which
SDK 2.x sends and which rejects temperature/top_p/top_k with a 400).
``test_mock_sdk.py`` proves the format with the official ``anthropic`` SDK.

What it answers (the reply depends on the request, like the real model's would):

- ``thinking`` enabled or adaptive -> a ``thinking`` block first, signed over its text
  (``signature(text)``; model names containing ``redacted`` add a ``redacted_thinking``
  block); the request is checked as the API checks it (``thinking_error``): a budget of
  1024 or more below max_tokens, no temperature but 1, no top_k, no forced tool, every
  thinking block's signature valid, and a last assistant turn that used tools starting
  with its thinking
- ``cache_control`` breakpoints (at most 4) -> the prefix up to the last one (tools, system,
  messages, in that order) is written to the mock's cache on first sight
  (``cache_creation_input_tokens``) and read afterwards (``cache_read_input_tokens``)
- ``output_config.format`` -> JSON text built from the schema (constrained decoding)
- the last user text reads ``call <tool> <json input>`` and that tool is offered -> a
  ``tool_use`` of it with that input (agent loops, Claude Code)
- the last user turn holds ``tool_result`` blocks and no tool use is forced -> text
  quoting the results
- tools offered and ``tool_choice`` is not ``none`` -> a ``tool_use`` of the named tool
  (or the first); model names containing ``parallel`` get two calls after a short text
- otherwise -> ``echo: <last user text>`` plus ``[N image(s)]`` when images were sent

Model names pick failures: ``error-<status>`` (native error body; 429 with retry-after;
529 overloaded_error), ``garbage`` (HTML 500), ``midstream-error`` (an ``error`` event
after two deltas), ``truncated`` (stream ends before ``message_stop``); and answers:
``refusal`` / ``max-tokens`` (those stop reasons), ``cached`` (cache usage counts).

``POST /v1/messages/count_tokens`` answers ``{"input_tokens": N}``; ``mock_vertex.py`` serves
the same answers on Vertex AI's rawPredict paths. Each request is recorded with its path,
query, headers, raw body and JSON.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from aiohttp import web

from tests.mock_openai import directive_line

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
CITIES = ["Paris", "Tokyo", "Lima"]
VERSIONS = ("2023-06-01", "2026-10-21")


def error_response(
    status: int, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    body = {
        "type": "error",
        "error": {"type": ERROR_TYPES.get(status, "api_error"), "message": message},
        "request_id": "req_mock_0001",
    }
    return web.json_response(body, status=status, headers=headers)


MODELS = [
    ("claude-opus-4-1-20250805", "Claude Opus 4.1", "2025-08-05T00:00:00Z"),
    ("claude-sonnet-4-5-20250929", "Claude Sonnet 4.5", "2025-09-29T00:00:00Z"),
]


class MockAnthropic:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.cache: set[str] = set()  # prompt prefixes written by cache_control

    @property
    def last(self) -> dict[str, Any]:
        return self.requests[-1]["json"]  # type: ignore[no-any-return]

    def app(self) -> web.Application:
        from tests.providers.anthropic.mock_vertex import VERTEX_PATH

        app = web.Application(client_max_size=64 * 1024 * 1024)  # Claude Code sends MBs
        app.router.add_post("/v1/messages", self.messages)
        app.router.add_post("/v1/messages/count_tokens", self.count_tokens)
        app.router.add_get("/v1/models", self.models)
        app.router.add_post(VERTEX_PATH, self.vertex)
        return app

    def record(self, request: web.Request, raw: bytes) -> dict[str, Any]:
        body = json.loads(raw)
        self.requests.append(
            {
                "path": request.path,
                "query": dict(request.query),
                "headers": dict(request.headers),
                "raw": raw,
                "json": body,
            }
        )
        return body  # type: ignore[no-any-return]

    async def count_tokens(self, request: web.Request) -> web.Response:
        body = self.record(request, await request.read())
        if not request.headers.get("x-api-key") and "authorization" not in request.headers:
            return error_response(401, "x-api-key header is required")
        if "messages" not in body or "model" not in body:
            return error_response(400, "messages: Field required")
        return web.json_response({"input_tokens": count(body)})

    async def vertex(self, request: web.Request) -> web.StreamResponse:
        from tests.providers.anthropic.mock_vertex import vertex

        return await vertex(self, request)

    async def models(self, request: web.Request) -> web.Response:
        """``GET /v1/models`` as the Models API reference documents it."""
        auth = request.headers.get("authorization", "")
        if not request.headers.get("x-api-key") and not auth.startswith("Bearer "):
            return error_response(401, "x-api-key header is required")
        if request.headers.get("anthropic-version") not in VERSIONS:
            return error_response(400, "anthropic-version header is required")
        self.requests.append({"path": request.path, "headers": dict(request.headers), "json": {}})
        data = [
            {"type": "model", "id": mid, "display_name": name, "created_at": created}
            for mid, name, created in MODELS
        ]
        return web.json_response(
            {"data": data, "has_more": False, "first_id": data[0]["id"], "last_id": data[-1]["id"]}
        )

    async def messages(self, request: web.Request) -> web.StreamResponse:
        body = self.record(request, await request.read())
        # the API takes the key as x-api-key or (what SDK 2.x sends) Authorization: Bearer
        auth = request.headers.get("authorization", "")
        if not request.headers.get("x-api-key") and not auth.startswith("Bearer "):
            return error_response(401, "x-api-key header is required")
        version = request.headers.get("anthropic-version")
        if version not in VERSIONS:
            return error_response(400, "anthropic-version header is required")
        if version == "2026-10-21":  # that version removed the sampling parameters
            for field in ("temperature", "top_p", "top_k"):
                if field in body:
                    return error_response(400, f"{field}: Extra inputs are not permitted")
        for field in ("model", "messages", "max_tokens"):
            if field not in body:
                return error_response(400, f"{field}: Field required")
        return await self.answer(request, body, str(body["model"]))

    async def answer(
        self, request: web.Request, body: dict[str, Any], model: str
    ) -> web.StreamResponse:
        """The answer to a checked request (Anthropic's API, or Vertex AI's paths)."""
        if model.startswith("error-"):
            status = int(model.split("-", 1)[1])
            headers = {"retry-after": "7", "anthropic-ratelimit-requests-remaining": "0"}
            return error_response(
                status, f"mock failure {status}", headers if status == 429 else None
            )
        if model == "garbage":
            return web.Response(text="<html>bad gateway</html>", status=500)
        problem = thinking_error(body) or cache_error(body)
        if problem:
            return error_response(400, problem)
        msg = reply({**body, "model": model})
        msg["usage"].update(cache_usage(self.cache, body))
        if body.get("stream"):
            return await self.stream(request, msg, model)
        return web.json_response(msg, headers={"request-id": "req_mock_0002"})

    async def stream(
        self, request: web.Request, msg: dict[str, Any], model: str
    ) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8"})
        await resp.prepare(request)
        for i, (name, data) in enumerate(stream_events(msg)):
            if model == "midstream-error" and i == 5:
                err = {
                    "type": "error",
                    "error": {"type": "overloaded_error", "message": "Overloaded"},
                }
                await resp.write(sse("error", err))
                return resp
            if model == "truncated" and name == "message_delta":
                return resp
            await resp.write(sse(name, data))
        return resp


def sse(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()


# ---------------------------------------------------------------- the answer


def reply(body: dict[str, Any]) -> dict[str, Any]:
    model = str(body["model"])
    messages = body["messages"]
    last = messages[-1]
    blocks = last["content"] if isinstance(last["content"], list) else []
    results = [b for b in blocks if b.get("type") == "tool_result"]
    tools = body.get("tools") or []
    choice = body.get("tool_choice") or {"type": "auto"}
    content: list[dict[str, Any]]
    stop = "end_turn"
    forced = bool(tools) and choice["type"] in ("any", "tool")
    directive = call_directive(user_lines(messages), tools) if not results else None
    if directive is not None:
        content = [{"type": "tool_use", "id": "toolu_mock_call", **directive}]
        stop = "tool_use"
    elif (body.get("output_config") or {}).get("format"):  # constrained decoding wins
        content = [text_block(json.dumps(sample(body["output_config"]["format"]["schema"], 0)))]
    elif results and not forced:
        content = [text_block("results: " + "; ".join(result_text(r) for r in results))]
    elif tools and choice["type"] != "none":
        tool = next((t for t in tools if t["name"] == choice.get("name")), tools[0])
        calls = 2 if "parallel" in model else 1
        content = [text_block("Let me check.")] if calls > 1 else []
        for i in range(calls):
            content.append(
                {
                    "type": "tool_use",
                    "id": f"toolu_mock_{i + 1:02d}",
                    "name": tool["name"],
                    "input": sample(tool["input_schema"], i),
                }
            )
        stop = "tool_use"
    else:
        images = sum(1 for b in user_blocks(last) if b.get("type") == "image")
        text = "echo: " + last_user_text(messages)
        content = [text_block(text + (f" [{images} image(s)]" if images else ""))]
    thinking = (body.get("thinking") or {}).get("type")
    if thinking in ("enabled", "adaptive"):
        thought = "Considering: " + last_user_text(messages)
        content.insert(
            0, {"type": "thinking", "thinking": thought, "signature": signature(thought)}
        )
        if "redacted" in model:
            content.insert(1, {"type": "redacted_thinking", "data": redacted(thought)})
    if model == "refusal":
        stop = "refusal"
    elif model == "max-tokens":
        stop = "max_tokens"
    cached = model == "cached"
    out_tokens = sum(len(json.dumps(b).split()) for b in content)
    return {
        "id": "msg_mock_01",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {
            "input_tokens": len(json.dumps(messages).split()),
            "cache_creation_input_tokens": 20 if cached else 0,
            "cache_read_input_tokens": 100 if cached else 0,
            "output_tokens": out_tokens,
        },
    }


def signature(thought: str) -> str:
    """What the mock signs a thinking text with (the API's signature covers the text)."""
    return base64.b64encode(hashlib.sha256(b"sig:" + thought.encode()).digest() * 3).decode()


def redacted(thought: str) -> str:
    return base64.b64encode(hashlib.sha256(b"red:" + thought.encode()).digest()).decode()


def thinking_error(body: dict[str, Any]) -> str | None:
    """What the Messages API refuses about thinking, in its own words (None: fine)."""
    for m in body["messages"]:
        for b in m["content"] if isinstance(m["content"], list) else []:
            if b.get("type") == "thinking" and b.get("signature") != signature(b["thinking"]):
                return "messages: Invalid `signature` in `thinking` block"
            if b.get("type") == "redacted_thinking" and not str(b.get("data", "")).strip():
                return "messages: redacted_thinking.data: Field required"
    config = body.get("thinking") or {}
    if config.get("type") != "enabled":
        return None
    budget = config.get("budget_tokens", 0)
    if budget < 1024 or budget >= body["max_tokens"]:
        return "thinking.budget_tokens: must be >= 1024 and less than max_tokens"
    if body.get("temperature", 1) != 1 or "top_k" in body:
        return "temperature may only be set to 1 when thinking is enabled"
    if (body.get("tool_choice") or {}).get("type") in ("any", "tool"):
        return "Thinking may not be enabled when tool_choice forces tool use."
    last = next((m for m in reversed(body["messages"]) if m["role"] == "assistant"), None)
    blocks = last["content"] if last and isinstance(last["content"], list) else []
    if any(b.get("type") == "tool_use" for b in blocks) and blocks[0].get("type") not in (
        "thinking",
        "redacted_thinking",
    ):
        return (
            "messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, but found "
            f"`{blocks[0].get('type')}`. When `thinking` is enabled, a final `assistant` "
            "message must start with a thinking block"
        )
    return None


def _cacheable(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Every block in the order Anthropic caches them: tools, system, messages."""
    system = body.get("system") or []
    blocks = list(body.get("tools") or []) + (system if isinstance(system, list) else [])
    for m in body["messages"]:
        blocks += m["content"] if isinstance(m["content"], list) else []
    return blocks


def cache_error(body: dict[str, Any]) -> str | None:
    marks = [b["cache_control"] for b in _cacheable(body) if "cache_control" in b]
    if len(marks) > 4:
        return f"A maximum of 4 blocks with cache_control may be provided. Found {len(marks)}."
    for c in marks:
        if c.get("type") != "ephemeral" or c.get("ttl", "5m") not in ("5m", "1h"):
            return "cache_control: Input tag does not match the expected tags"
    return None


def cache_usage(cache: set[str], body: dict[str, Any]) -> dict[str, int]:
    """The prefix up to the last breakpoint is written once, then read."""
    blocks = _cacheable(body)
    last = max((i for i, b in enumerate(blocks) if "cache_control" in b), default=-1)
    if last < 0:
        return {}
    prefix = json.dumps(blocks[: last + 1], sort_keys=True)
    tokens = len(prefix.split())
    if prefix in cache:
        return {"cache_read_input_tokens": tokens}
    cache.add(prefix)
    return {"cache_creation_input_tokens": tokens}


def text_block(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def user_blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    c = message["content"]
    return [text_block(c)] if isinstance(c, str) else list(c)


def last_user_text(messages: list[dict[str, Any]]) -> str:
    for m in reversed(messages):
        if m["role"] == "user":
            return " ".join(b["text"] for b in user_blocks(m) if b.get("type") == "text")
    return ""


def user_lines(messages: list[dict[str, Any]]) -> str:
    """The last user turn's text blocks, one per line (where a directive is looked for)."""
    for m in reversed(messages):
        if m["role"] == "user":
            return "\n".join(b["text"] for b in user_blocks(m) if b.get("type") == "text")
    return ""


def call_directive(text: str, tools: list[dict[str, Any]]) -> dict[str, Any] | None:
    """``call <tool> <json>`` names an offered tool and its input: that call, else None."""
    line = directive_line(text)
    if line is None:
        return None
    name, _, args = line[5:].strip().partition(" ")
    if not any(t.get("name") == name for t in tools):
        return None
    return {"name": name, "input": json.loads(args or "{}")}


def count(body: dict[str, Any]) -> int:
    parts = [body.get("system", ""), body["messages"], body.get("tools", [])]
    return sum(len(json.dumps(p).split()) for p in parts)


def result_text(block: dict[str, Any]) -> str:
    c = block.get("content", "")
    return c if isinstance(c, str) else " ".join(b.get("text", "") for b in c)


def sample(schema: dict[str, Any], i: int) -> Any:
    """A value that fits a JSON schema (enough of JSON Schema for the tests)."""
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type", "object")
    if kind == "object":
        props = schema.get("properties", {})
        return {k: (CITIES[i % 3] if k == "city" else sample(v, i)) for k, v in props.items()}
    if kind == "array":
        return [sample(schema.get("items", {}), i)]
    return {"string": "text", "integer": 21, "number": 21.5, "boolean": True}.get(kind)


# ---------------------------------------------------------------- the stream


def stream_events(msg: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    start = {
        **msg,
        "content": [],
        "stop_reason": None,
        "usage": {**msg["usage"], "output_tokens": 1},
    }
    events: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"type": "message_start", "message": start}),
        ("ping", {"type": "ping"}),
    ]
    for index, block in enumerate(msg["content"]):
        if block["type"] == "text":
            first = {"type": "text", "text": ""}
            words = block["text"].split(" ")
            pieces = [w + " " for w in words[:-1]] + [words[-1]]
            deltas = [{"type": "text_delta", "text": p} for p in pieces]
        elif block["type"] == "redacted_thinking":
            first, deltas = block, []
        elif block["type"] == "thinking":
            first = {"type": "thinking", "thinking": "", "signature": ""}
            half = len(block["thinking"]) // 2
            deltas = [
                {"type": "thinking_delta", "thinking": block["thinking"][:half]},
                {"type": "thinking_delta", "thinking": block["thinking"][half:]},
                {"type": "signature_delta", "signature": block["signature"]},
            ]
        else:
            first = {**block, "input": {}}
            args = json.dumps(block["input"])
            cut = len(args) // 2
            deltas = [
                {"type": "input_json_delta", "partial_json": p}
                for p in ("", args[:cut], args[cut:])
            ]
        events.append(
            (
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": first},
            )
        )
        for d in deltas:
            events.append(
                ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d})
            )
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    usage = {
        "output_tokens": msg["usage"]["output_tokens"],
        "input_tokens": msg["usage"]["input_tokens"],
        "cache_creation_input_tokens": msg["usage"]["cache_creation_input_tokens"],
        "cache_read_input_tokens": msg["usage"]["cache_read_input_tokens"],
    }
    events.append(
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": msg["stop_reason"], "stop_sequence": None},
                "usage": usage,
            },
        )
    )
    events.append(("message_stop", {"type": "message_stop"}))
    return events
