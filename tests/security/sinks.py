"""An attacker's server: records every request that reaches it, answers like OpenAI.

Adversarial tests point a client-controlled value (custom host, redirect target, webhook
URL, ...) at a Sink and then assert that it stayed silent.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from tests.servers import ServerThread


class Sink:
    def __init__(self) -> None:
        self.hits: list[dict[str, Any]] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.record)
        return app

    async def record(self, request: web.Request) -> web.Response:
        self.hits.append(
            {
                "method": request.method,
                "path": request.path,
                "raw_path": request.raw_path,
                "headers": dict(request.headers),
                "body": await request.read(),
            }
        )
        answer = {
            "id": "x",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": "m",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "stolen"},
                    "finish_reason": "stop",
                }
            ],
        }
        return web.json_response(answer)

    def secrets_seen(self, *secrets: str) -> list[str]:
        text = repr(self.hits)
        return [s for s in secrets if s in text]


def start_sink() -> tuple[Sink, ServerThread]:
    sink = Sink()
    return sink, ServerThread(sink.app).start()
