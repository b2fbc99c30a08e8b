"""Threat: a hostile or broken upstream turns the gateway against its own client or network.

Each case is an upstream answer no real provider sends: a redirect to another host or to an
internal URL, a gzip bomb, an HTML page with status 200, a stream event that is not JSON or
whose usage is malformed. Each must end as a clean 502 (an HTTP status before the first
byte, a final error event after it), never a 500, never relayed as a 200, and never with
the attacker's sink or the internal service reached.
"""

from __future__ import annotations

import json
import resource
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.security.hostile import Hostile, bomb
from tests.servers import ServerThread

KEY = "sk-test-provider-key-0001"


@pytest.fixture(scope="module")
def hostile() -> Iterator[tuple[Hostile, ServerThread]]:
    h = Hostile()
    bomb()
    with ServerThread(h.app) as server:
        yield h, server


def post(
    gw: ServerThread, host: str, *, stream: bool = False, config: Any = None
) -> httpx.Response:
    headers = {
        "x-portkey-provider": "openai",
        "x-portkey-custom-host": host,
        "authorization": f"Bearer {KEY}",
    }
    if config is not None:
        headers["x-portkey-config"] = json.dumps(config)
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    return httpx.post(gw.url + "/v1/chat/completions", headers=headers, json=body, timeout=30)


def assert_502(r: httpx.Response, code: str = "upstream_invalid_response") -> None:
    assert r.status_code == 502, r.text[:300]
    err = r.json()["error"]
    assert err["code"] == code
    assert "Traceback" not in r.text and KEY not in r.text


@pytest.mark.parametrize("stream", [False, True])
def test_redirect_to_another_host_is_not_followed(make_gateway, hostile, sink, stream) -> None:
    _, server = hostile
    attacker, sink_server = sink
    gw = make_gateway()
    r = post(gw, f"{server.url}/redirect307-{sink_server.port}/v1", stream=stream)
    assert_502(r)
    assert "307" in r.json()["error"]["message"]
    assert attacker.hits == []


def test_redirect_to_an_internal_url_is_not_read(make_gateway, hostile) -> None:
    """A 303 would turn the POST into a GET of an internal URL and relay what it says."""
    h, server = hostile
    gw = make_gateway()
    r = post(gw, f"{server.url}/redirect303/v1")
    assert_502(r)
    assert "admin-token" not in r.text
    assert h.internal_hits == 0


def test_embeddings_redirects_are_not_followed(make_gateway, hostile, sink) -> None:
    _, server = hostile
    attacker, sink_server = sink
    gw = make_gateway()
    r = httpx.post(
        gw.url + "/v1/embeddings",
        headers={
            "x-portkey-provider": "openai",
            "x-portkey-custom-host": f"{server.url}/redirect307-{sink_server.port}/v1",
            "authorization": f"Bearer {KEY}",
        },
        json={"model": "m", "input": "hi"},
        timeout=10,
    )
    assert_502(r)
    assert attacker.hits == []


def test_gzip_bomb_answer_is_counted_inflated(make_gateway, hostile) -> None:
    _, server = hostile
    gw = make_gateway({"upstream": {"max_response_bytes": 1024 * 1024}})
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    r = post(gw, f"{server.url}/gzip-bomb/v1")
    assert_502(r, "upstream_too_large")
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 40, f"peak RSS grew {grown_mb:.0f} MB reading a 1 MiB-limited answer"


def test_gzip_bomb_error_body_is_truncated_not_inflated(make_gateway, hostile) -> None:
    _, server = hostile
    gw = make_gateway()
    r = post(gw, f"{server.url}/gzip-bomb-error/v1")
    assert r.status_code == 500  # the provider's own error status, relayed
    assert len(r.content) < 2048
    assert r.json()["error"]["type"] == "api_error"


def test_gzip_bomb_stream_event_is_a_502(make_gateway, hostile) -> None:
    _, server = hostile
    gw = make_gateway()
    r = post(gw, f"{server.url}/gzip-bomb-stream/v1", stream=True)
    assert_502(r, "upstream_too_large")


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("case", ["html200", "json-not-completion"])
def test_an_answer_that_is_not_a_completion_is_a_502(make_gateway, hostile, case, stream):
    _, server = hostile
    gw = make_gateway()
    r = post(gw, f"{server.url}/{case}/v1", stream=stream)
    assert_502(r)
    assert "Wi-Fi" not in r.text or "content type" in r.text


def test_html_200_with_an_output_guardrail_is_a_502_not_a_500(make_gateway, hostile) -> None:
    _, server = hostile
    gw = make_gateway()
    guard = {"checks": [{"id": "default.contains", "parameters": {"words": ["x"]}}]}
    r = post(gw, f"{server.url}/html200/v1", config={"output_guardrails": [guard]})
    assert_502(r)


def stream_events(r: httpx.Response) -> list[Any]:
    out = []
    for line in r.text.splitlines():
        if line.startswith("data: ") and line != "data: [DONE]":
            out.append(json.loads(line[6:]))
    return out


@pytest.mark.parametrize("case", ["bad-usage-stream", "not-json-stream"])
def test_a_broken_event_mid_stream_ends_it_with_a_502_event(make_gateway, hostile, case):
    _, server = hostile
    gw = make_gateway()
    r = post(gw, f"{server.url}/{case}/v1", stream=True)
    assert r.status_code == 200  # the first chunk was sent: the error is the last event
    events = stream_events(r)
    assert events[0]["choices"][0]["delta"]["content"] == "hi"
    assert events[-1]["error"]["code"] == "upstream_invalid_response"
    assert "internal_error" not in r.text and "<html>" not in r.text


def test_a_broken_first_event_is_an_http_502(make_gateway, hostile) -> None:
    _, server = hostile
    gw = make_gateway()
    r = post(gw, f"{server.url}/not-json-first-event/v1", stream=True)
    assert_502(r)


@pytest.mark.parametrize("case", ["html200", "json-not-completion", "gzip-bomb"])
def test_embeddings_answers_are_checked_too(make_gateway, hostile, case) -> None:
    _, server = hostile
    gw = make_gateway({"upstream": {"max_response_bytes": 1024 * 1024}})
    r = httpx.post(
        gw.url + "/v1/embeddings",
        headers={
            "x-portkey-provider": "openai",
            "x-portkey-custom-host": f"{server.url}/{case}/v1",
            "authorization": f"Bearer {KEY}",
        },
        json={"model": "m", "input": "hi"},
        timeout=10,
    )
    assert r.status_code == 502, r.text[:200]
    assert r.json()["error"]["code"] in ("upstream_invalid_response", "upstream_too_large")


def test_json_nested_past_the_limit_is_a_400_from_a_client(make_gateway, mock_openai) -> None:
    _, upstream = mock_openai
    gw = make_gateway()
    deep = "[" * 3000 + "]" * 3000
    headers = {
        "x-portkey-provider": "openai",
        "x-portkey-custom-host": upstream.url + "/v1",
        "authorization": f"Bearer {KEY}",
        "content-type": "application/json",
    }
    body = '{"model": "m", "messages": [{"role": "user", "content": ' + deep + "}]}"
    cases = [
        (body, {}),
        ('{"model": "m", "messages": [{"role": "user", "content": "hi"}]}',
         {"x-portkey-metadata": deep}),
        ('{"model": "m", "messages": [{"role": "user", "content": "hi"}]}',
         {"x-portkey-config": '{"override_params": {"x": ' + deep + "}}"}),
    ]  # fmt: skip
    for raw, extra in cases:
        r = httpx.post(
            gw.url + "/v1/chat/completions", content=raw, headers={**headers, **extra}, timeout=10
        )
        assert r.status_code == 400, r.text[:200]
        assert r.json()["error"]["type"] == "invalid_request_error"


def test_negative_usage_is_counted_as_zero_not_a_500(make_gateway, hostile, logs) -> None:
    """Found by the OpenAI spec run (tests/spec): a counter cannot go down, and raised."""
    _, server = hostile
    gw = make_gateway({"observability": {"prices": {"openai": {"m": {"input": 1, "output": 1}}}}})
    r = post(gw, f"{server.url}/negative-usage/v1")
    assert r.status_code == 200, r.text
    assert r.json()["usage"]["prompt_tokens"] == -5  # relayed as sent: the client's to judge
    (line,) = [x for x in logs() if x.get("event") == "request"]
    assert line["status"] == 200 and line.get("cost_usd", 0) >= 0
    samples = httpx.get(gw.url + "/metrics").text.splitlines()
    token_values = [float(x.split()[-1]) for x in samples if "_tokens" in x and x[0] != "#"]
    assert token_values and min(token_values) >= 0
