"""The Responses mock speaks OpenAI's wire format: the official SDK, pointed straight at it,
parses every answer, stream event, stored object and list it sends."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from tests.conftest import PROVIDER_KEY
from tests.mock_openai_responses import MockResponses
from tests.responses import strict
from tests.servers import ServerThread

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


@pytest.fixture
def direct() -> Iterator[tuple[openai.OpenAI, MockResponses]]:
    mock = MockResponses()
    with ServerThread(mock.app) as server:
        yield openai.OpenAI(api_key=PROVIDER_KEY, base_url=server.url + "/v1", max_retries=0), mock


def test_create_text_and_continue(direct) -> None:
    client, _ = direct
    first = client.responses.create(model="gpt-4.1", input="hello", instructions="be brief")
    assert first.output_text == "echo: hello (turn 1)"
    assert first.status == "completed" and first.usage is not None
    second = client.responses.create(model="gpt-4.1", input="again", previous_response_id=first.id)
    assert second.output_text == "echo: again (turn 2)"
    assert client.responses.retrieve(second.id).output_text == second.output_text
    items = client.responses.input_items.list(second.id)
    assert [i.type for i in items.data] == ["message"]
    client.responses.delete(second.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(second.id)


def test_stream_events_parse_and_assemble(direct) -> None:
    client, _ = direct
    with client.responses.stream(model="gpt-4.1", input="stream me") as stream:
        kinds = [e.type for e in stream]
        final = stream.get_final_response()
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert kinds[-1] == "response.completed"
    assert final.output_text == "echo: stream me (turn 1)"


def test_tools_round_trip(direct) -> None:
    client, _ = direct
    r = client.responses.create(model="gpt-4.1", input="weather?", tools=[WEATHER])
    call = r.output[0]
    assert call.type == "function_call" and call.name == "get_weather"
    done = client.responses.create(
        model="gpt-4.1",
        previous_response_id=r.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}],
        tools=[WEATHER],
    )
    assert done.output_text == "results: sunny"
    streamed = client.responses.create(
        model="gpt-4.1", input="weather?", tools=[WEATHER], stream=True
    )
    kinds = [e.type for e in streamed]
    assert "response.function_call_arguments.delta" in kinds


def test_midstream_error_is_an_event(direct) -> None:
    client, _ = direct
    kinds = [
        e.type for e in client.responses.create(model="midstream-error", input="x", stream=True)
    ]
    assert kinds[-2:] == ["error", "response.failed"]


def test_errors(direct) -> None:
    client, _ = direct
    with pytest.raises(openai.RateLimitError):
        client.responses.create(model="error-429", input="x")
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model="gpt-4.1", input="x", previous_response_id="resp_nope")


def test_wire_bytes_validate_strictly() -> None:
    mock = MockResponses()
    with ServerThread(mock.app) as server:
        auth = {"authorization": f"Bearer {PROVIDER_KEY}"}
        r = strict.post(server.url, {"model": "m", "input": "hi", "tools": [WEATHER]}, auth)
        strict.response(r.json())
        r = strict.post(server.url, {"model": "m", "input": "hi", "stream": True}, auth)
        kinds = [e["type"] for e in strict.stream(r.content)]
        assert kinds[-1] == "response.completed"
        r = strict.post(
            server.url, {"model": "m", "input": "hi", "stream": True, "tools": [WEATHER]}, auth
        )
        strict.stream(r.content)
