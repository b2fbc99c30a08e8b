"""A mock Bedrock runtime speaking Converse and ConverseStream as the API reference documents.

``POST /model/{modelId}/converse`` answers a Converse JSON response;
``POST /model/{modelId}/converse-stream`` answers ``application/vnd.amazon.eventstream``
binary frames (messageStart, contentBlockStart/Delta/Stop, messageStop, metadata), each
with its CRCs. Errors are ``{"message": ...}`` with the ``x-amzn-ErrorType`` header.
``/invoke`` and ``/invoke-with-response-stream`` serve Claude's Messages body
(``mock_claude.py``).
``test_mock_sdk.py`` proves the format with the official boto3 client. ``POST
/model/{modelId}/invoke`` answers the embedding models (``mock_invoke.py``).

Auth is checked like AWS does: a SigV4 ``Authorization`` header is verified in full (the
signature is recomputed over the path as it arrived, the signed headers and the body hash,
with the secret of a known access key, and the session token when the key has one), or a
Bedrock API key as ``Authorization: Bearer``. Anything else is a 403.

The request is validated as Converse does (only known top-level keys, a conversation that
starts with a user turn and alternates, no empty text, tool blocks only with a toolConfig,
each toolResult answering a toolUse of the previous turn). What it answers:

- the reply: ``results: <quoted toolResults>`` when the last user turn holds them, else
  ``echo: <last user text>`` plus ``[N image(s)]`` when images were sent
- ``outputConfig.textFormat`` -> JSON text built from the schema (strings hold the reply)
- a toolConfig with a toolChoice and no results to read -> a toolUse of the chosen tool
  (``any``: the first; an open schema gets ``{"echo": reply}``); model names containing
  ``parallel`` get two calls after a short text
- otherwise -> the reply as text
- thinking (``additionalModelRequestFields``) and ``cachePoint`` blocks: see
  ``mock_reasoning.py``

Model names pick failures: ``error-<status>`` (native error), ``garbage`` (HTML 500),
``midstream-error`` (a throttlingException frame after two deltas), ``stream-throttled``
(a 200 stream whose first frame is a throttlingException), ``truncated`` (the
stream stops before messageStop), ``bad-crc`` (a frame with a wrong CRC); and answers:
``max-tokens``, ``guardrail`` (those stop reasons), ``cached`` (cache read tokens),
``split`` (stream bytes written 7 at a time).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from aiohttp import web

from tests.providers.bedrock import frames
from tests.providers.bedrock import mock_reasoning as thinking

CITIES = ["Paris", "Tokyo", "Lima"]
ERRORS = {
    400: "ValidationException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    408: "ModelTimeoutException",
    424: "ModelErrorException",
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
}
TOP_LEVEL = {
    "messages",
    "system",
    "inferenceConfig",
    "toolConfig",
    "guardrailConfig",
    "additionalModelRequestFields",
    "promptVariables",
    "additionalModelResponseFieldPaths",
    "requestMetadata",
    "performanceConfig",
    "serviceTier",
    "outputConfig",
}
_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[A-Z0-9]+)/(?P<date>\d{8})/(?P<region>[a-z0-9-]+)/"
    r"(?P<service>[a-z0-9-]+)/aws4_request, SignedHeaders=(?P<signed>[a-z0-9;-]+), "
    r"Signature=(?P<sig>[0-9a-f]{64})$"
)


def error_response(status: int, message: str, etype: str | None = None) -> web.Response:
    etype = etype or ERRORS.get(status, "InternalServerException")
    return web.json_response(
        {"message": message},
        status=status,
        headers={
            "x-amzn-ErrorType": f"{etype}:http://internal.amazon.com/coral/com.amazon.bedrock/",
            "x-amzn-RequestId": "7c5f5a8e-0000-4000-8000-000000000001",
        },
    )


class Invalid(Exception):
    pass


class MockBedrock:
    def __init__(
        self,
        keys: dict[str, tuple[str, str | None]] | None = None,
        api_keys: tuple[str, ...] = (),
    ) -> None:
        self.keys = keys or {}  # access key id -> (secret, session token or None)
        self.api_keys = api_keys
        self.requests: list[dict[str, Any]] = []
        self.cache: set[str] = set()  # prompt prefixes written at cache points

    @property
    def last(self) -> dict[str, Any]:
        return self.requests[-1]["json"]  # type: ignore[no-any-return]

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/model/{model_id}/converse", self.converse)
        app.router.add_post("/model/{model_id}/converse-stream", self.converse)
        app.router.add_post("/model/{model_id}/invoke", self.invoke)
        app.router.add_post("/model/{model_id}/invoke-with-response-stream", self.invoke)
        app.router.add_get("/foundation-models", self.foundation_models)
        return app

    async def foundation_models(self, request: web.Request) -> web.Response:
        """ListFoundationModels (the control plane's ``GET /foundation-models``)."""
        denied = self.check_auth(request, b"")
        if denied is not None:
            return error_response(403, denied, "UnrecognizedClientException")
        self.requests.append({"raw_path": request.raw_path, "headers": dict(request.headers)})
        summaries = [
            {
                "modelArn": f"arn:aws:bedrock:eu-west-3::foundation-model/{mid}",
                "modelId": mid,
                "modelName": name,
                "providerName": provider,
                "inputModalities": ["TEXT"],
                "outputModalities": ["TEXT"],
                "responseStreamingSupported": True,
                "customizationsSupported": [],
                "inferenceTypesSupported": ["ON_DEMAND"],
                "modelLifecycle": {"status": "ACTIVE"},
            }
            for mid, name, provider in (
                ("anthropic.claude-3-haiku-20240307-v1:0", "Claude 3 Haiku", "Anthropic"),
                ("amazon.titan-embed-text-v2:0", "Titan Text Embeddings V2", "Amazon"),
            )
        ]
        return web.json_response({"modelSummaries": summaries})

    async def invoke(self, request: web.Request) -> web.StreamResponse:
        """InvokeModel for the embedding models (tests.providers.bedrock.mock_invoke) and for
        Claude (tests.providers.bedrock.mock_claude), streamed or not."""
        from tests.providers.bedrock.mock_claude import invoke_claude
        from tests.providers.bedrock.mock_invoke import invoke_embeddings

        raw = await request.read()
        model = request.match_info["model_id"]
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        self.requests.append(
            {
                "raw_path": request.raw_path,
                "model": model,
                "invoke": True,
                "headers": dict(request.headers),
                "json": body,
            }
        )
        denied = self.check_auth(request, raw)
        if denied is not None:
            return error_response(403, denied, "UnrecognizedClientException")
        if failure := re.match(r"error-(\d{3})", model):  # error-429-amazon.titan-...
            status = int(failure[1])
            return error_response(status, f"mock failure {status}")
        if "anthropic.claude" in model:
            stream = request.path.endswith("/invoke-with-response-stream")
            return await invoke_claude(request, model, body, stream, self.cache)
        return invoke_embeddings(model, body)

    # ------------------------------------------------------------ auth

    def check_auth(self, request: web.Request, body: bytes) -> str | None:
        """None when the request is authenticated, else AWS's error message."""
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            return None if auth[7:] in self.api_keys else "Invalid API Key format or value"
        m = _AUTH.match(auth)
        if m is None:
            return "Missing Authentication Token"
        if m["service"] != "bedrock" or m["key"] not in self.keys:
            return "The security token included in the request is invalid."
        secret, token = self.keys[m["key"]]
        amz_date = request.headers.get("X-Amz-Date", "")
        signed = m["signed"].split(";")
        if not amz_date.startswith(m["date"]) or "host" not in signed or "x-amz-date" not in signed:
            return "Signature expired or the credential scope does not match"
        when = dt.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
        if abs((dt.datetime.now(dt.UTC) - when).total_seconds()) > 300:
            return "Signature expired"
        if token is not None and (
            request.headers.get("X-Amz-Security-Token") != token
            or "x-amz-security-token" not in signed
        ):
            return "The security token included in the request is invalid."
        if m["sig"] != expected_signature(request, body, m["key"], secret, token, m["region"]):
            return "The request signature we calculated does not match the signature you provided."
        return None

    # ------------------------------------------------------------ endpoint

    async def converse(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        stream = request.path.endswith("/converse-stream")
        model = request.match_info["model_id"]
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        self.requests.append(
            {
                "raw_path": request.raw_path,
                "model": model,
                "stream": stream,
                "headers": dict(request.headers),
                "json": body,
            }
        )
        denied = self.check_auth(request, raw)
        if denied is not None:
            etype = "AccessDeniedException"
            if "signature" in denied:
                etype = "InvalidSignatureException"
            elif "token" in denied or "API Key" in denied:
                etype = "UnrecognizedClientException"
            return error_response(403, denied, etype)
        if model.startswith("error-"):
            status = int(model.split("-", 1)[1])
            return error_response(status, f"mock failure {status}")
        if model == "garbage":
            return web.Response(text="<html>bad gateway</html>", status=500)
        if not isinstance(body, dict):
            return error_response(400, "Malformed input request, please reformat your input")
        try:
            validate(body)
        except Invalid as exc:
            return error_response(400, str(exc))
        problem = thinking.reasoning_error(body) or thinking.cache_error(body)
        if problem:
            return error_response(400, problem)
        blocks, stop = answer(body, model)
        said = _user_text(body["messages"][-1]["content"])
        blocks = thinking.reasoning_blocks(body, model, said) + blocks
        usage = {"inputTokens": 10 + len(raw) // 100, "outputTokens": 7}
        if model == "cached":
            usage["cacheReadInputTokens"] = 1024
            usage["cacheWriteInputTokens"] = 0
        usage.update(thinking.cache_usage(self.cache, body))
        usage["totalTokens"] = sum(usage.values())
        if stream:
            return await self.stream(request, blocks, stop, usage, model)
        return web.json_response(
            {
                "output": {"message": {"role": "assistant", "content": blocks}},
                "stopReason": stop,
                "usage": usage,
                "metrics": {"latencyMs": 12},
            },
            headers={"x-amzn-RequestId": "7c5f5a8e-0000-4000-8000-000000000002"},
        )

    async def stream(
        self,
        request: web.Request,
        blocks: list[dict[str, Any]],
        stop: str,
        usage: dict[str, int],
        model: str,
    ) -> web.StreamResponse:
        resp = web.StreamResponse(
            headers={
                "Content-Type": "application/vnd.amazon.eventstream",
                "x-amzn-RequestId": "7c5f5a8e-0000-4000-8000-000000000003",
            }
        )
        await resp.prepare(request)
        if model == "stream-throttled":  # a 200 whose first frame is the exception
            return await _write(resp, [frames.exception("throttlingException", "Slow down")], model)
        out = [frames.event("messageStart", {"p": "abcdef", "role": "assistant"})]
        deltas = 0
        for i, block in enumerate(blocks):
            if "reasoningContent" in block:
                out += [
                    frames.event("contentBlockDelta", d) for d in thinking.stream_frames(i, block)
                ]
            elif "toolUse" in block:
                use = block["toolUse"]
                start = {"toolUse": {"toolUseId": use["toolUseId"], "name": use["name"]}}
                out.append(
                    frames.event("contentBlockStart", {"contentBlockIndex": i, "start": start})
                )
                args = json.dumps(use["input"])
                pieces = [args[: len(args) // 2], args[len(args) // 2 :]]
                out += [
                    frames.event(
                        "contentBlockDelta",
                        {"contentBlockIndex": i, "delta": {"toolUse": {"input": p}}, "p": "ab"},
                    )
                    for p in pieces
                ]
            else:
                words = block["text"].split(" ")
                pieces = [w + " " for w in words[:-1]] + [words[-1]]
                for p in pieces:
                    deltas += 1
                    if model == "midstream-error" and deltas == 3:
                        out.append(frames.exception("throttlingException", "Too many tokens"))
                        return await _write(resp, out, model)
                    delta = {"contentBlockIndex": i, "delta": {"text": p}, "p": "abcd"}
                    out.append(frames.event("contentBlockDelta", delta))
            out.append(frames.event("contentBlockStop", {"contentBlockIndex": i, "p": "a"}))
        if model == "truncated":
            return await _write(resp, out, model)
        out.append(frames.event("messageStop", {"stopReason": stop, "p": "abcdefgh"}))
        if model == "bad-crc":
            last = bytearray(out[-1])
            last[-1] ^= 0xFF
            out[-1] = bytes(last)
        out.append(frames.event("metadata", {"usage": usage, "metrics": {"latencyMs": 9}}))
        return await _write(resp, out, model)


async def _write(resp: web.StreamResponse, out: list[bytes], model: str) -> web.StreamResponse:
    data = b"".join(out)
    step = 7 if model == "split" else None
    if step:
        for k in range(0, len(data), step):
            await resp.write(data[k : k + step])
    else:
        for f in out:
            await resp.write(f)
    await resp.write_eof()
    return resp


def expected_signature(
    request: web.Request, body: bytes, key: str, secret: str, token: str | None, region: str
) -> str:
    """Recompute SigV4 over the request exactly as it arrived (path, signed headers, body)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    m = _AUTH.match(request.headers["Authorization"])
    assert m is not None
    headers = {h: request.headers[h] for h in m["signed"].split(";")}
    aws = AWSRequest(
        method=request.method,
        url=f"http://{request.host}{request.raw_path}",
        data=body,
        headers=headers,
    )
    aws.context["timestamp"] = request.headers["X-Amz-Date"]
    signer = SigV4Auth(Credentials(key, secret, token), "bedrock", region)
    canonical = signer.canonical_request(aws)
    return str(signer.signature(signer.string_to_sign(aws, canonical), aws))


# ------------------------------------------------------------ validation and answers


def validate(body: dict[str, Any]) -> None:
    extra = set(body) - TOP_LEVEL
    if extra:
        raise Invalid(
            f"Malformed input request: extraneous key [{sorted(extra)[0]}] is not permitted"
        )
    messages = body.get("messages") or []
    if not messages or messages[0].get("role") != "user":
        raise Invalid("A conversation must start with a user message. Try again.")
    has_tools = "toolConfig" in body
    for i, msg in enumerate(messages):
        if i and msg["role"] == messages[i - 1]["role"]:
            raise Invalid("A conversation must alternate between user and assistant roles.")
        if not msg.get("content"):
            raise Invalid(f"messages.{i}.content: content must not be empty")
        for block in msg["content"]:
            if block.get("text") == "":
                raise Invalid("The text field in the ContentBlock object is blank.")
            if ("toolUse" in block or "toolResult" in block) and not has_tools:
                raise Invalid(
                    "The toolConfig field must be defined when using toolUse and toolResult "
                    "content blocks."
                )
            if "toolResult" in block:
                prev = messages[i - 1]["content"] if i else []
                ids = {b["toolUse"]["toolUseId"] for b in prev if "toolUse" in b}
                if block["toolResult"]["toolUseId"] not in ids:
                    raise Invalid("toolResult blocks must answer a toolUse of the previous turn")
    for sys_block in body.get("system", []):
        if "cachePoint" not in sys_block and not sys_block.get("text"):
            raise Invalid("The text field in the SystemContentBlock object is blank.")


def value_for(schema: dict[str, Any], filler: str, name: str = "") -> Any:
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        return {k: value_for(v, filler, k) for k, v in props.items()}
    if kind == "array":
        return [value_for(schema.get("items", {}), filler)]
    if kind in ("number", "integer"):
        return 21
    if kind == "boolean":
        return True
    return "Paris" if name == "city" else filler


def answer(body: dict[str, Any], model: str) -> tuple[list[dict[str, Any]], str]:
    last = body["messages"][-1]["content"]
    results = [b["toolResult"] for b in last if "toolResult" in b]
    stop = {"max-tokens": "max_tokens", "guardrail": "guardrail_intervened"}.get(model, "end_turn")
    if results:
        quoted = []
        for r in results:
            for c in r["content"]:
                quoted.append(c["text"] if "text" in c else json.dumps(c["json"], sort_keys=True))
        reply = "results: " + "; ".join(quoted)
    else:
        images = sum(1 for b in last if "image" in b)
        reply = "echo: " + _user_text(last) + (f" [{images} image(s)]" if images else "")
    fmt = (body.get("outputConfig") or {}).get("textFormat")
    if fmt:
        schema = json.loads(fmt["structure"]["jsonSchema"]["schema"])
        return [{"text": json.dumps(value_for(schema, reply))}], stop
    tool_config = body.get("toolConfig") or {}
    choice = tool_config.get("toolChoice")
    if choice and not results:
        specs = [t["toolSpec"] for t in tool_config["tools"]]
        name = choice["tool"]["name"] if "tool" in choice else specs[0]["name"]
        spec = next(s for s in specs if s["name"] == name)
        calls = 2 if "parallel" in model else 1
        blocks: list[dict[str, Any]] = [{"text": "Let me check."}] if calls > 1 else []
        for k in range(calls):
            schema = spec["inputSchema"]["json"]
            tool_input = value_for(schema, reply) if "properties" in schema else {"echo": reply}
            if "city" in tool_input:
                tool_input["city"] = CITIES[k]
            blocks.append(
                {"toolUse": {"toolUseId": f"tooluse_mock{k}", "name": name, "input": tool_input}}
            )
        return blocks, "tool_use"
    return [{"text": reply}], stop


def _user_text(content: list[dict[str, Any]]) -> str:
    return " ".join(b["text"] for b in content if "text" in b)
