"""Unit tests of the pure request translation: Chat Completions -> GenerateContentRequest."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from proxy.body import RequestBody
from proxy.errors import AuthenticationError, InvalidRequest
from proxy.frontdoors.chat import decode_chat
from proxy.providers.google import GeminiAdapter, VertexAdapter
from proxy.providers.google import native as g
from proxy.providers.google.request import build_body
from proxy.providers.google.thinking import LEGACY_MARK
from proxy.routing.resolve import settings_target
from proxy.schema import ChatRequest

PNG = (  # a 1x1 PNG
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4"
    "2mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
            "additionalProperties": False,
        },
    },
}


def native(body: dict[str, Any], model: str = "gemini-2.5-flash") -> dict[str, Any]:
    req = msgspec.convert({"model": model, **body}, ChatRequest)
    out: dict[str, Any] = json.loads(g.encoder.encode(build_body(req, model)))
    return out


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def test_system_messages_anywhere_go_to_system_instruction() -> None:
    out = native(
        {
            "messages": [
                {"role": "system", "content": "Be brief."},
                user("hi"),
                {"role": "developer", "content": [{"type": "text", "text": "Use French."}]},
            ]
        }
    )
    assert out == {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "systemInstruction": {"parts": [{"text": "Be brief."}, {"text": "Use French."}]},
    }


def test_multi_turn_roles_and_generation_config() -> None:
    out = native(
        {
            "messages": [user("a"), {"role": "assistant", "content": "b"}, user("c")],
            "max_tokens": 50,
            "temperature": 0.2,
            "top_p": 0.9,
            "stop": "END",
            "seed": 7,
            "n": 3,
            "presence_penalty": 0.5,
            "frequency_penalty": -0.5,
            "user": "u-1",  # no Gemini equivalent: dropped
            "logit_bias": {"50256": -100},  # OpenAI token ids: dropped
            "parallel_tool_calls": False,  # no Gemini switch: dropped
        }
    )
    assert [(c["role"], c["parts"][0]["text"]) for c in out["contents"]] == [
        ("user", "a"),
        ("model", "b"),
        ("user", "c"),
    ]
    assert out["generationConfig"] == {
        "stopSequences": ["END"],
        "candidateCount": 3,
        "maxOutputTokens": 50,
        "temperature": 0.2,
        "topP": 0.9,
        "seed": 7,
        "presencePenalty": 0.5,
        "frequencyPenalty": -0.5,
    }


def test_max_completion_tokens_wins() -> None:
    out = native({"messages": [user("x")], "max_tokens": 5, "max_completion_tokens": 9})
    assert out["generationConfig"] == {"maxOutputTokens": 9}


def test_tool_calls_and_results_keep_the_real_function_name() -> None:
    sig_id = f"call_b{LEGACY_MARK}c2lnbmF0dXJl"  # an id this gateway issued before reasoning_opaque
    out = native(
        {
            "messages": [
                user("weather in Paris and Tokyo?"),
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_a",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                        },
                        {
                            "id": sig_id,
                            "type": "function",
                            "function": {"name": "get_time", "arguments": '{"tz":"Asia/Tokyo"}'},
                        },
                    ],
                },
                {"role": "tool", "tool_call_id": "call_a", "content": '{"temp": 21}'},
                {"role": "tool", "tool_call_id": sig_id, "content": "09:00"},
                user("thanks"),
            ],
            "tools": [WEATHER],
        }
    )
    assert out["contents"][1] == {
        "role": "model",
        "parts": [
            {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
            {
                "functionCall": {"name": "get_time", "args": {"tz": "Asia/Tokyo"}},
                "thoughtSignature": "c2lnbmF0dXJl",
            },
        ],
    }
    assert out["contents"][2] == {
        "role": "user",
        "parts": [
            {"functionResponse": {"name": "get_weather", "response": {"temp": 21}}},
            {"functionResponse": {"name": "get_time", "response": {"output": "09:00"}}},
        ],
    }
    assert out["contents"][3] == {"role": "user", "parts": [{"text": "thanks"}]}
    assert out["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "get_weather",
                    "description": "Weather for a city",
                    "parameters": {
                        "type": "OBJECT",
                        "properties": {"city": {"type": "STRING"}},
                        "required": ["city"],
                    },
                }
            ]
        }
    ]


def test_unknown_tool_call_id_is_a_400() -> None:
    with pytest.raises(InvalidRequest) as exc:
        native({"messages": [user("x"), {"role": "tool", "tool_call_id": "nope", "content": "1"}]})
    assert exc.value.param == "messages[1].tool_call_id"


@pytest.mark.parametrize(
    ("choice", "config"),
    [
        ("auto", {"mode": "AUTO"}),
        ("none", {"mode": "NONE"}),
        ("required", {"mode": "ANY"}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            {"mode": "ANY", "allowedFunctionNames": ["get_weather"]},
        ),
    ],
)
def test_tool_choice(choice: Any, config: dict[str, Any]) -> None:
    out = native({"messages": [user("x")], "tools": [WEATHER], "tool_choice": choice})
    assert out["toolConfig"] == {"functionCallingConfig": config}


def test_parameterless_tool_has_no_parameters() -> None:
    tool = {"type": "function", "function": {"name": "now", "parameters": {"type": "object"}}}
    out = native({"messages": [user("x")], "tools": [tool]})
    assert out["tools"][0]["functionDeclarations"] == [{"name": "now"}]


def test_images_data_url_inline_and_https_file_data() -> None:
    out = native(
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "compare"},
                        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                        {"type": "image_url", "image_url": {"url": "https://example.com/cat.webp"}},
                        {"type": "image_url", "image_url": {"url": "https://example.com/img?id=3"}},
                    ],
                }
            ]
        }
    )
    assert out["contents"][0]["parts"] == [
        {"text": "compare"},
        {"inlineData": {"mimeType": "image/png", "data": PNG}},
        {"fileData": {"fileUri": "https://example.com/cat.webp", "mimeType": "image/webp"}},
        {"fileData": {"fileUri": "https://example.com/img?id=3", "mimeType": "image/jpeg"}},
    ]


def test_bad_image_urls_are_400() -> None:
    for url in ("ftp://example.com/a.png", "data:image/png;base64,@@@"):
        part = {"type": "image_url", "image_url": {"url": url}}
        with pytest.raises(InvalidRequest):
            native({"messages": [{"role": "user", "content": [part]}]})


def test_json_object_and_json_schema() -> None:
    out = native({"messages": [user("x")], "response_format": {"type": "json_object"}})
    assert out["generationConfig"] == {"responseMimeType": "application/json"}
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": ["integer", "null"]}},
        "required": ["name", "age"],
        "additionalProperties": False,
    }
    out = native(
        {
            "messages": [user("x")],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "person", "schema": schema, "strict": True},
            },
        }
    )
    assert out["generationConfig"] == {
        "responseMimeType": "application/json",
        "responseSchema": {
            "type": "OBJECT",
            "properties": {
                "name": {"type": "STRING"},
                "age": {"type": "INTEGER", "nullable": True},
            },
            "propertyOrdering": ["name", "age"],
            "required": ["name", "age"],
        },
    }


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"logprobs": True}, "logprobs"),
        ({"n": 0}, "n"),
        ({"reasoning_effort": "extreme"}, "reasoning_effort"),
    ],
)
def test_what_gemini_cannot_take_is_a_400(body: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as exc:
        native({"messages": [user("x")], **body})
    assert exc.value.param == param


def test_reasoning_effort() -> None:
    # includeThoughts: the thought summaries come back as reasoning_content
    out = native({"messages": [user("x")], "reasoning_effort": "low"})
    assert out["generationConfig"] == {
        "thinkingConfig": {"includeThoughts": True, "thinkingBudget": 1024}
    }
    out = native({"messages": [user("x")], "reasoning_effort": "high"}, model="gemini-3-pro")
    assert out["generationConfig"] == {
        "thinkingConfig": {"includeThoughts": True, "thinkingLevel": "high"}
    }
    out = native({"messages": [user("x")], "reasoning_effort": "none"})
    assert out["generationConfig"] == {"thinkingConfig": {"thinkingBudget": 0}}
    flash = native({"messages": [user("x")], "reasoning_effort": "minimal"}, "gemini-3-flash")
    assert flash["generationConfig"]["thinkingConfig"]["thinkingLevel"] == "minimal"
    pro = native({"messages": [user("x")], "reasoning_effort": "minimal"}, "gemini-3-pro")
    assert pro["generationConfig"]["thinkingConfig"]["thinkingLevel"] == "low"


def body_of(payload: dict[str, Any]) -> RequestBody:
    raw = json.dumps(payload).encode()
    return decode_chat(raw)


def test_gemini_url_and_key_header() -> None:
    body = body_of({"model": "gemini-2.5-flash", "messages": [user("x")], "stream": True})
    up = GeminiAdapter().build_request(
        body, settings_target(provider="google", api_key="k1"), "gemini-2.5-flash"
    )
    assert up.url == (
        "https://generativelanguage.googleapis.com/v1beta/models/"
        "gemini-2.5-flash:streamGenerateContent?alt=sse"
    )
    assert up.headers["x-goog-api-key"] == "k1"
    assert "key=" not in up.url
    # a custom host is the host only; one that already names a version is kept as is
    for host in ("http://h:1", "http://h:1/", "http://h:1/v1beta"):
        target = settings_target(provider="google", api_key="k", custom_host=host)
        up = GeminiAdapter().build_request(body, target, "models/gemini-2.0-flash")
        assert up.url == "http://h:1/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse"
    with pytest.raises(AuthenticationError):
        GeminiAdapter().build_request(body, settings_target(provider="google"), "m")


def test_vertex_urls_and_bearer() -> None:
    body = body_of({"model": "m", "messages": [user("x")]})
    adapter = VertexAdapter()
    t = settings_target(
        provider="vertex-ai", api_key="tok", vertex_project_id="p1", vertex_region="us-east5"
    )
    up = adapter.build_request(body, t, "gemini-2.5-pro")
    assert up.url == (
        "https://us-east5-aiplatform.googleapis.com/v1/projects/p1/locations/us-east5"
        "/publishers/google/models/gemini-2.5-pro:generateContent"
    )
    assert up.headers["Authorization"] == "Bearer tok"
    t = settings_target(
        provider="vertex-ai",
        vertex_token="vt",
        api_key="ignored",
        vertex_project_id="p1",
        vertex_region="global",
    )
    up = adapter.build_request(body, t, "gemini-2.5-pro")
    assert up.url.startswith("https://aiplatform.googleapis.com/v1/projects/p1/locations/global/")
    assert up.headers["Authorization"] == "Bearer vt"
    t = settings_target(
        provider="vertex-ai", api_key="t", vertex_project_id="p1", custom_host="http://h:2"
    )
    up = adapter.build_request(body, t, "gemini-2.5-pro")
    assert up.url == (
        "http://h:2/v1/projects/p1/locations/us-central1/publishers/google/models/"
        "gemini-2.5-pro:generateContent"
    )
    with pytest.raises(InvalidRequest):  # no project
        adapter.build_request(body, settings_target(provider="vertex-ai", api_key="t"), "m")
    with pytest.raises(InvalidRequest):  # a region that would change the host
        bad = settings_target(
            provider="vertex-ai", api_key="t", vertex_project_id="p", vertex_region="x.evil/"
        )
        adapter.build_request(body, bad, "m")
    with pytest.raises(AuthenticationError):
        adapter.build_request(
            body, settings_target(provider="vertex-ai", vertex_project_id="p"), "m"
        )
