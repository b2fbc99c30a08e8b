"""A programmable OpenAI-format upstream for the routing tests.

Each request takes the next step of its script (the last step repeats once the script runs
out). Answers use the OpenAI Chat Completions wire format of tests/mock_openai.py
(``chat.completion`` JSON, ``chat.completion.chunk`` SSE ending in ``data: [DONE]``, errors
as ``{"error": {...}}``); test_upstream_mock.py checks it with the official openai SDK.

Steps:
``"ok"``                      a completion (or a stream, if asked for one)
``503`` (an int)              an OpenAI error body with that status
``("status", 429, {h: v})``   the same, with extra response headers (Retry-After, ...)
``"reset"``                   the connection is cut before any answer
``"hang"``                    no answer at all
``("slow", seconds)``         headers at once, then the body after ``seconds``
``("stall", seconds)``        a stream whose first chunk comes after ``seconds``
``"break"``                   a stream cut off after its first chunk
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from aiohttp import web

from tests.mock_openai import chunk, completion, last_user_text, sse

Step = Any


class ScriptedUpstream:
    def __init__(self, name: str, script: list[Step] | None = None) -> None:
        self.name = name
        self.script: list[Step] = list(script or ["ok"])
        self.requests: list[dict[str, Any]] = []
        self.times: list[float] = []

    @property
    def calls(self) -> int:
        return len(self.requests)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.chat)
        return app

    def next_step(self) -> Step:
        return self.script.pop(0) if len(self.script) > 1 else self.script[0]

    async def chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append({"headers": dict(request.headers), "json": body})
        self.times.append(time.monotonic())
        step = self.next_step()
        model = str(body.get("model", ""))
        text = f"{self.name}: {last_user_text(body)}"
        if isinstance(step, int):
            step = ("status", step, {})
        if isinstance(step, tuple) and step[0] == "status":
            return error(step[1], step[2])
        if step == "reset":
            assert request.transport is not None
            request.transport.abort()
            await asyncio.sleep(0.05)
            return web.Response(status=500)
        if step == "hang":
            await asyncio.sleep(3600)
        if body.get("stream"):
            return await self.stream(request, model, text, step)
        if isinstance(step, tuple) and step[0] == "slow":
            resp = web.StreamResponse(headers={"Content-Type": "application/json"})
            await resp.prepare(request)
            await asyncio.sleep(step[1])
            await resp.write(json.dumps(completion(body, text, model)).encode())
            return resp
        return web.json_response(completion(body, text, model))

    async def stream(
        self, request: web.Request, model: str, text: str, step: Step
    ) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        if isinstance(step, tuple) and step[0] == "stall":
            await asyncio.sleep(step[1])
        await resp.write(sse(chunk(model, {"role": "assistant", "content": ""})))
        if step == "break":
            await resp.write(sse(chunk(model, {"content": text[:3]})))
            await asyncio.sleep(0.05)
            assert request.transport is not None
            request.transport.abort()
            return resp
        for word in text.split(" "):
            await resp.write(sse(chunk(model, {"content": word + " "})))
        await resp.write(sse(chunk(model, {}, finish="stop")))
        await resp.write(b"data: [DONE]\n\n")
        return resp


def error(status: int, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(
        {
            "error": {
                "message": f"scripted failure {status}",
                "type": "server_error" if status >= 500 else "invalid_request_error",
                "param": None,
                "code": f"scripted_{status}",
            }
        },
        status=status,
        headers=headers or {},
    )
