"""A mock of OpenAI's other APIs, in their documented wire formats: audio, images,
moderations and files (the ``/v1/*`` pass-through's upstream).

Uploads are read the way a server streams them (multipart parts, piece by piece), and the
mock records what arrived and when: ``uploads`` holds each file's size and digest, and
``received`` is an Event set once ``watch_bytes`` of a file have arrived, so a test can
tell whether the gateway forwarded the start of an upload before the client finished it.
Paths are served under ``/v1`` (OpenAI) and ``/openai`` (Azure, with ``/deployments/{d}``
for the per-deployment APIs).
"""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from typing import Any

from aiohttp import web

PNG_1PX = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d4944415478da63f8cfc0f01f0005000201a5b2e35e0000000049454e44ae426082"
    )
).decode()
CATEGORIES = ("harassment", "hate", "self-harm", "sexual", "violence")


class MockOpenAIAPI:
    def __init__(self, watch_bytes: int = 1 << 20) -> None:
        self.requests: list[dict[str, Any]] = []
        self.uploads: list[dict[str, Any]] = []
        self.files: dict[str, dict[str, Any]] = {}
        self.watch_bytes = watch_bytes
        self.received = threading.Event()

    def app(self) -> web.Application:
        app = web.Application(client_max_size=1 << 30)
        for prefix in ("/v1", "/openai/deployments/{deployment}", "/openai"):
            app.router.add_post(prefix + "/audio/transcriptions", self.transcription)
            app.router.add_post(prefix + "/audio/speech", self.speech)
            app.router.add_post(prefix + "/images/generations", self.images)
        app.router.add_post("/v1/moderations", self.moderations)
        for prefix in ("/v1", "/openai"):
            app.router.add_post(prefix + "/files", self.file_upload)
            app.router.add_get(prefix + "/files", self.file_list)
            app.router.add_delete(prefix + "/files/{id}", self.file_delete)
            app.router.add_get(prefix + "/files/{id}/content", self.file_content)
        app.router.add_route("*", "/v1/echo/{tail:.*}", self.echo)
        return app

    def _record(self, request: web.Request, **extra: Any) -> None:
        self.requests.append(
            {
                "method": request.method,
                "path": request.path,
                "query": request.rel_url.raw_query_string,
                "headers": dict(request.headers),
                **extra,
            }
        )

    def _authorized(self, request: web.Request) -> bool:
        h = request.headers
        return h.get("authorization", "").startswith("Bearer ") or "api-key" in h

    async def _form(self, request: web.Request) -> dict[str, Any]:
        """The multipart form, files read in pieces: their size, digest and arrival times."""
        fields: dict[str, Any] = {}
        reader = await request.multipart()
        async for part in reader:
            if part.filename is None:
                fields[part.name or ""] = (await part.read()).decode()
                continue
            digest, size, first = hashlib.sha256(), 0, None
            while piece := await part.read_chunk(64 * 1024):
                first = first or time.monotonic()
                digest.update(piece)
                size += len(piece)
                if size >= self.watch_bytes:
                    self.received.set()
            upload = {"name": part.name, "filename": part.filename, "size": size}
            upload.update(sha256=digest.hexdigest(), first_at=first, done_at=time.monotonic())
            upload["content_type"] = part.headers.get("Content-Type")
            self.uploads.append(upload)
            fields[part.name or ""] = upload
        return fields

    async def transcription(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _error(401, "no key")
        form = await self._form(request)
        self._record(request, form=form)
        size = form["file"]["size"]
        return web.json_response(
            {
                "text": f"heard {size} bytes with {form.get('model')}",
                "usage": {
                    "type": "tokens",
                    "input_tokens": 14,
                    "input_token_details": {"text_tokens": 0, "audio_tokens": 14},
                    "output_tokens": 45,
                    "total_tokens": 59,
                },
            }
        )

    async def speech(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self._record(request, json=body)
        resp = web.StreamResponse(headers={"Content-Type": "audio/mpeg"})
        await resp.prepare(request)
        for i in range(8):  # an MP3 arrives in pieces, as the voice is generated
            await resp.write(bytes([i]) * 4096)
        await resp.write_eof()
        return resp

    async def images(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _error(401, "no key")
        body = await request.json()
        self._record(request, json=body)
        n = int(body.get("n") or 1)
        return web.json_response(
            {
                "created": 1713833628,
                "data": [{"b64_json": PNG_1PX, "revised_prompt": body.get("prompt")}] * n,
                "usage": {
                    "total_tokens": 100,
                    "input_tokens": 50,
                    "output_tokens": 50,
                    "input_tokens_details": {"text_tokens": 10, "image_tokens": 40},
                },
            }
        )

    async def moderations(self, request: web.Request) -> web.Response:
        body = await request.json()
        self._record(request, json=body)
        flagged = "kill" in str(body.get("input"))
        result = {
            "flagged": flagged,
            "categories": {c: flagged and c == "violence" for c in CATEGORIES},
            "category_scores": {
                c: 0.9 if flagged and c == "violence" else 0.01 for c in CATEGORIES
            },
        }
        model = body.get("model") or "omni-moderation-latest"
        return web.json_response({"id": "modr-mock1", "model": model, "results": [result]})

    async def file_upload(self, request: web.Request) -> web.Response:
        form = await self._form(request)
        self._record(request, form=form)
        fid = f"file-mock{len(self.files) + 1}"
        self.files[fid] = {
            "id": fid,
            "object": "file",
            "bytes": form["file"]["size"],
            "created_at": 1713833628,
            "filename": form["file"]["filename"],
            "purpose": form.get("purpose"),
            "status": "processed",
            "expires_at": None,
            "status_details": None,
        }
        return web.json_response(self.files[fid])

    async def file_list(self, request: web.Request) -> web.Response:
        self._record(request)
        data = list(self.files.values())
        purpose = request.query.get("purpose")
        if purpose:
            data = [f for f in data if f["purpose"] == purpose]
        last = data[-1]["id"] if data else None
        page = {"object": "list", "data": data, "first_id": None, "last_id": last}
        return web.json_response({**page, "has_more": False})

    async def file_delete(self, request: web.Request) -> web.Response:
        self._record(request)
        fid = request.match_info["id"]
        if self.files.pop(fid, None) is None:
            return _error(404, f"No such File object: {fid}")
        return web.json_response({"id": fid, "object": "file", "deleted": True})

    async def file_content(self, request: web.Request) -> web.Response:
        self._record(request)
        fid = request.match_info["id"]
        return web.Response(
            body=f'{{"file": "{fid}"}}\n'.encode() * 3,
            headers={"Content-Disposition": f'attachment; filename="{fid}.jsonl"'},
            content_type="application/octet-stream",
        )

    async def echo(self, request: web.Request) -> web.Response:
        """Any other path: what arrived, and headers a provider should never pass back."""
        body = await request.read()
        self._record(request, body=body)
        return web.json_response(
            {"path": request.path, "query": request.rel_url.raw_query_string, "bytes": len(body)},
            headers={
                "Set-Cookie": "session=upstream-secret; Path=/",
                "openai-organization": "org-gateway-account",
                "x-request-id": "req_mock",
                "Connection": "keep-alive",
            },
        )


def _error(status: int, message: str) -> web.Response:
    err = {"message": message, "type": "invalid_request_error", "param": None, "code": None}
    return web.json_response({"error": err}, status=status)
