"""A mock OpenAI upstream speaking the documented Responses API wire format.

``POST /v1/responses`` answers a ``response`` object, or with ``"stream": true`` the typed
SSE events of OpenAI's streaming reference (``response.created``, ``response.in_progress``,
``response.output_item.added``, ``response.content_part.added``,
``response.output_text.delta`` ... ``response.completed``), each named in its ``event:``
line and numbered by ``sequence_number``. ``GET``/``DELETE /v1/responses/{id}`` and
``GET /v1/responses/{id}/input_items`` serve what it stored (``store`` is true unless the
request says false), and ``previous_response_id`` continues a stored conversation, so
``tests/responses/test_mock_sdk.py`` can prove the format with the official ``openai`` SDK.
Azure's paths (``/openai/v1/responses``, and ``/openai/responses?api-version=``) take
``api-key`` instead of a bearer token.

What it answers (like the real model, from the request):

- ``text.format`` json_schema -> a JSON text that fits the schema
- the last input item is a ``function_call_output`` -> ``results: <output>``
- function tools offered and ``tool_choice`` is not ``none`` -> a ``function_call`` to the
  named (or first) tool with ``{"city": "Paris"}``
- otherwise -> ``echo: <last user text> (turn N)``, N counting the user turns of the whole
  conversation (previous responses included): proof that the context reached the model

A model name containing ``future`` adds what a later API version might send: an unknown
top-level field, an output item of an unknown type and (streamed) an unknown event type.

Model names pick failures: ``error-<status>`` (OpenAI's error body), ``midstream-error``
(an ``error`` event then ``response.failed`` after two deltas), ``truncated`` (the stream
stops before ``response.completed``), ``max-tokens`` (``status: incomplete``).
"""

from __future__ import annotations

import json
import os
from typing import Any

from aiohttp import web

CREATED = 1_732_000_000


def _id(prefix: str) -> str:
    return f"{prefix}_{os.urandom(12).hex()}"


def error(status: int, message: str, param: str | None = None) -> web.Response:
    body = {"error": {"message": message, "type": "invalid_request_error", "param": param}}
    body["error"]["code"] = None if status != 404 else "not_found"
    return web.json_response(body, status=status)


class MockResponses:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        # id -> (response, input items of that request, whole conversation after it)
        self.stored: dict[str, tuple[dict[str, Any], list[dict[str, Any]], list[Any]]] = {}

    @property
    def last(self) -> dict[str, Any]:
        return self.requests[-1]

    def app(self) -> web.Application:
        app = web.Application()
        for base in ("/v1", "/openai/v1", "/openai"):
            app.router.add_post(base + "/responses", self.create)
            app.router.add_get(base + "/responses/{id}", self.retrieve)
            app.router.add_delete(base + "/responses/{id}", self.delete)
            app.router.add_get(base + "/responses/{id}/input_items", self.input_items)
        return app

    def _authorized(self, request: web.Request) -> bool:
        self.requests.append(
            {
                "method": request.method,
                "path": request.path,
                "query": dict(request.query),
                "headers": dict(request.headers),
            }
        )
        if request.path.startswith("/openai/"):
            return bool(request.headers.get("api-key")) and (
                request.path.startswith("/openai/v1/") or "api-version" in request.query
            )
        return request.headers.get("authorization", "").startswith("Bearer ")

    # ---------------------------------------------------------------- create

    async def create(self, request: web.Request) -> web.StreamResponse:
        if not self._authorized(request):
            return error(401, "Incorrect API key provided")
        raw = await request.read()
        self.requests[-1]["raw"] = raw
        body = json.loads(raw)
        self.requests[-1]["json"] = body
        model = str(body.get("model", ""))
        if model.startswith("error-"):
            status = int(model.split("-", 1)[1])
            return error(status, f"mock failure {status}")
        history: list[Any] = []
        prev = body.get("previous_response_id")
        if prev is not None:
            if prev not in self.stored:
                return error(
                    400, f"Previous response with id '{prev}' not found.", "previous_response_id"
                )
            history = list(self.stored[prev][2])
        items = input_items(body.get("input", []))
        conversation = history + items
        resp = answer(body, conversation, model)
        if body.get("store", True):
            self.stored[resp["id"]] = (resp, items, conversation + resp["output"])
        if body.get("stream"):
            return await self.stream(request, resp, model)
        return web.json_response(resp, headers={"x-request-id": "req_mock_resp"})

    async def stream(
        self, request: web.Request, resp: dict[str, Any], model: str
    ) -> web.StreamResponse:
        out = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8"})
        await out.prepare(request)
        for i, event in enumerate(stream_events(resp)):
            if model == "midstream-error" and i == 6:
                failed = {**resp, "status": "failed", "output": [], "usage": None}
                failed["error"] = {"code": "server_error", "message": "mock broke mid-stream"}
                err = {"type": "error", "code": "server_error", "message": "mock broke mid-stream"}
                await out.write(sse({**err, "param": None, "sequence_number": i}))
                await out.write(
                    sse({"type": "response.failed", "response": failed, "sequence_number": i + 1})
                )
                return out
            if model == "truncated" and event["type"] == "response.completed":
                return out
            await out.write(sse(event))
        return out

    # ---------------------------------------------------------------- stored

    async def retrieve(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return error(401, "Incorrect API key provided")
        found = self.stored.get(request.match_info["id"])
        if found is None:
            return error(404, f"Response with id '{request.match_info['id']}' not found.")
        return web.json_response(found[0])

    async def delete(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return error(401, "Incorrect API key provided")
        rid = request.match_info["id"]
        if self.stored.pop(rid, None) is None:
            return error(404, f"Response with id '{rid}' not found.")
        return web.json_response({"id": rid, "object": "response", "deleted": True})

    async def input_items(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return error(401, "Incorrect API key provided")
        found = self.stored.get(request.match_info["id"])
        if found is None:
            return error(404, f"Response with id '{request.match_info['id']}' not found.")
        data = list(reversed(found[1]))
        return web.json_response(
            {
                "object": "list",
                "data": data,
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
                "has_more": False,
            }
        )


# ---------------------------------------------------------------- the answer


def input_items(inp: Any) -> list[dict[str, Any]]:
    """The request's input as stored items: a string is one user message; ids added."""
    if isinstance(inp, str):
        inp = [{"role": "user", "content": inp}]
    out = []
    for item in inp:
        item = dict(item)
        if "role" in item and item.get("type", "message") == "message":
            content = item["content"]
            if isinstance(content, str):
                content = [{"type": "input_text", "text": content}]
            item.update(type="message", content=content)
            item.setdefault("status", "completed")
        item.setdefault("id", _id("msg" if item.get("type") == "message" else "item"))
        out.append(item)
    return out


def text_of(item: dict[str, Any]) -> str:
    c = item.get("content")
    if isinstance(c, str):
        return c
    return " ".join(p.get("text", "") for p in c or [] if isinstance(p, dict))


def answer(body: dict[str, Any], conversation: list[Any], model: str) -> dict[str, Any]:
    tools = [t for t in body.get("tools") or [] if t.get("type") == "function"]
    choice = body.get("tool_choice", "auto")
    fmt = (body.get("text") or {}).get("format") or {"type": "text"}
    last = conversation[-1] if conversation else {}
    output: list[dict[str, Any]]
    if fmt.get("type") == "json_schema":
        props = (fmt.get("schema") or {}).get("properties", {})
        output = [message(json.dumps({k: sample(v) for k, v in props.items()}))]
    elif last.get("type") == "function_call_output":
        output = [message(f"results: {last.get('output')}")]
    elif tools and choice != "none":
        name = choice.get("name") if isinstance(choice, dict) else None
        tool = next((t for t in tools if t["name"] == name), tools[0])
        output = [
            {
                "type": "function_call",
                "id": _id("fc"),
                "call_id": _id("call"),
                "name": tool["name"],
                "arguments": '{"city": "Paris"}',
                "status": "completed",
            }
        ]
    else:
        turns = sum(1 for i in conversation if i.get("role") == "user")
        user = next((i for i in reversed(conversation) if i.get("role") == "user"), {})
        output = [message(f"echo: {text_of(user)} (turn {turns})")]
    if "future" in model:
        output.append({"type": "hologram_call", "id": _id("holo"), "frames": [1, 2, 3]})
    incomplete = model == "max-tokens"
    words = sum(len(json.dumps(i).split()) for i in conversation)
    out_words = sum(len(json.dumps(i).split()) for i in output)
    return {
        "id": _id("resp"),
        "object": "response",
        "created_at": CREATED,
        "status": "incomplete" if incomplete else "completed",
        "background": False,
        "error": None,
        "incomplete_details": {"reason": "max_output_tokens"} if incomplete else None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "model": model + "-2025-01-01",
        "output": output,
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": {"effort": None, "summary": None},
        "store": body.get("store", True),
        "temperature": body.get("temperature", 1.0),
        "text": {"format": fmt},
        "tool_choice": choice,
        "tools": body.get("tools") or [],
        "top_p": body.get("top_p", 1.0),
        "truncation": "disabled",
        "usage": {
            "input_tokens": words,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": out_words,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": words + out_words,
        },
        "user": None,
        "metadata": body.get("metadata") or {},
        **({"future_field": {"answer": 42}} if "future" in model else {}),
    }


def message(text: str) -> dict[str, Any]:
    return {
        "type": "message",
        "id": _id("msg"),
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}],
    }


def sample(schema: dict[str, Any]) -> Any:
    kind = schema.get("type", "string")
    return {"string": "Paris", "integer": 21, "number": 21.5, "boolean": True}.get(kind, {})


# ---------------------------------------------------------------- the stream


def stream_events(resp: dict[str, Any]) -> list[dict[str, Any]]:
    """The event sequence of OpenAI's streaming reference for ``resp``."""
    events: list[dict[str, Any]] = []

    def add(kind: str, **fields: Any) -> None:
        events.append({"type": kind, "sequence_number": len(events), **fields})

    start = {**resp, "status": "in_progress", "output": [], "usage": None}
    add("response.created", response=start)
    add("response.in_progress", response=start)
    for n, item in enumerate(resp["output"]):
        at = {"output_index": n, "item_id": item["id"]}
        if item["type"] == "message":
            add("response.output_item.added", output_index=n, item={**item, "content": []})
            part = item["content"][0]
            add(
                "response.content_part.added",
                **at,
                content_index=0,
                part={**part, "text": ""},
            )
            words = part["text"].split(" ")
            for i, w in enumerate(words):
                delta = w if i == len(words) - 1 else w + " "
                add("response.output_text.delta", **at, content_index=0, delta=delta, logprobs=[])
            add("response.output_text.done", **at, content_index=0, text=part["text"], logprobs=[])
            add("response.content_part.done", **at, content_index=0, part=part)
        elif item["type"] != "function_call":
            add("response.output_item.added", output_index=n, item=item)
            add("response.hologram.rendered", output_index=n, item_id=item["id"])
        else:
            add("response.output_item.added", output_index=n, item={**item, "arguments": ""})
            args = item["arguments"]
            for piece in (args[: len(args) // 2], args[len(args) // 2 :]):
                add("response.function_call_arguments.delta", **at, delta=piece)
            add("response.function_call_arguments.done", **at, arguments=args)
        add("response.output_item.done", output_index=n, item=item)
    kind = "response.incomplete" if resp["status"] == "incomplete" else "response.completed"
    add(kind, response=resp)
    return events


def sse(event: dict[str, Any]) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()
