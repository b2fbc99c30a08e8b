"""A mock Cohere upstream speaking the API v2 wire format (Chat and Embed).

``POST /v2/chat`` answers a chat response (``id``, ``finish_reason``, ``message``,
``usage``), or with ``"stream": true`` the SSE events of the API reference's examples:
``message-start``, ``content-start`` / ``content-delta`` / ``content-end`` (text, thinking),
``tool-plan-delta``, ``tool-call-start`` / ``tool-call-delta`` / ``tool-call-end``,
``message-end`` with usage, then ``data: [DONE]``. Errors are ``{"id", "message"}`` with the
reference's messages. ``POST /v2/embed`` answers embeddings by type. ``test_mock_sdk.py``
proves the format with the official ``cohere`` SDK (``ClientV2``).

It checks what the real API documents refusing: no key (401), missing ``model`` /
``messages`` (400), a system turn after the first message, text content beside
``tool_calls`` in an assistant message (the v2 error message), a tool result whose id no
earlier call had, ``tool_choice`` without tools, ``response_format`` with tools.

What it answers (the reply depends on the request, like the real model's would):

- the conversation ends with tool results -> text quoting them
- tools offered and ``tool_choice`` is not ``NONE`` -> a tool plan and a call of the first
  tool (model names containing ``parallel``: two calls), arguments built from its schema
- ``response_format`` json_object -> JSON built from ``json_schema`` (or ``{"echo": ...}``)
- otherwise -> ``echo: <last user text>`` plus ``[N image(s)]`` when images were sent

Model names pick failures: ``error-<status>`` (429 with retry-after), ``garbage`` (HTML
500), ``not-cohere`` (a 200 JSON body that is not a chat response), ``truncated`` (the
stream stops before ``message-end``), ``generation-error`` (finish reason ``ERROR``); and
answers: ``max-tokens`` (``MAX_TOKENS``), ``thinking`` (a thinking block first),
``cached`` (``cached_tokens``). Each request is recorded with its path, headers and JSON.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from tests.cache.mock_embeddings import hashed_vector
from tests.providers.anthropic.mock import sample

CALL_ARGUMENTS_SPLIT = 2  # tool-call-delta events per call


def error_response(
    status: int, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response(
        {"id": "err-mock-0001", "message": message}, status=status, headers=headers
    )


class MockCohere:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    @property
    def last(self) -> dict[str, Any]:
        return self.requests[-1]["json"]  # type: ignore[no-any-return]

    def app(self) -> web.Application:
        app = web.Application(client_max_size=32 * 1024 * 1024)
        app.router.add_post("/v2/chat", self.chat)
        app.router.add_post("/v2/embed", self.embed)
        return app

    async def record(self, request: web.Request) -> dict[str, Any]:
        body = await request.json()
        self.requests.append({"path": request.path, "headers": dict(request.headers), "json": body})
        return body  # type: ignore[no-any-return]

    async def chat(self, request: web.Request) -> web.StreamResponse:
        body = await self.record(request)
        if not request.headers.get("authorization", "").lower().startswith("bearer "):
            return error_response(401, "no api key supplied")
        problem = check(body)
        if problem:
            return error_response(400, problem)
        model = str(body["model"])
        if model.startswith("error-"):
            status = int(model.split("-", 1)[1])
            headers = {"retry-after": "7", "x-ratelimit-remaining": "0"} if status == 429 else None
            return error_response(status, f"mock failure {status}", headers)
        if model == "garbage":
            return web.Response(text="<html>bad gateway</html>", status=500)
        if model == "not-cohere":
            return web.json_response({"object": "chat.completion", "choices": []})
        answer = reply(body)
        if body.get("stream"):
            return await self.stream(request, answer, model)
        return web.json_response(answer)

    async def stream(
        self, request: web.Request, answer: dict[str, Any], model: str
    ) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for event in stream_events(answer):
            if model == "truncated" and event["type"] == "message-end":
                return resp
            await resp.write(f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode())
        await resp.write(b"data: [DONE]\n\n")
        return resp

    async def embed(self, request: web.Request) -> web.Response:
        body = await self.record(request)
        if not request.headers.get("authorization", "").lower().startswith("bearer "):
            return error_response(401, "no api key supplied")
        if "model" not in body or "input_type" not in body:
            return error_response(400, "invalid request: valid input_type must be provided")
        texts = body.get("texts") or []
        if not 1 <= len(texts) <= 96:
            got = len(texts)
            return error_response(
                400, f"invalid request: total number of texts must be at most 96 - received {got}"
            )
        model = str(body["model"])
        if model.startswith("error-"):
            status = int(model.split("-")[1])
            headers = {"retry-after": "7"} if status == 429 else None
            return error_response(status, f"mock embed failure {status}", headers)
        if model == "not-cohere":
            return web.json_response({"object": "list", "data": []})
        dims = int(body.get("output_dimension") or 8)
        return web.json_response(
            {
                "id": "emb-mock-0001",
                "texts": texts,
                "embeddings": {"float": [hashed_vector(t, dims) for t in texts]},
                "meta": {
                    "api_version": {"version": "2"},
                    "billed_units": {"input_tokens": sum(len(t.split()) for t in texts)},
                },
                "response_type": "embeddings_by_type",
            }
        )


# ---------------------------------------------------------------- checks


def check(body: dict[str, Any]) -> str | None:
    """What the real API refuses, with its message; None when the request is valid."""
    for field in ("model", "messages"):
        if field not in body:
            return f"invalid request: {field} is required"
    calls: set[str] = set()
    for i, m in enumerate(body["messages"]):
        if m.get("role") == "system" and i > 0:
            return "system turn must be the first in the list"
        if m.get("role") == "assistant":
            if m.get("tool_calls") and m.get("content"):
                return (
                    "text content is not allowed when tool_calls are provided. If you wish to "
                    f"pass a tool plan, use 'tool_plan': 'messages[{i}].content'"
                )
            calls.update(c["id"] for c in m.get("tool_calls") or [])
        if m.get("role") == "tool" and m.get("tool_call_id") not in calls:
            return "tool call id not found in previous tool calls"
    if body.get("tool_choice") and not body.get("tools"):
        return "invalid request: tool_choice requires tools"
    if body.get("response_format") and body.get("tools"):
        return "invalid request: response_format is not supported with tools"
    return None


# ---------------------------------------------------------------- the answer


def text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    return " ".join(p["text"] for p in content if p.get("type") == "text")


def reply(body: dict[str, Any]) -> dict[str, Any]:
    model = str(body["model"])
    messages = body["messages"]
    tools = body.get("tools") or []
    results = []
    for m in reversed(messages):
        if m["role"] != "tool":
            break
        results.insert(0, text_of(m["content"]))
    message: dict[str, Any] = {"role": "assistant"}
    finish = "COMPLETE"
    fmt = body.get("response_format") or {}
    if results:
        message["content"] = [{"type": "text", "text": "results: " + "; ".join(results)}]
    elif tools and body.get("tool_choice") != "NONE":
        tool = tools[0]["function"]
        count = 2 if "parallel" in model else 1
        message["tool_plan"] = "I will look this up."
        message["tool_calls"] = [
            {
                "id": f"{tool['name']}_mock{i + 1}",
                "type": "function",
                "function": {
                    "name": tool["name"],
                    "arguments": json.dumps(sample(tool["parameters"], i)),
                },
            }
            for i in range(count)
        ]
        finish = "TOOL_CALL"
    elif fmt.get("type") == "json_object":
        schema = fmt.get("json_schema")
        value = sample(schema, 0) if schema else {"echo": last_user_text(messages)}
        message["content"] = [{"type": "text", "text": json.dumps(value)}]
    else:
        last = [m for m in messages if m["role"] == "user"][-1]
        images = (
            sum(1 for p in last["content"] if isinstance(p, dict) and p.get("type") == "image_url")
            if isinstance(last["content"], list)
            else 0
        )
        text = "echo: " + last_user_text(messages) + (f" [{images} image(s)]" if images else "")
        message["content"] = [{"type": "text", "text": text}]
    if model == "thinking":
        thought = {"type": "thinking", "thinking": "Considering: " + last_user_text(messages)}
        message["content"] = [thought, *message.get("content", [])]
    if model == "max-tokens":
        finish = "MAX_TOKENS"
    elif model == "generation-error":
        finish = "ERROR"
    out_tokens = len(json.dumps(message).split())
    usage: dict[str, Any] = {
        "billed_units": {"input_tokens": 5, "output_tokens": out_tokens},
        "tokens": {
            "input_tokens": 60 + len(json.dumps(messages).split()),
            "output_tokens": out_tokens,
        },
    }
    if model == "cached":
        usage["cached_tokens"] = 40
    return {"id": "chat-mock-0001", "finish_reason": finish, "message": message, "usage": usage}


def last_user_text(messages: list[dict[str, Any]]) -> str:
    for m in reversed(messages):
        if m["role"] == "user":
            return text_of(m["content"])
    return ""


# ---------------------------------------------------------------- the stream


def _delta(message: dict[str, Any]) -> dict[str, Any]:
    return {"delta": {"message": message}}


def stream_events(answer: dict[str, Any]) -> list[dict[str, Any]]:
    msg = answer["message"]
    events: list[dict[str, Any]] = [
        {"type": "message-start", "id": answer["id"], **_delta({"role": "assistant"})}
    ]
    if msg.get("tool_plan"):
        for word in _pieces(msg["tool_plan"]):
            events.append({"type": "tool-plan-delta", **_delta({"tool_plan": word})})
    for index, call in enumerate(msg.get("tool_calls") or []):
        start = {**call, "function": {**call["function"], "arguments": ""}}
        events.append({"type": "tool-call-start", "index": index, **_delta({"tool_calls": start})})
        args = call["function"]["arguments"]
        cut = len(args) // CALL_ARGUMENTS_SPLIT
        for part in (args[:cut], args[cut:]):
            fn = {"function": {"arguments": part}}
            events.append({"type": "tool-call-delta", "index": index, **_delta({"tool_calls": fn})})
        events.append({"type": "tool-call-end", "index": index})
    for index, block in enumerate(msg.get("content") or []):
        kind = block["type"]
        first = {"type": kind, kind: ""}
        events.append({"type": "content-start", "index": index, **_delta({"content": first})})
        for piece in _pieces(block[kind]):
            events.append(
                {"type": "content-delta", "index": index, **_delta({"content": {kind: piece}})}
            )
        events.append({"type": "content-end", "index": index})
    end: dict[str, Any] = {"finish_reason": answer["finish_reason"], "usage": answer["usage"]}
    if answer["finish_reason"] == "ERROR":
        end["error"] = "internal error during generation"
    events.append({"type": "message-end", "delta": end})
    return events


def _pieces(text: str) -> list[str]:
    words = text.split(" ")
    return [w + " " for w in words[:-1]] + [words[-1]]
