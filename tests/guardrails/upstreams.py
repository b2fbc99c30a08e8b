"""Test servers for guardrails: an OpenAI-format upstream that splits its stream where the
prompt says, and a webhook / log / JWKS server that records what it gets."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from tests.mock_openai import CREATED, chunk, completion, last_user_text, sse


class SplitStreamUpstream:
    """Answers with the last user message, "|" marking where stream chunks break.

    The wire format is the mock_openai one (chat.completion / chat.completion.chunk SSE);
    ``test_guardrail_units.py`` reads it with the openai SDK directly.
    """

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    @property
    def calls(self) -> int:
        return len(self.requests)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.chat)
        return app

    async def chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        pieces = last_user_text(body).split("|")
        model = str(body.get("model", ""))
        if not body.get("stream"):
            return web.json_response(completion(body, "".join(pieces), model))
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(sse(chunk(model, {"role": "assistant", "content": ""})))
        for p in pieces:
            await resp.write(sse(chunk(model, {"content": p})))
        await resp.write(sse(chunk(model, {}, finish="stop")))
        if (body.get("stream_options") or {}).get("include_usage"):
            u = chunk(model, None)
            u["usage"] = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
            await resp.write(sse(u))
        await resp.write(b"data: [DONE]\n\n")
        return resp


class HookServer:
    """Webhook verdicts by path, a log sink, and a JWKS endpoint."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, Any], dict[str, str]]] = []
        self.jwks: dict[str, Any] = {"keys": []}
        self.jwks_hits = 0
        self.slow_seconds = 2.0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/hook/{mode}", self.hook)
        app.router.add_post("/log", self.log)
        app.router.add_get("/jwks", self.jwks_handler)
        return app

    def bodies(self, path: str) -> list[dict[str, Any]]:
        return [b for p, b, _ in self.received if p == path]

    async def hook(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        mode = request.match_info["mode"]
        self.received.append((request.path, body, dict(request.headers)))
        if mode == "pass":
            return web.json_response({"verdict": True, "data": {"reason": "fine"}})
        if mode == "fail":
            return web.json_response({"verdict": False, "data": {"reason": "not fine"}})
        if mode == "slow":
            await asyncio.sleep(self.slow_seconds)
            return web.json_response({"verdict": True})
        if mode == "error":
            return web.json_response({"error": "boom"}, status=500)
        if mode == "garbage":
            return web.Response(text="<html>nope</html>")
        if mode == "noverdict":
            return web.json_response({"data": 1})
        if mode == "transform":
            msgs = body["request"]["json"]["messages"]
            new = [{**m, "content": "[scrubbed by webhook]"} for m in msgs]
            return web.json_response(
                {"verdict": True, "transformedData": {"request": {"json": {"messages": new}}}}
            )
        if mode == "transform-out":
            resp = body["response"]["json"]
            resp["choices"][0]["message"]["content"] = "[answer replaced]"
            return web.json_response(
                {"verdict": True, "transformedData": {"response": {"json": resp}}}
            )
        return web.json_response({"verdict": False}, status=404)

    async def log(self, request: web.Request) -> web.Response:
        self.received.append((request.path, await request.json(), dict(request.headers)))
        return web.Response(status=204)

    async def jwks_handler(self, request: web.Request) -> web.Response:
        self.jwks_hits += 1
        return web.Response(text=json.dumps(self.jwks), content_type="application/json")


__all__ = ["CREATED", "HookServer", "SplitStreamUpstream"]
