"""A mock OpenAI embeddings upstream (``POST /v1/embeddings``), with vectors the test controls.

Speaks the documented wire format: ``{"object": "list", "data": [{"object": "embedding",
"index", "embedding"}], "model", "usage"}``, with ``encoding_format: "base64"`` answered as
base64 of little-endian float32 (what the openai SDK asks for by default).
``test_embeddings_mock.py`` proves the format with the official SDK.

A text found in ``vectors`` gets that vector; any other text a deterministic pseudo-random
one derived from its hash. Model ``error-<status>`` answers an OpenAI error with that status.
Azure's deployment path is served too.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from typing import Any

from aiohttp import web

DIMS = 8


def hashed_vector(text: str, dims: int = DIMS) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [(b - 127.5) / 127.5 for b in digest[:dims]]


def _error(status: int, message: str, param: str | None = None) -> web.Response:
    body = {"error": {"message": message, "type": "invalid_request_error", "param": param}}
    body["error"]["code"] = None
    return web.json_response(body, status=status)


class MockEmbeddings:
    def __init__(self) -> None:
        self.vectors: dict[str, list[float]] = {}
        self.requests: list[dict[str, Any]] = []

    @property
    def calls(self) -> int:
        return len(self.requests)

    def texts(self) -> list[str]:
        """Every text embedded so far, in order."""
        out: list[str] = []
        for r in self.requests:
            inp = r["json"].get("input")
            out += [inp] if isinstance(inp, str) else [x for x in inp if isinstance(x, str)]
        return out

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/embeddings", self.embeddings)
        app.router.add_post("/openai/deployments/{deployment}/embeddings", self.embeddings)
        return app

    async def embeddings(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(
            {
                "path": request.path,
                "query": dict(request.query),
                "headers": dict(request.headers),
                "json": body,
            }
        )
        model = str(body.get("model", ""))
        if model.startswith("error-"):
            status = int(model.split("-", 1)[1])
            return _error(status, f"mock failure {status}")
        if not model and "deployment" not in request.match_info:
            return _error(400, "you must provide a model parameter", "model")
        inp = body.get("input")
        if isinstance(inp, str):
            inputs: list[Any] = [inp]
        elif isinstance(inp, list) and inp:
            inputs = inp
        else:
            return _error(400, "'input' is a required property", "input")
        fmt = body.get("encoding_format", "float")
        if fmt not in ("float", "base64"):
            return _error(400, f"invalid encoding_format {fmt!r}", "encoding_format")
        data = []
        tokens = 0
        for i, item in enumerate(inputs):
            text = item if isinstance(item, str) else " ".join(map(str, item))
            tokens += len(text.split())
            vec = self.vectors.get(text) or hashed_vector(text)
            dims = body.get("dimensions")
            if isinstance(dims, int):
                vec = vec[:dims]
            emb: Any = vec
            if fmt == "base64":
                emb = base64.b64encode(struct.pack(f"<{len(vec)}f", *vec)).decode()
            data.append({"object": "embedding", "index": i, "embedding": emb})
        return web.json_response(
            {
                "object": "list",
                "data": data,
                "model": model or request.match_info.get("deployment", ""),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )
