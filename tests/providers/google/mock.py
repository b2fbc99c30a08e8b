"""A mock Gemini upstream (Gemini API and Vertex AI paths) speaking the documented wire format.

``POST /{v1|v1beta}/models/{model}:generateContent`` needs ``x-goog-api-key``;
``POST /{v1|v1beta1}/projects/{p}/locations/{l}/publishers/google/models/{model}:...`` needs
``Authorization: Bearer`` (given ``tokens``, only those: what ``fake_auth.py`` issued).
Streams (``:streamGenerateContent?alt=sse``) send one ``GenerateContentResponse`` per SSE
event, CRLF-separated as Google does, the candidate ``index`` left out when it is 0 (proto3
JSON). ``test_mock_sdk.py`` proves the format with the
official ``google-genai`` SDK. Embeddings: ``:batchEmbedContents`` (Gemini API) and ``:predict``
(Vertex text embeddings), proven with the SDK's ``embed_content`` in ``test_embeddings.py``.

The answer echoes the last user turn (text, ``<mime>`` for inline data, ``<uri>`` for file
data, ``name=response`` for function responses), one candidate per ``candidateCount``.
Behaviour by model name:

``error-<status>``  Google's error body with that status (429 carries RetryInfo)
``tools``           one function call per argument set in ``CALL_ARGS`` (parallel calls), to
                    the named allowed function or the first declared one
``json``            a JSON object text (``{"answer": ...}``)
``blocked``         ``promptFeedback.blockReason`` and no candidates
any model           the last user text reads ``call <function> <json args>`` and that
                    function is declared: one call of it (agent loops)
``truncated``       a stream that ends without a finishReason
``midstream-error`` one text event, then an error event

Thinking, as Gemini 3 does it: ``thinkingConfig.includeThoughts`` adds a thought summary
part first (``thought: true``) and ``thoughtsTokenCount``; ``gemini-3*`` models (or any
thinking config) sign the answer: the first function call of a step gets a
``thoughtSignature`` (``signature(name, args)``), a text answer's last part gets one;
model names containing ``sig-on-thought`` put it on the thought part instead (Gemini
does that too). ``gemini-3*`` models check the current turn as Gemini 3 does
(``signature_error``): each step's first call must carry the signature issued for it, or
the placeholder Google documents. ``cachedContent`` -> ``cachedContentTokenCount``.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from aiohttp import web

from tests.mock_openai import directive_line

STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}
CALL_ARGS = [{"city": "Paris"}, {"city": "Tokyo"}]
RETRY_DELAY = "6.2s"


def google_error(status: int, message: str | None = None) -> web.Response:
    err: dict[str, Any] = {
        "code": status,
        "message": message or f"mock failure {status}",
        "status": STATUS.get(status, "UNKNOWN"),
    }
    if status == 429:
        err["details"] = [
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": RETRY_DELAY}
        ]
    return web.json_response({"error": err}, status=status)


class MockGemini:
    def __init__(self, tokens: set[str] | None = None) -> None:
        self.requests: list[dict[str, Any]] = []
        self.tokens = tokens  # Vertex bearer tokens it accepts (None: any)
        self.bearers: list[str] = []  # every Vertex bearer token it saw

    @property
    def last(self) -> dict[str, Any]:
        return self.requests[-1]

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/{version}/models/{call}", self.gemini)
        app.router.add_get("/{version}/models", self.models)
        vertex = (
            "/{version}/projects/{project}/locations/{location}/publishers/google/models/{call}"
        )
        app.router.add_post(vertex, self.vertex)
        return app

    async def gemini(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["version"] not in ("v1", "v1beta"):
            return google_error(404)
        if "key" in request.query or not request.headers.get("x-goog-api-key"):
            return google_error(401, "API key not valid. Please pass a valid API key.")
        return await self.answer(request)

    async def models(self, request: web.Request) -> web.Response:
        """``GET /v1beta/models`` (models.list) as the Gemini API reference documents it."""
        if not request.headers.get("x-goog-api-key"):
            return google_error(401, "API key not valid. Please pass a valid API key.")
        self.requests.append({"path": request.path, "headers": dict(request.headers)})
        models = [
            {
                "name": f"models/{name}",
                "displayName": name,
                "version": "001",
                "inputTokenLimit": 1048576,
                "outputTokenLimit": 65536,
                "supportedGenerationMethods": ["generateContent", "countTokens"],
            }
            for name in ("gemini-2.5-flash", "gemini-2.5-pro")
        ]
        return web.json_response({"models": models})

    async def vertex(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["version"] not in ("v1", "v1beta1"):
            return google_error(404)
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer "):
            return google_error(401, "Request is missing required authentication credential.")
        self.bearers.append(auth[7:])
        if self.tokens is not None and auth[7:] not in self.tokens:
            return google_error(401, "Request had invalid authentication credentials.")
        return await self.answer(request)

    async def answer(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        model, _, method = request.match_info["call"].partition(":")
        self.requests.append(
            {
                "path": request.path,
                "query": dict(request.query),
                "headers": dict(request.headers),
                "model": model,
                "method": method,
                "json": body,
            }
        )
        if model.startswith("error-"):
            return google_error(int(model.split("-", 1)[1]))
        if method in ("batchEmbedContents", "predict"):
            return embed_answer(method, model, body)
        if method not in ("generateContent", "streamGenerateContent"):
            return google_error(404, f"method {method} not found")
        if model.startswith("gemini-3") and (problem := signature_error(body)):
            return google_error(400, problem)
        if model == "blocked":
            blocked = {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": usage(4, 0)}
            events = [blocked]
        else:
            events = answer_events(model, body)
        if method == "generateContent":
            return web.json_response(merge(events))
        if request.query.get("alt") != "sse":
            return google_error(400, "this mock streams with alt=sse only")
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for i, event in enumerate(events):
            if model == "midstream-error" and i == 1:
                event = {"error": {"code": 500, "message": "mock broke", "status": "INTERNAL"}}
            if model == "truncated" and i == len(events) - 1:
                break
            await resp.write(b"data: " + json.dumps(event).encode() + b"\r\n\r\n")
        return resp


def last_user_text(body: dict[str, Any]) -> str:
    for content in reversed(body.get("contents", [])):
        if content.get("role", "user") != "user":
            continue
        out = []
        for p in content.get("parts", []):
            if "text" in p:
                out.append(p["text"])
            elif "inlineData" in p:
                out.append(f"<{p['inlineData']['mimeType']}>")
            elif "fileData" in p:
                out.append(f"<{p['fileData']['fileUri']}>")
            elif "functionResponse" in p:
                fr = p["functionResponse"]
                out.append(f"{fr['name']}={json.dumps(fr['response'], sort_keys=True)}")
        return " ".join(out)
    return ""


def call_directive(body: dict[str, Any], text: str) -> dict[str, Any] | None:
    """``call <function> <json>`` naming a declared function: that functionCall."""
    line = directive_line(text)
    if line is None:
        return None
    name, _, args = line[5:].strip().partition(" ")
    declared = {d["name"] for t in body.get("tools", []) for d in t.get("functionDeclarations", [])}
    return {"name": name, "args": json.loads(args or "{}")} if name in declared else None


SKIP = "skip_thought_signature_validator"


def signature(name: str, args: dict[str, Any]) -> str:
    """What the mock signs a function call with (opaque to clients, checked next turn)."""
    seed = f"{name}:{json.dumps(args, sort_keys=True)}".encode()
    return base64.b64encode(hashlib.sha256(seed).digest() * 4).decode()


def text_signature(text: str) -> str:
    return base64.b64encode(hashlib.sha256(b"text:" + text.encode()).digest()).decode()


def _bytes(b64: str) -> bytes:
    """A bytes field as proto JSON reads it: standard or URL-safe base64."""
    try:
        return base64.urlsafe_b64decode(b64.replace("+", "-").replace("/", "_") + "==")
    except ValueError:
        return b""


def signature_error(body: dict[str, Any]) -> str | None:
    """Gemini 3's check of the current turn (after the last user text): each model step's
    first function call carries its signature (None: fine)."""
    contents = body.get("contents", [])
    start = 0
    for i, c in enumerate(contents):
        if c.get("role", "user") == "user" and any("text" in p for p in c.get("parts", [])):
            start = i + 1
    for c in contents[start:]:
        calls = [p for p in c.get("parts", []) if "functionCall" in p]
        if c.get("role") != "model" or not calls:
            continue
        fc, sig = calls[0]["functionCall"], calls[0].get("thoughtSignature")
        if sig is None:
            return (
                "Function call is missing a thought_signature in functionCall parts. This is "
                "required for tools to work correctly, and missing thought_signature may lead "
                f"to degraded model performance. Additional data, function call "
                f"`default_api:{fc['name']}` , position {start + 1}."
            )
        if _bytes(sig) not in (_bytes(signature(fc["name"], fc.get("args", {}))), _bytes(SKIP)):
            return "Corrupted thought signature."
    return None


def usage(prompt: int, completion: int) -> dict[str, int]:
    return {
        "promptTokenCount": prompt,
        "candidatesTokenCount": completion,
        "totalTokenCount": prompt + completion,
    }


def answer_events(model: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    """The stream events of the answer; a non-streamed answer is their merge."""
    config = body.get("generationConfig", {})
    thinking = config.get("thinkingConfig")
    signs = model.startswith("gemini-3") or thinking is not None
    n = int(config.get("candidateCount", 1))
    prompt = len(json.dumps(body.get("contents", [])).split())
    text = f"echo: {last_user_text(body)}"
    if model == "json":
        text = json.dumps({"answer": text})
    events: list[dict[str, Any]] = []
    thought: dict[str, Any] | None = None
    if any((thinking or {}).get(k) for k in ("includeThoughts", "include_thoughts")):
        # proto JSON takes either spelling (the google-genai SDK sends snake_case here)
        thought = {"text": f"Thinking about: {last_user_text(body)}", "thought": True}
        events.append(candidates_event([[thought]] * n))
    directive = call_directive(body, last_user_text(body))
    calls = [directive] if directive is not None else []
    if directive is None and model == "tools":
        decls = body.get("tools", [{}])[0].get("functionDeclarations", [{"name": "none"}])
        fcc = body.get("toolConfig", {}).get("functionCallingConfig", {})
        name = (fcc.get("allowedFunctionNames") or [decls[0]["name"]])[0]
        calls = [{"name": name, "args": args} for args in CALL_ARGS]
    for k, call in enumerate(calls):
        part: dict[str, Any] = {"functionCall": call}
        if signs and k == 0:  # parallel calls: the first one is signed
            sig = signature(call["name"], call["args"])
            if thought is not None and "sig-on-thought" in model:
                thought["thoughtSignature"] = sig
            else:
                part["thoughtSignature"] = sig
        events.append(candidates_event([[part]] * n))
    if not calls:
        words = text.split(" ")
        pieces = [w + " " for w in words[:-1]] + [words[-1]]
        for piece in pieces:
            texts = [
                [{"text": piece + (f" #{i}" if i and piece is pieces[-1] else "")}]
                for i in range(n)
            ]
            events.append(candidates_event(texts))
        if signs:
            for cand in events[-1]["candidates"]:
                cand["content"]["parts"][-1]["thoughtSignature"] = text_signature(text)
    for cand in events[-1]["candidates"]:
        cand["finishReason"] = "STOP"
    for e in events:
        e["usageMetadata"] = usage(prompt, 0)
        e["modelVersion"] = model
    final = usage(prompt, len(text.split()) * n)
    if thought is not None:
        final["thoughtsTokenCount"] = 7 * n
        final["totalTokenCount"] += 7 * n
    if "cachedContent" in body:
        final["cachedContentTokenCount"] = prompt // 2
    events[-1]["usageMetadata"] = final
    return events


def candidates_event(parts_per_candidate: list[list[dict[str, Any]]]) -> dict[str, Any]:
    cands = []
    for i, parts in enumerate(parts_per_candidate):
        cand: dict[str, Any] = {"content": {"parts": parts, "role": "model"}}
        if i:
            cand["index"] = i
        cands.append(cand)
    return {"candidates": cands}


def merge(events: list[dict[str, Any]]) -> dict[str, Any]:
    """Events -> one GenerateContentResponse (adjacent text parts joined, as Gemini does)."""
    if not events[0].get("candidates"):
        return events[0]
    merged: dict[int, dict[str, Any]] = {}
    for e in events:
        for cand in e["candidates"]:
            idx = cand.get("index", 0)
            slot = merged.setdefault(idx, {"content": {"parts": [], "role": "model"}, "index": idx})
            parts = slot["content"]["parts"]
            for p in cand["content"]["parts"]:
                prev = parts[-1] if parts else {}
                same = p.get("thought") == prev.get("thought") and "thoughtSignature" not in prev
                if "text" in p and "text" in prev and same:
                    parts[-1] = {**prev, **p, "text": prev["text"] + p["text"]}
                else:
                    parts.append(p)
            if "finishReason" in cand:
                slot["finishReason"] = cand["finishReason"]
    last = events[-1]
    return {
        "candidates": [merged[i] for i in sorted(merged)],
        "usageMetadata": last["usageMetadata"],
        "modelVersion": last["modelVersion"],
        "responseId": "mock-response-1",
    }


# --- embeddings: the Gemini API's batchEmbedContents and Vertex AI's text-embeddings predict

EMBED_DIMS = 8


def embedding(text: str, dims: int | None) -> list[float]:
    """A deterministic vector per text, the same for texts that differ only in case, spacing
    or final punctuation (so a semantic-cache test can get a near-duplicate hit)."""
    from tests.cache.mock_embeddings import hashed_vector

    return hashed_vector(" ".join(text.lower().split()).rstrip("?!."), dims or EMBED_DIMS)


def embed_answer(method: str, model: str, body: dict[str, Any]) -> web.Response:
    if model == "bad-answer":  # a 200 the gateway cannot read
        return web.json_response({"embeddings": "nope"})
    if method == "batchEmbedContents":
        out = []
        for req in body.get("requests", []):
            if req.get("model") != f"models/{model}":
                return google_error(400, "requests[].model must match the URL's model")
            text = " ".join(p["text"] for p in req["content"]["parts"])
            out.append({"values": embedding(text, req.get("outputDimensionality"))})
        if not out:
            return google_error(400, "* BatchEmbedContentsRequest.requests: must not be empty")
        return web.json_response({"embeddings": out})
    instances = body.get("instances", [])
    if not instances or ("gemini" in model and len(instances) > 1):
        return google_error(400, f"{model} takes one instance per request")
    dims = body.get("parameters", {}).get("outputDimensionality")
    predictions = [
        {
            "embeddings": {
                "values": embedding(i["content"], dims),
                "statistics": {"token_count": len(i["content"].split()), "truncated": False},
            }
        }
        for i in instances
    ]
    chars = sum(len(i["content"]) for i in instances)
    metadata = {"billableCharacterCount": chars}
    return web.json_response({"predictions": predictions, "metadata": metadata})
