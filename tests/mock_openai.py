"""A mock OpenAI upstream speaking the documented Chat Completions wire format.

JSON answers are ``chat.completion`` objects and streams are ``chat.completion.chunk`` SSE
events ending in ``data: [DONE]``, as in OpenAI's API reference; ``tests/test_mock_openai.py``
proves the format by pointing the official ``openai`` SDK straight at this mock.

The answer echoes the last user message, so tests can see what reached the upstream.
Behaviour is chosen by the requested model name:

``error-<status>``      an OpenAI error body with that status (429 carries Retry-After)
``slow-stream``         200 chunks, 50 ms apart (for cancellation tests)
``hang``                never answers
``json-for-stream``     answers a stream request with a JSON body
``truncated``           a stream that stops without ``[DONE]``
``midstream-error``     two chunks, then an error event
``tools``               answers with two parallel tool calls
``garbage``             a 500 with a non-JSON body
``*reasoner*``          reports its reasoning first (``reasoning_content``, as DeepSeek does)

Whatever the model, an agent loop works as a real model's would: when the last user text
reads ``call <tool> <json arguments>`` and that tool is offered, the answer is that one
tool call (streamed, its first argument fragment in the same chunk as its name); when the
conversation ends with tool results, the answer is ``results: <their contents>``.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from aiohttp import web

CREATED = 1_732_000_000


class MockOpenAI:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.disconnects = 0
        self.active_streams = 0
        self.completed_streams = 0

    @property
    def calls(self) -> int:
        return len(self.requests)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.chat)
        app.router.add_post(
            "/openai/deployments/{deployment}/chat/completions", self.chat
        )  # Azure's path
        app.router.add_post("/custom/path/v1/chat/completions", self.chat)
        app.router.add_get("/v1/models", self.models)
        app.router.add_post("/v1/completions", self.completions)
        app.router.add_post("/openai/deployments/{deployment}/completions", self.completions)
        return app

    async def completions(self, request: web.Request) -> web.StreamResponse:
        """Legacy text completions: ``text_completion`` objects, streamed or not."""
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
            err = {"message": f"mock failure {status}", "type": "mock_error", "param": None}
            return web.json_response({"error": {**err, "code": f"mock_{status}"}}, status=status)
        prompt = body.get("prompt")
        text = f"echo: {prompt if isinstance(prompt, str) else json.dumps(prompt)}"
        words = len(str(prompt).split())
        use = {"prompt_tokens": words, "completion_tokens": len(text.split())}
        use["total_tokens"] = use["prompt_tokens"] + use["completion_tokens"]

        def obj(choices: list[dict[str, Any]]) -> dict[str, Any]:
            return {
                "id": "cmpl-mock789",
                "object": "text_completion",
                "created": CREATED,
                "model": model,
                "system_fingerprint": "fp_mock",
                "choices": choices,
            }

        def choice(piece: str, finish: str | None) -> dict[str, Any]:
            return {"text": piece, "index": 0, "logprobs": None, "finish_reason": finish}

        if not body.get("stream"):
            return web.json_response({**obj([choice(text, "stop")]), "usage": use})
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for word in text.split(" "):
            await resp.write(sse(obj([choice(word + " ", None)])))
        await resp.write(sse(obj([choice("", "stop")])))
        if (body.get("stream_options") or {}).get("include_usage"):
            await resp.write(sse({**obj([]), "usage": use}))
        await resp.write(b"data: [DONE]\n\n")
        return resp

    async def models(self, request: web.Request) -> web.Response:
        if not request.headers.get("authorization", "").startswith("Bearer "):
            return web.json_response({"error": {"message": "no key", "type": "x"}}, status=401)
        self.requests.append({"path": request.path, "headers": dict(request.headers), "json": {}})
        data = [
            {"id": "gpt-4o-mini", "object": "model", "created": 1721172741, "owned_by": "system"},
            {"id": "o3", "object": "model", "created": 1744225308, "owned_by": "system"},
        ]
        return web.json_response({"object": "list", "data": data})

    async def chat(self, request: web.Request) -> web.StreamResponse:
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
            headers = {"retry-after": "1"} if status == 429 else {}
            return web.json_response(
                {
                    "error": {
                        "message": f"mock failure {status}",
                        "type": "mock_error",
                        "param": None,
                        "code": f"mock_{status}",
                    }
                },
                status=status,
                headers=headers,
            )
        if model == "garbage":
            return web.Response(text="<html>bad gateway</html>", status=500)
        if model == "hang":
            await asyncio.sleep(3600)
        text = f"echo: {last_user_text(body)}"
        results = tool_results(body)
        if results is not None:
            text = "results: " + "; ".join(results)
        call = call_directive(body) if results is None else None
        if body.get("stream") and model != "json-for-stream":
            if call is not None:
                return await self.stream_call(request, body, model, call)
            return await self.stream(request, body, text, model)
        answer = completion(body, text, model)
        if call is not None:
            message = answer["choices"][0]["message"]
            message.update(content=None, tool_calls=[call])
            answer["choices"][0]["finish_reason"] = "tool_calls"
        elif "reasoner" in model:
            answer["choices"][0]["message"]["reasoning_content"] = reasoning(body)
        return web.json_response(answer)

    async def stream_call(
        self, request: web.Request, body: dict[str, Any], model: str, call: dict[str, Any]
    ) -> web.StreamResponse:
        """One streamed tool call, its first argument fragment riding with its name."""
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        args = call["function"]["arguments"]
        cut = max(1, len(args) // 3)
        first = {"index": 0, "id": call["id"], "type": "function"}
        first["function"] = {"name": call["function"]["name"], "arguments": args[:cut]}
        await resp.write(sse(chunk(model, {"role": "assistant", "content": None})))
        await resp.write(sse(chunk(model, {"tool_calls": [first]})))
        for part in (args[cut : 2 * cut], args[2 * cut :]):
            delta = {"tool_calls": [{"index": 0, "function": {"arguments": part}}]}
            await resp.write(sse(chunk(model, delta)))
        await resp.write(sse(chunk(model, {}, finish="tool_calls")))
        if (body.get("stream_options") or {}).get("include_usage"):
            usage_chunk = chunk(model, None)
            usage_chunk["usage"] = usage(body, args)
            await resp.write(sse(usage_chunk))
        await resp.write(b"data: [DONE]\n\n")
        return resp

    async def stream(
        self, request: web.Request, body: dict[str, Any], text: str, model: str
    ) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        self.active_streams += 1
        try:
            if model == "slow-stream":
                pieces = [f"tok{i} " for i in range(200)]
                delay = 0.05
            else:
                pieces = [w + " " for w in text.split(" ")]
                pieces[-1] = pieces[-1].rstrip()
                delay = 0.0
            if model == "tools":
                for c in tool_chunks(model):
                    await resp.write(sse(c))
            else:
                await resp.write(sse(chunk(model, {"role": "assistant", "content": ""})))
                if "reasoner" in model:
                    thought = reasoning(body)
                    for part in (thought[: len(thought) // 2], thought[len(thought) // 2 :]):
                        await resp.write(sse(chunk(model, {"reasoning_content": part})))
                for i, p in enumerate(pieces):
                    if model == "midstream-error" and i == 2:
                        err = {
                            "error": {"message": "mock broke mid-stream", "type": "server_error"}
                        }
                        await resp.write(sse(err))
                        return resp
                    await resp.write(sse(chunk(model, {"content": p})))
                    if delay:
                        await asyncio.sleep(delay)
                if model == "truncated":
                    return resp
                await resp.write(sse(chunk(model, {}, finish="stop")))
            if (body.get("stream_options") or {}).get("include_usage"):
                usage_chunk = chunk(model, None)
                usage_chunk["choices"] = []
                usage_chunk["usage"] = usage(body, text)
                await resp.write(sse(usage_chunk))
            await resp.write(b"data: [DONE]\n\n")
            self.completed_streams += 1
            return resp
        except (asyncio.CancelledError, ConnectionResetError):
            self.disconnects += 1
            raise
        finally:
            self.active_streams -= 1


def last_user_text(body: dict[str, Any]) -> str:
    for m in reversed(body.get("messages", [])):
        if m.get("role") == "user":
            c = m.get("content")
            if isinstance(c, str):
                return c
            return " ".join(p.get("text", "") for p in c if p.get("type") == "text")
    return ""


def reasoning(body: dict[str, Any]) -> str:
    return f"Considering: {last_user_text(body)}"


def conversation(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The messages up to the last non-system one (a harness may append system notes)."""
    messages = list(body.get("messages", []))
    while messages and messages[-1].get("role") in ("system", "developer"):
        messages.pop()
    return messages


def tool_results(body: dict[str, Any]) -> list[str] | None:
    """The contents of the tool messages that end the conversation (None: it ends otherwise)."""
    found: list[str] = []
    for m in reversed(conversation(body)):
        if m.get("role") != "tool":
            break
        c = m.get("content")
        found.append(c if isinstance(c, str) else " ".join(p.get("text", "") for p in c))
    return list(reversed(found)) if found else None


def directive_line(text: str) -> str | None:
    """The last line of a user text that reads ``call ...`` (clients add context above)."""
    for line in reversed(text.splitlines()):
        if line.startswith("call "):
            return line
    return None


def call_directive(body: dict[str, Any]) -> dict[str, Any] | None:
    """``call <tool> <json>`` in the last user text, naming an offered tool: that call."""
    messages = conversation(body)
    if not messages or messages[-1].get("role") != "user":
        return None
    line = directive_line(last_user_text(body))
    if line is None:
        return None
    name, _, args = line[5:].strip().partition(" ")
    offered = {t.get("function", {}).get("name") for t in body.get("tools") or []}
    if name not in offered:
        return None
    arguments = json.dumps(json.loads(args or "{}"))
    return {
        "id": "call_mock_directive",
        "type": "function",
        "function": {"name": name, "arguments": arguments},
    }


def usage(body: dict[str, Any], text: str) -> dict[str, Any]:
    prompt = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
    completion_tokens = len(text.split())
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


TOOL_CALLS = [
    {
        "id": "call_mock_weather_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
    },
    {
        "id": "call_mock_weather_2",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Tokyo"}'},
    },
]


def completion(body: dict[str, Any], text: str, model: str) -> dict[str, Any]:
    message: dict[str, Any] = {
        "role": "assistant",
        "content": text,
        "refusal": None,
        "annotations": [],
    }
    finish = "stop"
    if model == "tools":
        message["content"] = None
        message["tool_calls"] = TOOL_CALLS
        finish = "tool_calls"
    return {
        "id": "chatcmpl-mock123",
        "object": "chat.completion",
        "created": CREATED,
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": usage(body, text),
        "service_tier": "default",
        "system_fingerprint": "fp_mock",
    }


def chunk(model: str, delta: dict[str, Any] | None, finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-mock456",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": model,
        "system_fingerprint": "fp_mock",
        "choices": []
        if delta is None
        else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }


def tool_chunks(model: str) -> list[dict[str, Any]]:
    out = [chunk(model, {"role": "assistant", "content": None})]
    for i, tc in enumerate(TOOL_CALLS):
        out.append(
            chunk(
                model,
                {
                    "tool_calls": [
                        {
                            "index": i,
                            "id": tc["id"],
                            "type": "function",
                            "function": {"name": tc["function"]["name"], "arguments": ""},
                        }
                    ]
                },
            )
        )
        args = tc["function"]["arguments"]
        for part in (args[: len(args) // 2], args[len(args) // 2 :]):
            out.append(
                chunk(model, {"tool_calls": [{"index": i, "function": {"arguments": part}}]})
            )
    out.append(chunk(model, {}, finish="tool_calls"))
    return out


def sse(obj: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


def now() -> int:
    return int(time.time())
