"""The chain applies to /v1/responses as to chat: cache, guardrails and routing.

Cache and output guardrails read the answer: a native (OpenAI) answer is then read into
chat and written back as a Response that keeps OpenAI's id, so the conversation can still
be continued there; a translated one is kept in the gateway's store under an id of ours.
"""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from tests.responses.conftest import WEATHER

STATUS = "x-portkey-cache-status"
CACHE = {"cache": {"mode": "simple"}}


def guard(check: str, params: dict[str, Any], deny: bool = True) -> dict[str, Any]:
    return {"checks": [{"id": check, "parameters": params}], "deny": deny}


def config(provider: str, **extra: Any) -> dict[str, str]:
    return {"x-portkey-config": json.dumps({"provider": provider, **extra})}


def create(client: openai.OpenAI, **kw: Any) -> tuple[Any, str]:
    raw = client.responses.with_raw_response.create(**kw)
    return raw.parse(), raw.headers.get(STATUS, "")


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_cache_hit_answers_without_the_upstream(via, provider: str) -> None:
    client, mock, _ = via(provider, **config(provider, **CACHE))
    first, status = create(client, model="m-1", input="cache me")
    assert status == "MISS"
    calls = len(mock.requests)
    again, status = create(client, model="m-1", input="cache me")
    assert status == "HIT" and len(mock.requests) == calls
    assert again.output_text == first.output_text
    _, status = create(client, model="m-1", input="cache me", previous_response_id=first.id)
    assert status == "MISS"  # another conversation: never the same entry


def test_cache_hit_of_a_native_answer_keeps_openais_id(via) -> None:
    client, mock, _ = via("openai", **config("openai", **CACHE))
    first, _ = create(client, model="m", input="remember")
    hit, status = create(client, model="m", input="remember")
    assert status == "HIT" and hit.id == first.id  # OpenAI's, not a new one of ours
    more = client.responses.create(model="m", input="more", previous_response_id=hit.id)
    assert more.output_text == "echo: more (turn 2)"  # OpenAI continued it natively
    assert mock.requests[-1]["json"]["previous_response_id"] == first.id


def test_cache_hit_of_a_translated_answer_can_be_continued(via) -> None:
    client, mock, _ = via("anthropic", **config("anthropic", **CACHE))
    first, _ = create(client, model="claude-x", input="remember")
    hit, status = create(client, model="claude-x", input="remember")
    assert status == "HIT" and hit.id != first.id and hit.id.startswith("resp_gw")
    client.responses.create(model="claude-x", input="more", previous_response_id=hit.id)
    turns = [m for m in mock.requests[-1]["json"]["messages"] if m["role"] == "user"]
    assert len(turns) == 2


def test_streamed_native_answer_through_the_cache(via) -> None:
    client, mock, _ = via("openai", **config("openai", **CACHE))
    with client.responses.stream(model="m", input="stream and keep", tools=[WEATHER]) as s:
        kinds = [e.type for e in s]
        first = s.get_final_response()
    assert "response.function_call_arguments.delta" in kinds
    assert first.id.startswith("resp_") and not first.id.startswith("resp_gw")
    calls = len(mock.requests)
    with client.responses.stream(model="m", input="stream and keep", tools=[WEATHER]) as s:
        list(s)
        again = s.get_final_response()
    assert len(mock.requests) == calls
    assert again.output[0].type == "function_call" and again.id == first.id


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_input_guardrail_denies_before_the_upstream(via, provider: str) -> None:
    g = guard("default.contains", {"words": ["forbidden"], "operator": "none"})
    client, mock, _ = via(provider, **config(provider, input_guardrails=[g]))
    before = len(mock.requests)
    with pytest.raises(openai.APIStatusError) as err:
        client.responses.create(model="m", input="this is forbidden")
    assert err.value.status_code == 446
    assert len(mock.requests) == before


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.parametrize("stream", [False, True])
def test_output_guardrail_sees_native_and_translated_answers(
    via, provider: str, stream: bool
) -> None:
    g = guard("default.contains", {"words": ["echo"], "operator": "none"})
    client, mock, _ = via(provider, **config(provider, output_guardrails=[g]))
    before = len(mock.requests)
    with pytest.raises(openai.APIStatusError) as err:
        list(client.responses.create(model="m", input="say it", stream=stream))
    assert err.value.status_code == 446  # a denying check holds a stream back until it is done
    assert err.value.response.json()["hook_results"]["after_request_hooks"][0]["deny"] is True
    assert len(mock.requests) == before + 1


def test_output_guardrail_results_ride_on_the_response(via) -> None:
    g = guard("default.wordCount", {"minWords": 1, "maxWords": 2}, deny=False)
    client, _, _ = via("openai", **config("openai", output_guardrails=[g]))
    raw = client.responses.with_raw_response.create(model="m", input="a few words here")
    assert raw.status_code == 246
    body = raw.http_response.json()
    assert body["object"] == "response" and body["hook_results"]["after_request_hooks"]
    assert raw.parse().output_text.startswith("echo: a few words here")


def test_fallback_from_claude_to_openai(via) -> None:
    client, mock, _ = via("openai")
    host = str(client.default_headers["x-portkey-custom-host"])
    cfg = {
        "strategy": {"mode": "fallback"},
        "targets": [
            {
                "provider": "anthropic",
                "custom_host": host,
                "override_params": {"model": "error-529"},
            },
            {"provider": "openai", "custom_host": host},
        ],
    }
    client2, _, _ = via("openai", **{"x-portkey-config": json.dumps(cfg)})
    r = client2.responses.create(model="gpt-4.1", input="fall back")
    assert r.output_text == "echo: fall back (turn 1)"
    assert mock.requests[-1]["path"] == "/v1/responses"
