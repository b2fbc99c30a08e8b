"""OpenAI and Azure speak the Responses API: the gateway relays, it does not translate.

The official SDK drives the real gateway in front of the Responses mock; each test also
checks the bytes on both sides (what reached the mock, what reached the client), since
"relayed untouched" is the contract: fields, item and tool types the gateway has never
heard of must arrive exactly as sent.
"""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from tests.conftest import PROVIDER_KEY
from tests.mock_openai_responses import stream_events
from tests.responses import strict
from tests.responses.conftest import WEATHER

FUTURE_BODY = (
    b'{"model":"gpt-future","input":[{"type":"message","role":"user","content":'
    b'[{"type":"input_text","text":"hi"},{"type":"input_hologram","frames":3}]},'
    b'{"type":"quantum_state","id":"qs_1","amplitude":0.5}],'
    b'"tools":[{"type":"time_machine","year":1985},{"type":"function","name":"f","parameters":{}}],'
    b'"new_knob":{"level":11},"reasoning":{"effort":"high","trace":"full"},"store":false}'
)


def headers_for(upstream_url: str) -> dict[str, str]:
    return {
        "authorization": f"Bearer {PROVIDER_KEY}",
        "x-portkey-provider": "openai",
        "x-portkey-custom-host": upstream_url + "/v1",
        "content-type": "application/json",
    }


def test_body_and_answer_relayed_byte_for_byte(via) -> None:
    _, mock, gw = via("openai")
    upstream = mock_url(via)
    r = httpx.post(gw.url + "/v1/responses", content=FUTURE_BODY, headers=headers_for(upstream))
    assert r.status_code == 200
    assert mock.last["raw"] == FUTURE_BODY  # unknown fields, item and tool types untouched
    answer = r.json()
    assert answer["future_field"] == {"answer": 42}
    assert answer["output"][-1]["type"] == "hologram_call"
    assert r.headers["x-portkey-provider"] == "openai"


def test_stream_relayed_event_for_event(via) -> None:
    _, _mock, gw = via("openai")
    body = json.loads(FUTURE_BODY) | {"stream": True}
    r = httpx.post(gw.url + "/v1/responses", json=body, headers=headers_for(mock_url(via)))
    got = strict.parse_sse(r.content)
    assert [name for name, _ in got] == [data["type"] for _, data in got]
    kinds = [data["type"] for _, data in got]
    assert "response.hologram.rendered" in kinds  # an event type the gateway does not know
    assert kinds[-1] == "response.completed"
    assert [d["sequence_number"] for _, d in got] == list(range(len(got)))


def mock_url(via) -> str:
    client, _, _ = via("openai")
    return str(client.default_headers["x-portkey-custom-host"]).removesuffix("/v1")


def test_sdk_create_stream_tools_and_previous_response_id(via) -> None:
    client, mock, _ = via("openai")
    first = client.responses.create(model="gpt-4.1", input="hello", instructions="be brief")
    assert first.output_text == "echo: hello (turn 1)"
    assert first.id.startswith("resp_") and not first.id.startswith("resp_gw")
    second = client.responses.create(model="gpt-4.1", input="again", previous_response_id=first.id)
    assert second.output_text == "echo: again (turn 2)"  # the mock held the context
    assert mock.last["json"]["previous_response_id"] == first.id
    with client.responses.stream(model="gpt-4.1", input="stream me") as s:
        kinds = [e.type for e in s]
        final = s.get_final_response()
    assert final.output_text == "echo: stream me (turn 1)"
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"


def test_function_call_output_continues_natively(via) -> None:
    client, _mock, _ = via("openai")
    r = client.responses.create(model="gpt-4.1", input="weather?", tools=[WEATHER])
    call = r.output[0]
    done = client.responses.create(
        model="gpt-4.1",
        previous_response_id=r.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}],
        tools=[WEATHER],
        stream=True,
    )
    events = list(done)
    assert events[-1].type == "response.completed"
    assert events[-1].response.output_text == "results: sunny"


def test_slug_model_is_renamed_and_nothing_else(make_gateway, mock_responses) -> None:
    mock, upstream = mock_responses
    gw = make_gateway(
        {"providers": {"oa": {"provider": "openai", "custom_host": upstream.url + "/v1"}}}
    )
    sent = {"model": "@oa/gpt-4.1", "input": "hi", "zzz_unknown": [1, {"a": None}]}
    r = httpx.post(
        gw.url + "/v1/responses",
        json=sent,
        headers={"authorization": f"Bearer {PROVIDER_KEY}"},
    )
    assert r.status_code == 200, r.text
    assert mock.last["json"] == {**sent, "model": "gpt-4.1"}


def test_override_params_reach_the_native_body(via) -> None:
    config = {
        "provider": "openai",
        "override_params": {"temperature": 0.25, "max_tokens": 77},
    }
    client, mock, _ = via("openai", **{"x-portkey-config": json.dumps(config)})
    client.responses.create(model="gpt-4.1", input="hi", temperature=1.5)
    body = mock.last["json"]
    assert body["temperature"] == 0.25 and body["max_output_tokens"] == 77
    assert "max_tokens" not in body


def test_retrieve_delete_and_input_items_are_proxied(via) -> None:
    client, mock, _ = via("openai")
    r = client.responses.create(model="gpt-4.1", input="keep me")
    got = client.responses.retrieve(r.id)
    assert got.id == r.id and got.output_text == r.output_text
    assert mock.last["path"] == f"/v1/responses/{r.id}"
    items = client.responses.input_items.list(r.id, limit=2, order="asc")
    assert [i.type for i in items.data] == ["message"]
    assert mock.last["query"] == {"limit": "2", "order": "asc"}  # the query goes along
    client.responses.delete(r.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(r.id)


def test_azure_v1_path_key_and_deployment(via) -> None:
    _, mock, _ = via("openai")
    upstream = mock_url(via)
    client, _, _ = via(
        "openai",
        **{
            "x-portkey-provider": "azure-openai",
            "x-portkey-custom-host": upstream + "/openai",
            "x-portkey-azure-deployment-id": "my-deploy",
        },
    )
    r = client.responses.create(model="gpt-4.1", input="hello azure")
    assert r.output_text == "echo: hello azure (turn 1)"
    seen = mock.last
    assert seen["path"] == "/openai/v1/responses"
    assert seen["headers"]["api-key"] == PROVIDER_KEY
    assert "authorization" not in {k.lower() for k in seen["headers"]}
    assert seen["json"]["model"] == "my-deploy"
    assert client.responses.retrieve(r.id).id == r.id
    assert mock.last["path"] == f"/openai/v1/responses/{r.id}"


def test_errors_keep_openai_shape_and_status(via) -> None:
    client, _, _ = via("openai")
    with pytest.raises(openai.RateLimitError) as err:
        client.responses.create(model="error-429", input="x")
    assert "mock failure 429" in str(err.value)
    with pytest.raises(openai.BadRequestError) as bad:
        client.responses.create(model="gpt-4.1", input="x", previous_response_id="resp_0000")
    assert "not found" in str(bad.value)


def test_midstream_failure_is_relayed_and_logged(via, logs) -> None:
    client, _, _ = via("openai")
    kinds = [
        e.type for e in client.responses.create(model="midstream-error", input="x", stream=True)
    ]
    assert kinds[-2:] == ["error", "response.failed"]
    line = [x for x in logs() if x.get("event") == "request" and x.get("endpoint") == "responses"]
    assert line[-1]["status"] == 502  # the middlewares saw a failed request


def test_truncated_stream_ends_with_an_error_event(via) -> None:
    client, _, _ = via("openai")
    events = list(client.responses.create(model="truncated", input="a b c", stream=True))
    assert events[-1].type == "error"
    assert "truncated" in events[-1].message


def test_usage_reaches_the_access_log(via, logs) -> None:
    client, _, _ = via("openai")
    r = client.responses.create(model="gpt-4.1", input="count me")
    list(client.responses.create(model="gpt-4.1", input="count me", stream=True))
    lines = [x for x in logs() if x.get("event") == "request" and x.get("endpoint") == "responses"]
    assert len(lines) == 2
    for line in lines:
        assert line["prompt_tokens"] == r.usage.input_tokens
        assert line["completion_tokens"] == r.usage.output_tokens
        assert not line.get("usage_estimated")


def test_mock_event_sequence_is_what_the_gateway_relays(via) -> None:
    """The relayed stream is the upstream's, event for event (types and payload shapes)."""
    _, mock, gw = via("openai")
    r = httpx.post(
        gw.url + "/v1/responses",
        json={"model": "gpt-4.1", "input": "a b", "stream": True},
        headers=headers_for(mock_url(via)),
    )
    got = strict.stream(r.content)
    resp = mock.stored[got[0]["response"]["id"]][0]
    want = stream_events(resp)
    assert [e["type"] for e in got] == [e["type"] for e in want]
