"""The mock speaks Gemini's format: the official google-genai SDK reads it unchanged.

The Gemini API client takes a base_url; the Vertex client (vertexai=True) does too when given
explicit credentials, a project and a location, so both paths are proven against the mock.
"""

from __future__ import annotations

import base64

import google.oauth2.credentials
from google import genai
from google.genai import errors, types

from tests.conftest import PROVIDER_KEY
from tests.providers.google.conftest import PROJECT, REGION
from tests.providers.google.mock import MockGemini
from tests.servers import ServerThread


def gemini_sdk(upstream: ServerThread) -> genai.Client:
    return genai.Client(api_key=PROVIDER_KEY, http_options=types.HttpOptions(base_url=upstream.url))


def vertex_sdk(upstream: ServerThread) -> genai.Client:
    creds = google.oauth2.credentials.Credentials(token=PROVIDER_KEY)  # type: ignore[no-untyped-call]
    return genai.Client(
        vertexai=True,
        project=PROJECT,
        location=REGION,
        credentials=creds,
        http_options=types.HttpOptions(base_url=upstream.url, api_version="v1"),
    )


def test_gemini_sdk_generate_content(mock_gemini: tuple[MockGemini, ServerThread]) -> None:
    mock, upstream = mock_gemini
    client = gemini_sdk(upstream)  # keep a reference: a collected Client closes its pool
    r = client.models.generate_content(
        model="gemini-2.5-flash",
        contents="hello mock",
        config=types.GenerateContentConfig(candidate_count=2, system_instruction="be brief"),
    )
    assert r.text == "echo: hello mock"
    assert r.candidates is not None and len(r.candidates) == 2
    assert r.candidates[1].content is not None
    assert r.candidates[1].content.parts is not None
    assert r.candidates[1].content.parts[0].text == "echo: hello mock #1"
    assert r.candidates[0].finish_reason == types.FinishReason.STOP
    assert r.usage_metadata is not None and r.usage_metadata.total_token_count
    req = mock.last
    assert req["path"] == "/v1/models/gemini-2.5-flash:generateContent"  # the SDK's default
    assert req["headers"]["x-goog-api-key"] == PROVIDER_KEY
    assert req["json"]["systemInstruction"]["parts"] == [{"text": "be brief"}]


def test_gemini_sdk_stream(mock_gemini: tuple[MockGemini, ServerThread]) -> None:
    mock, upstream = mock_gemini
    client = gemini_sdk(upstream)
    chunks = list(
        client.models.generate_content_stream(model="gemini-2.5-flash", contents="one two three")
    )
    assert len(chunks) == 4
    assert "".join(c.text or "" for c in chunks) == "echo: one two three"
    assert chunks[-1].candidates is not None
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
    assert mock.last["query"] == {"alt": "sse"}


def test_gemini_sdk_function_calls(mock_gemini: tuple[MockGemini, ServerThread]) -> None:
    _, upstream = mock_gemini
    tool = types.Tool(
        function_declarations=[
            types.FunctionDeclaration(
                name="get_weather",
                parameters=types.Schema(
                    type=types.Type.OBJECT,
                    properties={"city": types.Schema(type=types.Type.STRING)},
                ),
            )
        ]
    )
    client = gemini_sdk(upstream)
    r = client.models.generate_content(
        model="tools", contents="weather?", config=types.GenerateContentConfig(tools=[tool])
    )
    calls = r.function_calls or []
    assert [(c.name, c.args) for c in calls] == [
        ("get_weather", {"city": "Paris"}),
        ("get_weather", {"city": "Tokyo"}),
    ]


def test_gemini_sdk_error(mock_gemini: tuple[MockGemini, ServerThread]) -> None:
    _, upstream = mock_gemini
    client = gemini_sdk(upstream)
    try:
        client.models.generate_content(model="error-429", contents="x")
    except errors.ClientError as exc:
        assert exc.code == 429
        assert exc.status == "RESOURCE_EXHAUSTED"
    else:
        raise AssertionError("the SDK did not raise")


def test_vertex_sdk_generate_content_and_stream(
    mock_gemini: tuple[MockGemini, ServerThread],
) -> None:
    mock, upstream = mock_gemini
    client = vertex_sdk(upstream)
    r = client.models.generate_content(model="gemini-2.5-flash", contents="hi vertex")
    assert r.text == "echo: hi vertex"
    path = f"/v1/projects/{PROJECT}/locations/{REGION}/publishers/google/models/gemini-2.5-flash"
    assert mock.last["path"] == path + ":generateContent"
    assert mock.last["headers"]["Authorization"] == f"Bearer {PROVIDER_KEY}"
    text = "".join(
        c.text or ""
        for c in client.models.generate_content_stream(model="gemini-2.5-flash", contents="a b")
    )
    assert text == "echo: a b"
    assert mock.last["path"] == path + ":streamGenerateContent"
    assert mock.last["query"] == {"alt": "sse"}


def test_gemini_sdk_call_directive(mock_gemini: tuple[MockGemini, ServerThread]) -> None:
    """Any model: ``call <function> <json>`` in the last user turn is answered with it."""
    _, upstream = mock_gemini
    tool = types.Tool(function_declarations=[types.FunctionDeclaration(name="lookup")])
    client = gemini_sdk(upstream)
    r = client.models.generate_content(
        model="gemini-2.5-flash",
        contents='call lookup {"q": "x"}',
        config=types.GenerateContentConfig(tools=[tool]),
    )
    assert [(c.name, c.args) for c in r.function_calls or []] == [("lookup", {"q": "x"})]


def test_gemini_3_signatures_with_the_sdk(mock_gemini: tuple[MockGemini, ServerThread]) -> None:
    """The SDK's own loop (the model's content appended as it came, signature included)
    passes; the call without its signature, or with another, is Gemini 3's 400; the
    placeholder Google documents for foreign histories passes."""
    _, upstream = mock_gemini
    client = gemini_sdk(upstream)
    tool = types.Tool(function_declarations=[types.FunctionDeclaration(name="lookup")])
    config = types.GenerateContentConfig(
        tools=[tool], thinking_config=types.ThinkingConfig(include_thoughts=True)
    )
    ask = types.Content(role="user", parts=[types.Part(text='call lookup {"q": "x"}')])
    r = client.models.generate_content(model="gemini-3-flash", contents=[ask], config=config)
    assert r.candidates and r.candidates[0].content and r.candidates[0].content.parts
    thought, call = r.candidates[0].content.parts
    assert thought.thought is True and thought.text == 'Thinking about: call lookup {"q": "x"}'
    assert call.function_call and call.thought_signature
    assert r.usage_metadata and r.usage_metadata.thoughts_token_count == 7
    answer = types.Part.from_function_response(name="lookup", response={"hits": 3})
    result = types.Content(role="user", parts=[answer])
    turn2 = [ask, r.candidates[0].content, result]
    r2 = client.models.generate_content(model="gemini-3-flash", contents=turn2, config=config)
    assert r2.text == 'echo: lookup={"hits": 3}'
    unsigned = types.Content(role="model", parts=[types.Part(function_call=call.function_call)])
    try:
        client.models.generate_content(
            model="gemini-3-flash", contents=[ask, unsigned, result], config=config
        )
    except errors.ClientError as exc:
        assert exc.code == 400 and "missing a thought_signature" in str(exc.message)
    else:
        raise AssertionError("an unsigned call passed")
    skip = base64.urlsafe_b64decode("skip_thought_signature_validator")
    placeholder = types.Part(function_call=call.function_call, thought_signature=skip)
    r3 = client.models.generate_content(
        model="gemini-3-flash",
        contents=[ask, types.Content(role="model", parts=[placeholder]), result],
        config=config,
    )
    assert r3.text == 'echo: lookup={"hits": 3}'
    streamed = list(
        client.models.generate_content_stream(model="gemini-3-flash", contents=[ask], config=config)
    )
    parts = [p for c in streamed if c.candidates for p in c.candidates[0].content.parts or []]
    assert [p.thought_signature for p in parts if p.function_call] == [call.thought_signature]
