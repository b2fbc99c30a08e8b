"""A mock OpenAI upstream that holds every request to OpenAI's own request schemas.

A request that does not validate is answered with a 400 in OpenAI's error shape and kept
in ``invalid`` (a gateway that mutated a body is caught here, not just by comparing it).
The answer to the next request is set by the test (``answer``): a status and a JSON body,
or a list of stream events sent as SSE and closed with ``data: [DONE]``.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from tests.spec.openapi import OPERATIONS, errors


class SpecUpstream:
    def __init__(self) -> None:
        self.received: list[Any] = []
        self.invalid: list[tuple[str, list[str]]] = []
        self.answer: tuple[int, Any] = (200, {})

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        for op in OPERATIONS.values():
            app.router.add_route(op["method"], "/v1" + op["path"], self._handler(op))
        return app

    def _handler(self, op: dict[str, Any]) -> Any:
        async def handle(request: web.Request) -> web.StreamResponse:
            body = None
            if "request" in op:
                body = json.loads(await request.read())
                problems = errors(op["request"], body)
                if problems:
                    self.invalid.append((op["path"], problems))
                    err = {"message": "; ".join(problems)[:500], "type": "invalid_request_error"}
                    return web.json_response(
                        {"error": {**err, "param": None, "code": None}}, status=400
                    )
            self.received.append(body)
            status, payload = self.answer
            if not isinstance(payload, list):
                return web.json_response(payload, status=status)
            resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await resp.prepare(request)
            for event in payload:
                await resp.write(b"data: " + json.dumps(event).encode() + b"\n\n")
            await resp.write(b"data: [DONE]\n\n")
            return resp

        return handle
