"""The Responses API on Claude and Gemini: the official SDK drives the real gateway, which
translates to the mock's native API and back, and keeps what it made in its store.

Each test checks both sides: the SDK's view (validated strictly against the SDK's own
models where bytes are at hand) and the native request the mock received.
"""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from tests.conftest import PROVIDER_KEY
from tests.responses import strict
from tests.responses.conftest import WEATHER

PROVIDERS = ["anthropic", "google"]
TOOL_MODEL = {"anthropic": "claude-sonnet-4-5", "google": "tools"}
TEXT_MODEL = {"anthropic": "claude-sonnet-4-5", "google": "gemini-2.5-flash"}


def sent(mock) -> dict:
    """The last native request body the mock received."""
    return mock.requests[-1]["json"]  # type: ignore[no-any-return]


def user_texts(provider: str, native: dict) -> list[str]:
    """The user turns' text of a native request, in order."""
    if provider == "anthropic":
        turns = [m for m in native["messages"] if m["role"] == "user"]
        return [" ".join(b.get("text", "") for b in t["content"] if "text" in b) for t in turns]
    turns = [c for c in native["contents"] if c.get("role", "user") == "user"]
    return [" ".join(p.get("text", "") for p in t["parts"] if "text" in p) for t in turns]


def system_of(provider: str, native: dict) -> str:
    if provider == "anthropic":
        return " ".join(b["text"] for b in native.get("system", []))
    parts = native.get("systemInstruction", {}).get("parts", [])
    return " ".join(p["text"] for p in parts)


def raw_post(client: openai.OpenAI, body: dict) -> httpx.Response:
    headers = {k: str(v) for k, v in client.default_headers.items() if k.startswith("x-portkey")}
    headers["authorization"] = f"Bearer {client.api_key}"
    return httpx.post(str(client.base_url) + "responses", json=body, headers=headers, timeout=10)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_text_answer_is_a_valid_response(via, provider: str) -> None:
    client, mock, _ = via(provider)
    model = TEXT_MODEL[provider]
    r = raw_post(client, {"model": model, "input": "hello there", "instructions": "be kind"})
    assert r.status_code == 200, r.text
    resp = strict.response(r.json())
    assert resp.id.startswith("resp_gw")
    assert resp.output_text == "echo: hello there"
    assert resp.status == "completed" and resp.instructions == "be kind"
    assert resp.usage is not None and resp.usage.input_tokens > 0
    native = sent(mock)
    assert system_of(provider, native) == "be kind"
    assert user_texts(provider, native) == ["hello there"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_previous_response_id_continues_from_the_store(via, provider: str) -> None:
    client, mock, _ = via(provider)
    model = TEXT_MODEL[provider]
    first = client.responses.create(model=model, input="one", instructions="first rules")
    second = client.responses.create(
        model=model, input="two", previous_response_id=first.id, instructions="new rules"
    )
    native = sent(mock)
    assert user_texts(provider, native) == ["one", "two"]  # the whole conversation went up
    assert system_of(provider, native) == "new rules"  # instructions are not carried over
    third = client.responses.create(model=model, input="three", previous_response_id=second.id)
    assert user_texts(provider, sent(mock)) == ["one", "two", "three"]
    assert third.previous_response_id == second.id
    assert third.output_text == "echo: three"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_streamed_text_events_validate_and_assemble(via, provider: str) -> None:
    client, _, _ = via(provider)
    model = TEXT_MODEL[provider]
    r = raw_post(client, {"model": model, "input": "stream this please", "stream": True})
    events = strict.stream(r.content)
    assert events[0]["type"] == "response.created" and events[-1]["type"] == "response.completed"
    text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert text == "echo: stream this please"
    final = events[-1]["response"]
    assert final["output"][0]["content"][0]["text"] == text
    assert final["usage"]["output_tokens"] > 0
    with client.responses.stream(model=model, input="and again") as s:
        for _ in s:
            pass
        done = s.get_final_response()
    assert done.output_text == "echo: and again"
    assert client.responses.retrieve(done.id).output_text == "echo: and again"  # stored


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("stream", [False, True])
def test_tool_call_round_trip(via, provider: str, stream: bool) -> None:
    client, mock, _ = via(provider)
    model = TOOL_MODEL[provider]
    if stream:
        with client.responses.stream(model=model, input="weather?", tools=[WEATHER]) as s:
            kinds = [e.type for e in s]
            r = s.get_final_response()
        assert "response.function_call_arguments.delta" in kinds
        assert "response.function_call_arguments.done" in kinds
    else:
        r = client.responses.create(model=model, input="weather?", tools=[WEATHER])
    calls = [i for i in r.output if i.type == "function_call"]
    assert calls and calls[0].name == "get_weather"
    assert json.loads(calls[0].arguments)["city"] == "Paris"
    outputs = [
        {"type": "function_call_output", "call_id": c.call_id, "output": f"sunny {i}"}
        for i, c in enumerate(calls)
    ]
    client.responses.create(
        model=TEXT_MODEL[provider], previous_response_id=r.id, input=outputs, tools=[WEATHER]
    )
    native = json.dumps(sent(mock))
    for i, c in enumerate(calls):
        assert f"sunny {i}" in native
        if provider == "anthropic":  # Claude ties a result to its call by id (Gemini by name)
            assert native.count(c.call_id) == 2


def test_function_call_history_without_store(via) -> None:
    """The client may carry the whole conversation itself (store: false, no previous id)."""
    client, mock, _ = via("anthropic")
    r = client.responses.create(model="claude-x", input="weather?", tools=[WEATHER], store=False)
    call = r.output[0]
    assert r.store is False
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(r.id)
    items = [
        {"role": "user", "content": "weather?"},
        {
            "type": "function_call",
            "call_id": call.call_id,
            "name": call.name,
            "arguments": call.arguments,
        },
        {"type": "function_call_output", "call_id": call.call_id, "output": "rainy"},
    ]
    done = client.responses.create(model="claude-x", input=items, tools=[WEATHER])
    assert done.output_text == "results: rainy"
    assert [m["role"] for m in sent(mock)["messages"]] == ["user", "assistant", "user"]


def test_json_schema_format(via) -> None:
    client, mock, _ = via("anthropic")
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "temp_c": {"type": "integer"}},
        "required": ["city", "temp_c"],
        "additionalProperties": False,
    }
    r = client.responses.create(
        model="claude-sonnet-4-5",
        input="weather in Paris as JSON",
        text={
            "format": {"type": "json_schema", "name": "Weather", "schema": schema, "strict": True}
        },
    )
    assert json.loads(r.output_text) == {"city": "Paris", "temp_c": 21}
    assert r.text.format.type == "json_schema"
    native = sent(mock)
    assert native["output_config"]["format"]["schema"]["properties"] == schema["properties"]


def test_stored_response_retrieve_items_and_delete(via) -> None:
    client, _, _ = via("google")
    r = client.responses.create(
        model="gemini-2.5-flash",
        input=[{"role": "user", "content": [{"type": "input_text", "text": "keep this"}]}],
        metadata={"ticket": "42"},
    )
    got = client.responses.retrieve(r.id)
    assert got.output_text == r.output_text and got.metadata == {"ticket": "42"}
    items = client.responses.input_items.list(r.id)
    assert len(items.data) == 1 and items.data[0].content[0].text == "keep this"
    client.responses.delete(r.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(r.id)
    with pytest.raises(openai.BadRequestError) as gone:
        client.responses.create(model="gemini-2.5-flash", input="x", previous_response_id=r.id)
    assert gone.value.code == "previous_response_not_found"


def test_input_items_pages(via) -> None:
    client, _, _ = via("anthropic")
    inp = [{"role": "user", "content": f"part {i}"} for i in range(5)]
    r = client.responses.create(model="claude-x", input=inp)
    page = client.responses.input_items.list(r.id, limit=2)
    texts = [i.content[0].text for i in page]
    assert texts == [f"part {i}" for i in reversed(range(5))]  # newest first, as OpenAI lists
    asc = client.responses.input_items.list(r.id, order="asc", limit=100)
    assert [i.content[0].text for i in asc.data] == [f"part {i}" for i in range(5)]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"tools": [{"type": "web_search_preview"}]}, "tools[0]"),
        ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0].type"),
        ({"background": True}, "background"),
        ({"tool_choice": {"type": "file_search"}}, "tool_choice"),
    ],
)
def test_what_cannot_be_translated_is_a_400_naming_it(via, body: dict, param: str) -> None:
    client, mock, _ = via("anthropic")
    before = len(mock.requests)
    r = raw_post(client, {"model": "claude-x", "input": "hi", **body})
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["param"] == param and "anthropic" in err["message"]
    assert len(mock.requests) == before  # refused before any upstream call


def test_foreign_previous_response_id_is_refused(via) -> None:
    client, mock, _ = via("anthropic")
    before = len(mock.requests)
    with pytest.raises(openai.BadRequestError) as err:
        client.responses.create(model="claude-x", input="x", previous_response_id="resp_abc123")
    assert err.value.code == "previous_response_not_found"
    assert len(mock.requests) == before


@pytest.mark.parametrize("provider", PROVIDERS)
def test_midstream_error_ends_with_error_and_failed(via, provider: str) -> None:
    client, _, _ = via(provider)
    r = raw_post(client, {"model": "midstream-error", "input": "a b c d e f", "stream": True})
    events = strict.stream(r.content)
    assert [e["type"] for e in events[-2:]] == ["error", "response.failed"]
    assert events[-1]["response"]["status"] == "failed"
    assert events[-1]["response"]["error"]["code"] == "server_error"


def test_upstream_error_before_the_stream_is_an_http_status(via) -> None:
    client, _, _ = via("anthropic")
    with pytest.raises(openai.RateLimitError):
        client.responses.create(model="error-429", input="x", stream=True)
    with pytest.raises(openai.RateLimitError):
        client.responses.create(model="error-429", input="x")


def test_max_tokens_finish_is_incomplete(via) -> None:
    client, mock, _ = via("anthropic")
    r = client.responses.create(model="max-tokens", input="long story", max_output_tokens=5)
    assert r.status == "incomplete" and r.incomplete_details.reason == "max_output_tokens"
    assert sent(mock)["max_tokens"] == 5
    events = list(client.responses.create(model="max-tokens", input="x", stream=True))
    assert events[-1].type == "response.incomplete"


def test_reasoning_effort_and_sampling_reach_gemini(via) -> None:
    client, mock, _ = via("google")
    client.responses.create(
        model="gemini-2.5-flash",
        input="think",
        reasoning={"effort": "low"},
        temperature=0.3,
        max_output_tokens=50,
    )
    config = sent(mock)["generationConfig"]
    assert config["temperature"] == 0.3 and config["maxOutputTokens"] == 50
    assert "thinkingBudget" in config["thinkingConfig"]


def test_images_reach_claude(via) -> None:
    client, mock, _ = via("anthropic")
    png = "data:image/png;base64,iVBORw0KGgo="
    r = client.responses.create(
        model="claude-x",
        input=[
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "what is this"},
                    {"type": "input_image", "image_url": png, "detail": "auto"},
                ],
            }
        ],
    )
    assert r.output_text == "echo: what is this [1 image(s)]"
    blocks = sent(mock)["messages"][0]["content"]
    assert blocks[1]["type"] == "image" and blocks[1]["source"]["media_type"] == "image/png"


def test_unknown_key_cannot_read_the_answer(via) -> None:
    client, _, _ = via("anthropic")
    r = client.responses.create(model="claude-x", input="mine")
    other, _, _ = via("anthropic", key="sk-someone-else-entirely")
    with pytest.raises(openai.NotFoundError):
        other.responses.retrieve(r.id)
    assert client.responses.retrieve(r.id).id == r.id
    assert PROVIDER_KEY != "sk-someone-else-entirely"


def test_a_gateway_id_continues_on_any_provider(via, mock_openai) -> None:
    """A conversation the gateway stored moves on to OpenAI through its chat API (OpenAI
    cannot know our id), history included, and stays in the gateway's store."""
    claude, _, _ = via("anthropic")
    first = claude.responses.create(model="claude-x", input="start on claude")
    chat_mock, chat_server = mock_openai
    oa, _, _ = via(
        "anthropic",
        **{"x-portkey-provider": "openai", "x-portkey-custom-host": chat_server.url + "/v1"},
    )
    second = oa.responses.create(
        model="gpt-4o", input="go on at openai", previous_response_id=first.id
    )
    assert second.output_text == "echo: go on at openai" and second.id.startswith("resp_gw")
    sent = chat_mock.requests[-1]
    assert sent["path"] == "/v1/chat/completions"
    assert [m["role"] for m in sent["json"]["messages"]] == ["user", "assistant", "user"]
    assert claude.responses.retrieve(second.id).previous_response_id == first.id


def test_an_id_no_provider_keeps_is_a_404_naming_why(via) -> None:
    client, mock, _ = via("anthropic")
    before = len(mock.requests)
    with pytest.raises(openai.NotFoundError) as err:
        client.responses.retrieve("resp_abc123")
    assert "anthropic keeps no responses" in str(err.value)
    assert len(mock.requests) == before


def test_portkey_sdk_responses(via) -> None:
    """Portkey's own SDK (its contract's reference client) reaches the same door."""
    from portkey_ai import Portkey

    client, _, gw = via("anthropic")
    pk = Portkey(
        base_url=gw.url + "/v1",
        provider="anthropic",
        Authorization=f"Bearer {PROVIDER_KEY}",
        custom_host=str(client.default_headers["x-portkey-custom-host"]),
        max_retries=0,
    )
    first = pk.responses.create(model="claude-x", input="via portkey")
    assert first.output_text == "echo: via portkey"
    second = pk.responses.create(model="claude-x", input="again", previous_response_id=first.id)
    assert second.output_text == "echo: again"
    assert pk.responses.retrieve(second.id).id == second.id


def test_vertex_streams_and_continues(via) -> None:
    vertex = {
        "x-portkey-provider": "vertex-ai",
        "x-portkey-vertex-project-id": "proj-mock",
        "x-portkey-vertex-region": "europe-west4",
    }
    client, mock, _ = via("google", **vertex)
    with client.responses.stream(model="gemini-2.5-flash", input="on vertex") as s:
        list(s)
        first = s.get_final_response()
    assert first.output_text == "echo: on vertex"
    client.responses.create(model="gemini-2.5-flash", input="more", previous_response_id=first.id)
    assert "/projects/proj-mock/locations/europe-west4/" in mock.requests[-1]["path"]
    assert user_texts("google", sent(mock)) == ["on vertex", "more"]
