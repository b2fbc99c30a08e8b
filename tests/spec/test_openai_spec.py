"""OpenAI's own OpenAPI document against the gateway (forward compatibility).

For each operation the gateway serves, requests are drawn from the spec's request schema
(tests/spec/openai.json, cut from openai/openai-openapi) and sent through the real gateway
to a mock upstream that validates them against the same schema. Every one must arrive as
the same JSON the client sent, and every answer the gateway returns must validate against
the spec's response schemas: the completion, each stream chunk, the embeddings, the model
list, and the error shape (the mock answers with spec-valid errors too).

The default size runs in CI in well under a minute; ``HYPOTHESIS_PROFILE=long`` runs
thousands per operation (``make spec``). The count of examples run is printed at the end.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from proxy.app import create_app
from proxy.settings import parse_settings
from tests.servers import ServerThread
from tests.spec.generate import valid
from tests.spec.mock import SpecUpstream
from tests.spec.openapi import OPERATIONS, SPEC, errors, schema

LONG = os.environ.get("HYPOTHESIS_PROFILE") == "long"
EXAMPLES = 2000 if LONG else 120
RUN: Counter[str] = Counter()
STREAMING = {"createChatCompletion", "createCompletion"}  # `stream: true` is valid for both
ERROR_STATUSES = [400, 401, 403, 404, 409, 422, 429, 500, 503]
SPEC_RUN = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
    # each example is a round trip through two servers: shrinking a failure can take
    # minutes, so CI reports the example as drawn and the long run shrinks it
    phases=list(Phase) if LONG else [Phase.explicit, Phase.generate],
)


class Env:
    def __init__(self, gw: ServerThread, mock: SpecUpstream, upstream: ServerThread) -> None:
        self.gw, self.mock, self.upstream = gw, mock, upstream
        self.http = httpx.Client(base_url=gw.url, timeout=30)
        self.keys = 0

    def headers(self) -> dict[str, str]:
        self.keys += 1  # a key per request: GET /v1/models answers are cached per key
        return {
            "authorization": f"Bearer sk-spec-{self.keys}",
            "x-portkey-provider": "openai",
            "x-portkey-custom-host": self.upstream.url + "/v1",
            "content-type": "application/json",
        }


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    mock = SpecUpstream()
    with ServerThread(mock.app) as upstream:
        raw = {"providers": {"cat": {"provider": "openai", "models": ["gpt-4o", "o3"]}}}
        gw = ServerThread(lambda: create_app(parse_settings(raw, {}))).start()
        e = Env(gw, mock, upstream)
        try:
            yield e
        finally:
            e.http.close()
            gw.stop()
    source = SPEC["source"]
    total = sum(n for k, n in RUN.items() if k in OPERATIONS)
    print(
        f"\nOpenAI spec {source['api_version']} ({source['commit'][:12]}, {source['date']}): "
        f"{total} examples run: {dict(RUN)}"
    )


def answer(data: st.DataObject, op: dict[str, Any], stream: bool) -> tuple[int, Any]:
    """The upstream's answer: a spec-valid error now and then, else a spec-valid answer
    (stream events for a stream request)."""
    if data.draw(st.sampled_from([False, False, False, False, True]), label="error?"):
        status = data.draw(st.sampled_from(ERROR_STATUSES), label="status")
        return status, data.draw(valid(schema("ErrorResponse")), label="error")
    responses = op["responses"]
    if stream:  # the completions endpoint streams objects of its answer's shape
        event = responses.get("text/event-stream", responses["application/json"])
        return 200, data.draw(st.lists(valid(schema(event)), min_size=1, max_size=3))
    return 200, data.draw(valid(schema(responses["application/json"])), label="answer")


def events(r: httpx.Response) -> list[Any]:
    out = []
    for line in r.text.splitlines():
        if line.startswith("data: ") and line != "data: [DONE]":
            out.append(json.loads(line[6:]))
    assert r.text.rstrip().endswith("data: [DONE]"), r.text[-200:]
    return out


def check_answer(r: httpx.Response, op: dict[str, Any], sent: tuple[int, Any]) -> None:
    status, payload = sent
    if status != 200:
        assert r.status_code == status, r.text[:500]
        assert errors("ErrorResponse", r.json()) == []
        return
    assert r.status_code == 200, f"the gateway refused a spec-valid answer: {r.text[:500]}"
    responses = op["responses"]
    if isinstance(payload, list):
        name = responses.get("text/event-stream", responses["application/json"])
        got = events(r)
        for event in got:
            assert errors(name, event) == []
        assert got == payload
        return
    body = r.json()
    assert errors(responses["application/json"], body) == []
    assert body == payload


def _asks_usage(body: dict[str, Any]) -> bool:
    options = body.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


def _usage_event(event: Any) -> bool:
    """OpenAI's last event when usage is asked for: usage, and no choices."""
    return isinstance(event, dict) and event.get("usage") is not None and event.get("choices") == []


def _routable(body: dict[str, Any]) -> bool:
    """``model: "@slug/model"`` is the gateway's contract (a provider from settings), so a
    generated model of that form is not sent: it would route, not pass through."""
    return not str(body.get("model", "")).startswith("@")


@pytest.mark.parametrize("op_id", ["createChatCompletion", "createCompletion", "createEmbedding"])
@SPEC_RUN
@given(data=st.data())
def test_spec_requests_reach_the_upstream_unchanged(env: Env, op_id: str, data: Any) -> None:
    op = OPERATIONS[op_id]
    body = data.draw(valid(schema(op["request"])).filter(_routable), label="request")
    if op_id in STREAMING and data.draw(st.booleans(), label="stream?"):
        body["stream"] = True  # streams are what break: half the requests that may stream do
    stream = body.get("stream") is True
    sent = answer(data, op, stream)
    env.mock.answer = sent
    env.mock.received.clear()
    raw = json.dumps(body).encode()
    r = env.http.post("/v1" + op["path"], content=raw, headers=env.headers())
    assert env.mock.invalid == [], f"the upstream got an invalid request: {env.mock.invalid}"
    client_asked = _asks_usage(body)
    if op_id == "createChatCompletion" and stream and not client_asked:
        # the gateway asks OpenAI for the usage event itself, and keeps it from the client
        options = body.get("stream_options")
        options = {**(options if isinstance(options, dict) else {}), "include_usage": True}
        body = {**body, "stream_options": options}
        if sent[0] == 200:
            sent = (200, [e for e in sent[1] if not _usage_event(e)])
    assert env.mock.received == [body], f"refused or changed: {r.status_code} {r.text[:500]}"
    check_answer(r, op, sent)
    RUN[op_id] += 1
    RUN["streamed"] += stream
    RUN["error answers"] += sent[0] != 200


@SPEC_RUN
@given(data=st.data())
def test_model_lists_validate(env: Env, data: Any) -> None:
    op = OPERATIONS["listModels"]
    sent = answer(data, op, stream=False)
    env.mock.answer = sent
    r = env.http.get("/v1/models", headers=env.headers())
    check_answer(r, op, sent)
    RUN["listModels"] += 1


def test_the_catalog_and_the_gateways_own_errors_validate(env: Env) -> None:
    r = env.http.get("/v1/models")  # the settings' catalog: no upstream
    assert r.status_code == 200 and errors("ListModelsResponse", r.json()) == []
    bad = [
        ("/v1/chat/completions", b"{"),
        ("/v1/chat/completions", b'{"model": "m", "messages": []}'),
        ("/v1/embeddings", b'{"model": 1}'),
        ("/v1/completions", b"[]"),
    ]
    for path, raw in bad:
        r = env.http.post(path, content=raw, headers=env.headers())
        assert r.status_code == 400 and errors("ErrorResponse", r.json()) == []
