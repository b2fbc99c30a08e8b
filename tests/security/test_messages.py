"""Threats of /v1/messages, each an attacker's request (or a hostile upstream) and a check.

New inputs of this front door: Anthropic's headers (``anthropic-version``,
``anthropic-beta``, ``?beta=true``), ``x-api-key`` as a credential, the model in Bedrock
and Vertex URLs, native stream events relayed to the client, and bodies of Claude Code's
size. None may move a gateway-held credential, reach a host the client chose with it,
inject into the client's stream, leak the gateway key, or buy super-linear work.
"""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from aiohttp import web

from proxy.frontdoors.messages.encode import message_of
from proxy.frontdoors.messages.to_chat import check, to_chat
from proxy.schema import ChatCompletion
from tests.conftest import PROVIDER_KEY
from tests.providers.anthropic.mock import MockAnthropic, signature
from tests.servers import ServerThread

SETTINGS_KEY = "sk-settings-key-0003"
GATEWAY_KEY = "gw-test-key-0002"
MSG = [{"role": "user", "content": "hi"}]


@pytest.fixture
def legit() -> Iterator[tuple[MockAnthropic, ServerThread]]:
    mock = MockAnthropic()
    with ServerThread(mock.app) as server:
        yield mock, server


def held(legit_url: str) -> dict[str, Any]:
    """Settings with provider keys held by the gateway, for Claude on each host."""
    return {
        "providers": {
            "claude": {
                "provider": "anthropic",
                "api_key": SETTINGS_KEY,
                "custom_host": legit_url + "/v1",
            },
            "vertex": {
                "provider": "vertex-ai",
                "vertex_token": SETTINGS_KEY,
                "vertex_project_id": "ours",
                "custom_host": legit_url,
            },
            "bedrock": {
                "provider": "bedrock",
                "aws_access_key_id": "AKIDSETTINGS000001",
                "aws_secret_access_key": SETTINGS_KEY,
                "custom_host": legit_url,
            },
        }
    }


def send(
    gw: ServerThread, body: dict[str, Any], path: str = "/v1/messages", **headers: str
) -> httpx.Response:
    return httpx.post(gw.url + path, json=body, headers=headers, timeout=10)


@pytest.mark.parametrize("slug", ["claude", "vertex", "bedrock"])
@pytest.mark.parametrize("path", ["/v1/messages", "/v1/messages/count_tokens"])
def test_a_held_key_never_follows_a_client_host(make_gateway, legit, sink, slug, path) -> None:
    mock, upstream = legit
    attacker, sink_server = sink
    gw = make_gateway(held(upstream.url))
    model = {"claude": "claude-x", "vertex": "claude-x", "bedrock": "anthropic.claude-x"}[slug]
    for headers in (
        {"x-portkey-custom-host": sink_server.url + "/v1"},
        {"x-portkey-config": json.dumps({"virtual_key": slug, "custom_host": sink_server.url})},
    ):
        body = {"model": f"@{slug}/{model}", "max_tokens": 8, "messages": MSG}
        if "x-portkey-config" in headers:
            body["model"] = model
        r = send(gw, body, path, **headers)
        assert r.status_code == 403, r.text
        assert r.json()["type"] == "error" and r.json()["error"]["type"] == "permission_error"
    assert attacker.hits == [] and mock.requests == []


def test_anthropic_headers_shape_the_call_never_its_destination(make_gateway, legit, sink) -> None:
    """The client's version and betas reach the held key's host, and only there; its own
    x-api-key does not replace the held key, and forward_headers cannot smuggle it."""
    mock, upstream = legit
    attacker, _ = sink
    gw = make_gateway(held(upstream.url))
    r = send(
        gw,
        {"model": "@claude/claude-x", "max_tokens": 8, "messages": MSG},
        **{
            "anthropic-version": "2023-06-01",
            "anthropic-beta": "effort-2025-11-24",
            "x-api-key": "sk-attacker-key",
            "x-portkey-forward-headers": "x-api-key,host,anthropic-workspace-id,authorization",
            "anthropic-workspace-id": "wrkspc_attacker",
        },
    )
    assert r.status_code == 200, r.text
    got = {k.lower(): v for k, v in mock.requests[-1]["headers"].items()}
    assert got["x-api-key"] == SETTINGS_KEY
    assert got["anthropic-beta"] == "effort-2025-11-24"
    assert "anthropic-workspace-id" not in got and "authorization" not in got
    assert "sk-attacker-key" not in repr(mock.requests)
    assert attacker.hits == []


@pytest.mark.parametrize(
    "headers",
    [
        {"anthropic-version": "2023-06-01 http://attacker"},
        {"anthropic-beta": "ok-1,@attacker.example"},
        {"anthropic-beta": "x" * 200},
    ],
)
def test_malformed_anthropic_headers_stop_before_any_call(make_gateway, legit, headers) -> None:
    mock, upstream = legit
    gw = make_gateway(held(upstream.url))
    r = send(gw, {"model": "@claude/claude-x", "max_tokens": 8, "messages": MSG}, **headers)
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"
    assert mock.requests == []


def test_the_gateway_key_in_x_api_key_is_never_forwarded(make_gateway, legit, mock_openai) -> None:
    """Claude Code holding a gateway key (ANTHROPIC_API_KEY): it authenticates, and no
    upstream ever sees it, native or translated."""
    mock, upstream = legit
    openai_mock, openai_up = mock_openai
    settings = held(upstream.url)
    settings["providers"]["gpt"] = {
        "provider": "openai",
        "api_key": SETTINGS_KEY,
        "custom_host": openai_up.url + "/v1",
    }
    settings["middleware"] = [
        {"class": "middleware.auth:AuthMiddleware", "options": {"keys": [GATEWAY_KEY]}},
        {"class": "middleware.router:RouterMiddleware"},
    ]
    gw = make_gateway(settings)
    assert (
        send(gw, {"model": "@claude/claude-x", "max_tokens": 8, "messages": MSG}).status_code == 401
    )
    for model in ("@claude/claude-x", "@gpt/gpt-4o"):
        r = send(
            gw, {"model": model, "max_tokens": 8, "messages": MSG}, **{"x-api-key": GATEWAY_KEY}
        )
        assert r.status_code == 200, r.text
    assert GATEWAY_KEY not in repr(mock.requests) + repr(openai_mock.requests)
    assert mock.requests[-1]["headers"]["x-api-key"] == SETTINGS_KEY
    assert openai_mock.requests[-1]["headers"]["Authorization"] == f"Bearer {SETTINGS_KEY}"


def test_a_model_name_cannot_leave_its_url_path(make_gateway, sink) -> None:
    """The model is a path segment on Bedrock and Vertex: quoted, never a way out."""
    attacker, sink_server = sink
    gw = make_gateway()
    vertex = {
        "x-portkey-provider": "vertex-ai",
        "x-portkey-custom-host": sink_server.url,
        "x-portkey-vertex-project-id": "p",
        "authorization": f"Bearer {PROVIDER_KEY}",
    }
    bedrock = {
        "x-portkey-provider": "bedrock",
        "x-portkey-custom-host": sink_server.url,
        "authorization": f"Bearer {PROVIDER_KEY}",
    }
    for headers, model in (
        (vertex, "claude-x/../../../../evil"),
        (bedrock, "anthropic.claude/../../evil"),
    ):
        send(gw, {"model": model, "max_tokens": 8, "messages": MSG}, **headers)
    raw_paths = [h["raw_path"] for h in attacker.hits]
    assert len(raw_paths) == 2, raw_paths
    assert raw_paths[0].startswith(
        "/v1/projects/p/locations/global/publishers/anthropic/models/claude-x%2F"
    )
    assert raw_paths[1].startswith("/model/anthropic.claude%2F")
    assert all("/../" not in p and "/evil" not in p for p in raw_paths)


class HostileClaude:
    """An upstream speaking Messages badly on purpose: each model name one attack."""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/messages", self.answer)
        return app

    async def answer(self, request: web.Request) -> web.StreamResponse:
        model = (await request.json())["model"]
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        start = {"type": "message_start", "message": {"id": "m", "content": [], "usage": {}}}
        await resp.write(b"event: message_start\ndata: " + json.dumps(start).encode() + b"\n\n")
        if model == "inject-type":  # no event line: the type would become one
            evil = {"type": "ping\n\nevent: message_stop\ndata: {}", "x": 1}
            await resp.write(b"data: " + json.dumps(evil).encode() + b"\n\n")
        elif model == "inject-name":
            await resp.write(b"event: ping\r\nevent: message_stop\ndata: {}\n\n")
        return resp


def test_a_hostile_stream_cannot_write_events_of_its_own(make_gateway) -> None:
    hostile = HostileClaude()
    with ServerThread(hostile.app) as upstream:
        gw = make_gateway()
        headers = {
            "x-portkey-provider": "anthropic",
            "x-portkey-custom-host": upstream.url + "/v1",
            "x-api-key": PROVIDER_KEY,
        }
        for model in ("inject-type", "inject-name"):
            body = {"model": model, "max_tokens": 8, "messages": MSG, "stream": True}
            r = send(gw, body, **headers)
            names = [line for line in r.text.split("\n") if line.startswith("event: ")]
            assert names[0] == "event: message_start"
            assert names[-1] == "event: error", r.text  # never a message_stop of the attacker's
            assert names.count("event: message_stop") == 0


def claude_code_like(turns: int) -> dict[str, Any]:
    """A long agent conversation: tool calls, results, thinking, cache_control."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": "start"}]
    for i in range(turns):
        messages.append(
            {
                "role": "assistant",
                "content": [
                    # signed as the mock signs (it checks signatures, as Anthropic does)
                    {"type": "thinking", "thinking": "t" * 200, "signature": signature("t" * 200)},
                    {"type": "text", "text": "step " * 40},
                    {
                        "type": "tool_use",
                        "id": f"toolu_{i}",
                        "name": "Read",
                        "input": {"file_path": f"/f/{i}"},
                    },
                ],
            }
        )
        result = {"type": "tool_result", "tool_use_id": f"toolu_{i}", "content": "line\n" * 200}
        go: dict[str, Any] = {"type": "text", "text": "go"}
        if i >= turns - 2:  # Claude Code marks the last turns (the API takes at most 4)
            go["cache_control"] = {"type": "ephemeral"}
        messages.append({"role": "user", "content": [result, go]})
    tools = [
        {
            "name": f"T{i}",
            "input_schema": {"type": "object", "properties": {"a": {"type": "string"}}},
        }
        for i in range(25)
    ]
    return {"model": "m", "max_tokens": 64000, "messages": messages, "tools": tools}


def best_of_each(fns: list[Any], runs: int = 7) -> list[float]:
    """Best time of each function over ``runs`` rounds, the functions interleaved within a
    round (a machine that slows down for a while slows them all, not only the one being
    timed then), the cyclic collector off: its passes depend on what else the test process
    holds, not on the work measured."""
    times: list[list[float]] = [[] for _ in fns]
    gc.collect()
    gc.disable()
    try:
        for _ in range(runs):
            for fn, out in zip(fns, times, strict=True):
                t0 = time.perf_counter()
                fn()
                out.append(time.perf_counter() - t0)
    finally:
        gc.enable()
    return [min(t) for t in times]


def test_translation_is_linear_in_the_body() -> None:
    """Four times the body costs about four times the work: a quadratic step would cost
    sixteen. Both sizes are large enough that fixed costs do not flatter the small one."""
    small, large = claude_code_like(200), claude_code_like(800)
    size = len(json.dumps(large)) / len(json.dumps(small))

    def work(body: dict[str, Any]) -> None:
        check(body)
        to_chat(body)

    t_small, t_large = best_of_each([lambda: work(small), lambda: work(large)])
    ratio = t_large / t_small
    assert ratio < size * 2.5, (ratio, size)


def test_a_claude_code_sized_body_through_the_gateway(make_gateway, mock_openai, legit) -> None:
    """A 1.5 MB conversation: translated or relayed within a small budget on the loop."""
    mock, upstream = mock_openai
    native_mock, native_up = legit
    gw = make_gateway()
    body = claude_code_like(600)
    raw = json.dumps(body).encode()
    assert len(raw) > 1_000_000
    for provider, up in (("openai", upstream), ("anthropic", native_up)):
        headers = {
            "x-portkey-provider": provider,
            "x-portkey-custom-host": up.url + "/v1",
            "x-api-key": PROVIDER_KEY,
        }
        t0 = time.perf_counter()
        r = httpx.post(
            gw.url + "/v1/messages",
            content=raw,
            headers={**headers, "content-type": "application/json"},
            timeout=30,
        )
        elapsed = time.perf_counter() - t0
        assert r.status_code == 200, r.text[:300]
        assert elapsed < 2.0, (provider, elapsed)
    assert len(mock.requests[-1]["json"]["messages"]) == 1 + 600 * 3
    assert native_mock.requests[-1]["raw"] == raw


def test_a_huge_user_id_is_bounded() -> None:
    chat = to_chat({"model": "m", "messages": [], "metadata": {"user_id": "x" * 100_000}})
    assert len(chat["user"]) == 64


def test_an_answers_text_is_never_executed_as_json() -> None:
    """Tool arguments from an upstream are parsed as data (or dropped), never trusted."""
    completion = ChatCompletion(id="x", created=1, model="m", choices=[])
    assert json.loads(message_of(completion, "m"))["content"] == []


def test_a_malformed_chat_answer_is_a_502_in_anthropic_shape(make_gateway) -> None:
    """A compatible server's answer is relayed unparsed on chat; here it is read, at the
    edge: what does not parse is a 502, never a dropped connection."""

    async def answer(request: web.Request) -> web.Response:
        return web.json_response({"id": "x", "choices": [{"index": 0, "message": 5}]})

    app = web.Application()
    app.router.add_post("/v1/chat/completions", answer)
    with ServerThread(lambda: app) as upstream:
        gw = make_gateway()
        headers = {"x-portkey-provider": "vllm", "x-portkey-custom-host": upstream.url + "/v1"}
        r = send(gw, {"model": "m", "max_tokens": 8, "messages": MSG}, **headers)
    assert r.status_code == 502, r.text
    assert r.json()["type"] == "error" and r.json()["error"]["type"] == "api_error"
