"""The ``jsonSchema`` guardrail with the attacker's schema: refused fast, or validated within
bounds, off the event loop when large, and never fetching a URL.

Before: a client's 1.7 KB chain of two-branch ``anyOf`` refs (20 levels) held /health for
3.6 s in the hand-written validator (exponential); 26 levels never finished.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from typing import Any

import jsonschema_rs
import pytest
from aiohttp import web

from middleware.guardrails.schemas import refuse_retrieval
from proxy.gateway import Gateway
from proxy.pipeline import SettingsError
from proxy.settings import parse_settings
from tests.security.conftest import chat, client_headers
from tests.servers import ServerThread

GUARDED = {
    "middleware": [
        {"class": "middleware.guardrails:GuardrailsMiddleware"},
        {"class": "middleware.router:RouterMiddleware"},
    ]
}


def anyof_chain(levels: int) -> dict[str, Any]:
    """Each level: two branches, both refs to the next level (2^levels evaluations)."""
    defs: dict[str, Any] = {
        f"d{i}": {
            "anyOf": [{"$ref": f"#/$defs/d{i + 1}"}, {"$ref": f"#/$defs/d{i + 1}", "minimum": 1}]
        }
        for i in range(levels)
    }
    defs[f"d{levels}"] = {"type": "string"}
    return {"$defs": defs, "$ref": "#/$defs/d0"}


def schema_guard(schema: Any) -> dict[str, Any]:
    check = {"id": "default.jsonSchema", "parameters": {"schema": schema}}
    return {"input_guardrails": [{"checks": [check], "deny": True}]}


def first_check(body: dict[str, Any]) -> dict[str, Any]:
    check: dict[str, Any] = body["hook_results"]["before_request_hooks"][0]["checks"][0]
    return check


class Sink:
    """An HTTP server that must never hear from the gateway."""

    def __init__(self) -> None:
        self.hits: list[str] = []

    def app(self) -> web.Application:
        async def any_request(request: web.Request) -> web.Response:
            self.hits.append(request.path)
            return web.json_response({"type": "string"})

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", any_request)
        return app


@pytest.fixture
def sink() -> Iterator[tuple[Sink, ServerThread]]:
    s = Sink()
    with ServerThread(s.app) as server:
        yield s, server


def test_exponential_anyof_chain_is_refused_fast(gateway_process, upstream) -> None:
    gw = gateway_process(GUARDED)
    mock, server = upstream
    schema = anyof_chain(26)
    headers = client_headers(server, schema_guard(schema))
    assert len(headers["x-portkey-config"]) < 3000

    def attack() -> list[tuple[int, dict[str, Any], float]]:
        return [gw.post(chat("1"), headers) for _ in range(20)]

    slowest, answers = gw.health_while(attack, settle=0)
    assert slowest < 1.0
    for status, body, seconds in answers:
        assert status == 400, body
        err = body["error"]
        assert err["code"] == "invalid_guardrail" and err["param"] == "x-portkey-config"
        assert err["message"].startswith(
            "invalid guardrail: input_guardrails[0].checks[0].parameters.schema: "
        )
        assert "more than 10000 sub-schema evaluations" in err["message"]
        assert seconds < 1.0
    assert mock.calls == 0


@pytest.mark.parametrize(
    ("schema", "why"),
    [
        ({"anyOf": [{"$ref": "#"}]}, "recursion through $ref without descending"),
        ({"$defs": {"a": {"allOf": [{"$ref": "#/$defs/b"}]}, "b": {"not": {"$ref": "#/$defs/a"}}},
          "$ref": "#/$defs/a"}, "recursion through $ref without descending"),
        ({"patternProperties": {"^a": {"$ref": "#"}, "b$": {"$ref": "#"}}},
         "sub-schema evaluations"),  # two patterns can match one key: doubles per level
    ],
)  # fmt: skip
def test_unbounded_schemas_are_a_400(gateway_process, upstream, schema: Any, why: str) -> None:
    gw = gateway_process(GUARDED)
    _, server = upstream
    h = client_headers(server)  # the default-guardrails header: same checks as a config
    h["x-portkey-default-input-guardrails"] = json.dumps(schema_guard(schema)["input_guardrails"])
    status, answer, _ = gw.post(chat("{}"), h)
    assert status == 400, answer
    assert answer["error"]["code"] == "invalid_guardrail" and why in answer["error"]["message"]


def test_no_schema_is_ever_fetched(gateway_process, upstream, sink) -> None:
    gw = gateway_process(GUARDED)
    _, server = upstream
    hits, sink_server = sink
    url = sink_server.url + "/latest/meta-data/iam/"
    for schema in [
        {"$ref": url},
        {"$schema": url},
        {"$id": sink_server.url + "/base/", "$ref": "other.json"},
        {"$defs": {"unused": {"$ref": url}}, "type": "string"},
        {"properties": {"a": {"$dynamicRef": url}}},
        {"type": "object", "properties": {"$ref": {"$ref": url}}},
    ]:
        status, body, _ = gw.post(chat("{}"), client_headers(server, schema_guard(schema)))
        assert status == 400, (schema, body)
        assert body["error"]["code"] == "invalid_guardrail"
    # and the compiled validator's own retriever refuses, should a URL get that far
    with pytest.raises(jsonschema_rs.ValidationError, match="refused"):
        jsonschema_rs.validator_for({"$ref": url}, retriever=refuse_retrieval)
    time.sleep(0.1)
    assert sink_server and hits.hits == []


def test_validation_stays_within_its_time_budget(gateway_process, upstream) -> None:
    gw = gateway_process(GUARDED)  # schema_budget_ms: 50 (the default)
    _, server = upstream
    # a pattern whose DFA blows up on random a/b text: Rust's regex falls back to its NFA,
    # ~0.4 s per 1M characters; "not" keeps every item valid, so every string is searched
    pattern = "(a|b)*a(a|b){10}(a|b){1,30}c"
    schema = {"type": "array", "items": {"type": "string", "not": {"pattern": pattern}}}
    rng = random.Random(1)  # random text: a periodic one stays in the DFA's cache
    words = ["".join(rng.choice("ab") for _ in range(900)) for _ in range(1000)]
    headers = client_headers(server, schema_guard(schema))
    slowest, (status, body, seconds) = gw.health_while(
        lambda: gw.post(chat(json.dumps(words)), headers), settle=0
    )
    check = first_check(body)
    assert status == 446 and check["verdict"] is False and check["error"] is not None
    assert check["data"]["explanation"].startswith("not checked: the JSON is too large")
    assert slowest < 1.0 and seconds < 1.0
    # within the budget (30 words: ~20 ms at worst) it is validated, on the event loop
    small = words[:30]
    status, body, _ = gw.post(chat(json.dumps(small)), headers)
    assert status == 200, body
    small[7] = "a" * 20 + "c"  # a match: "not" fails, the deny names the item
    status, body, _ = gw.post(chat(json.dumps(small)), headers)
    assert status == 446 and first_check(body)["data"]["errors"][0].startswith("$[7]: ")


def test_past_the_budget_the_check_fails_unchecked(gateway_process, upstream) -> None:
    gw = gateway_process(GUARDED)
    _, server = upstream
    chain = anyof_chain(11)  # 4,095 evaluations per item
    schema = {"type": "array", "items": {"$ref": "#/$defs/d0"}, "$defs": chain["$defs"]}
    text = json.dumps(["x"] * 40_000)
    status, body, seconds = gw.post(chat(text), client_headers(server, schema_guard(schema)))
    check = first_check(body)
    assert status == 446 and check["verdict"] is False and check["error"] is not None
    assert "not checked" in check["data"]["explanation"]
    assert seconds < 1.0
    status, body, _ = gw.post(
        chat(json.dumps(["x"] * 10)), client_headers(server, schema_guard(schema))
    )
    assert status == 200  # a small value is validated


def test_settings_schemas_get_the_same_checks_at_start_up() -> None:
    raw = {
        "middleware": [
            {
                "class": "middleware.guardrails:GuardrailsMiddleware",
                "options": {"guardrails": {"shape": {"checks": [
                    {"id": "default.jsonSchema", "parameters": {"schema": anyof_chain(26)}}
                ]}}},
            },
        ]
    }  # fmt: skip
    with pytest.raises(SettingsError, match=r"guardrails\.shape\.checks\[0\]\.parameters\.schema"):
        Gateway(parse_settings(raw, {}))
    params = raw["middleware"][0]["options"]["guardrails"]["shape"]["checks"][0]["parameters"]
    params["schema"] = {"$ref": "http://169.254.169.254/latest/meta-data/"}
    with pytest.raises(SettingsError, match="only local references"):
        Gateway(parse_settings(raw, {}))
    params["schema"] = {"enum": ["x" * 70_000]}  # no header holds this; a settings file can
    with pytest.raises(SettingsError, match="more than 65536"):
        Gateway(parse_settings(raw, {}))


def test_deeply_nested_guardrail_json_is_a_400(gateway_process, upstream) -> None:
    gw = gateway_process(GUARDED)
    _, server = upstream
    headers = client_headers(server)
    headers["x-portkey-default-input-guardrails"] = "[" * 4000 + "]" * 4000
    status, body, _ = gw.post(chat("hi"), headers)
    assert status == 400 and body["error"]["code"] == "invalid_guardrail"
    headers = client_headers(server)
    headers["x-portkey-config"] = '{"input_guardrails": ' + "[" * 3000 + "]" * 3000 + "}"
    status, body, _ = gw.post(chat("hi"), headers)
    assert status == 400 and "nested too deeply" in body["error"]["message"]
