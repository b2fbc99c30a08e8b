"""OpenAI request -> Converse body: the pure translation."""

from __future__ import annotations

import base64
import json

import pytest

from proxy.errors import GatewayError
from tests.providers.bedrock.helpers import native

PNG = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n fake").decode()
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
CALL = {
    "id": "call_1",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
}


def rejects(request: dict, param: str) -> GatewayError:
    with pytest.raises(GatewayError) as err:
        native(request)
    assert err.value.status == 400
    assert err.value.param == param
    return err.value


def test_system_developer_anywhere_and_params() -> None:
    body = native(
        {
            "messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": "hi"},
                {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
            ],
            "max_completion_tokens": 64,
            "temperature": 0.3,
            "top_p": 0.9,
            "stop": "END",
            "user": "user-42",
            "seed": 7,
        }
    )
    assert body["system"] == [{"text": "You are terse."}, {"text": "Answer in French."}]
    assert body["messages"] == [{"role": "user", "content": [{"text": "hi"}]}]
    assert body["inferenceConfig"] == {
        "maxTokens": 64,
        "temperature": 0.3,
        "topP": 0.9,
        "stopSequences": ["END"],
    }
    assert body["requestMetadata"] == {"user": "user-42"}
    assert "toolConfig" not in body and "outputConfig" not in body


def test_minimal_body_has_only_messages() -> None:
    assert native({"messages": [{"role": "user", "content": "x"}]}) == {
        "messages": [{"role": "user", "content": [{"text": "x"}]}]
    }


def test_tool_round_trip_merges_turns() -> None:
    body = native(
        {
            "messages": [
                {"role": "user", "content": "weather in Paris and Tokyo?"},
                {
                    "role": "assistant",
                    "content": "Checking.",
                    "tool_calls": [
                        CALL,
                        {
                            **CALL,
                            "id": "call_2",
                            "function": {"name": "get_weather", "arguments": '{"city":"Tokyo"}'},
                        },
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": '{"temp_c": 21}'},
                {"role": "tool", "tool_call_id": "call_2", "content": "sunny"},
                {"role": "user", "content": "and tomorrow?"},
            ],
            "tools": [WEATHER],
            "tool_choice": "auto",
        }
    )
    user, assistant, results = body["messages"]
    assert user == {"role": "user", "content": [{"text": "weather in Paris and Tokyo?"}]}
    assert assistant["content"] == [
        {"text": "Checking."},
        {"toolUse": {"toolUseId": "call_1", "name": "get_weather", "input": {"city": "Paris"}}},
        {"toolUse": {"toolUseId": "call_2", "name": "get_weather", "input": {"city": "Tokyo"}}},
    ]
    assert results["content"] == [
        {"toolResult": {"toolUseId": "call_1", "content": [{"json": {"temp_c": 21}}]}},
        {"toolResult": {"toolUseId": "call_2", "content": [{"text": "sunny"}]}},
        {"text": "and tomorrow?"},
    ]
    assert body["toolConfig"] == {
        "tools": [
            {
                "toolSpec": {
                    "name": "get_weather",
                    "description": "Weather for a city",
                    "inputSchema": {"json": WEATHER["function"]["parameters"]},
                }
            }
        ],
        "toolChoice": {"auto": {}},
    }


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("required", {"any": {}}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            {"tool": {"name": "get_weather"}},
        ),
    ],
)
def test_tool_choice(choice, expected) -> None:
    body = native(
        {"messages": [{"role": "user", "content": "x"}], "tools": [WEATHER], "tool_choice": choice}
    )
    assert body["toolConfig"]["toolChoice"] == expected


def test_tool_choice_none_omits_tools_unless_history_needs_them() -> None:
    plain = native(
        {"messages": [{"role": "user", "content": "x"}], "tools": [WEATHER], "tool_choice": "none"}
    )
    assert "toolConfig" not in plain
    history = native(
        {
            "messages": [
                {"role": "user", "content": "x"},
                {"role": "assistant", "tool_calls": [CALL]},
                {"role": "tool", "tool_call_id": "call_1", "content": "ok"},
            ],
            "tools": [WEATHER],
            "tool_choice": "none",
        }
    )
    # Converse requires a toolConfig when the history has tool blocks; no toolChoice sent
    assert history["toolConfig"]["tools"][0]["toolSpec"]["name"] == "get_weather"
    assert "toolChoice" not in history["toolConfig"]


def test_history_tools_declared_when_client_sent_none() -> None:
    body = native(
        {
            "messages": [
                {"role": "user", "content": "x"},
                {"role": "assistant", "content": None, "tool_calls": [CALL]},
                {"role": "tool", "tool_call_id": "call_1", "content": "ok"},
            ]
        }
    )
    (spec,) = body["toolConfig"]["tools"]
    assert spec["toolSpec"]["name"] == "get_weather"
    assert spec["toolSpec"]["inputSchema"] == {"json": {"type": "object"}}


def test_images_and_documents() -> None:
    pdf = "data:application/pdf;base64," + base64.b64encode(b"%PDF-1.4").decode()
    body = native(
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "what is this?"},
                        {"type": "image_url", "image_url": {"url": PNG}},
                        {"type": "image_url", "image_url": {"url": "s3://bucket/cat.JPG"}},
                        {
                            "type": "file",
                            "file": {"file_data": pdf, "filename": "Q3 report.v2.pdf"},
                        },
                    ],
                }
            ]
        }
    )
    _, png, s3, doc = body["messages"][0]["content"]
    assert png == {"image": {"format": "png", "source": {"bytes": PNG.split(",", 1)[1]}}}
    assert s3 == {
        "image": {"format": "jpeg", "source": {"s3Location": {"uri": "s3://bucket/cat.JPG"}}}
    }
    assert doc["document"]["format"] == "pdf"
    assert doc["document"]["name"] == "Q3 report v2"


def test_https_image_is_a_clear_400() -> None:
    err = rejects(
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
                    ],
                }
            ]
        },
        "messages[0].content[0].image_url.url",
    )
    assert "base64 data URL" in err.message


def test_unsupported_image_type() -> None:
    tiff = "data:image/tiff;base64,AAAA"
    rejects(
        {
            "messages": [
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": tiff}}]}
            ]
        },
        "messages[0].content[0].image_url.url",
    )


def test_json_schema_uses_native_structured_output() -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    }
    body = native(
        {
            "messages": [{"role": "user", "content": "x"}],
            "response_format": {
                "type": "json_schema",
                "json_schema": {
                    "name": "place",
                    "description": "A place",
                    "schema": schema,
                    "strict": True,
                },
            },
        }
    )
    fmt = body["outputConfig"]["textFormat"]
    assert fmt["type"] == "json_schema"
    definition = fmt["structure"]["jsonSchema"]
    assert json.loads(definition["schema"]) == schema  # a JSON string, as the API asks
    assert definition["name"] == "place" and definition["description"] == "A place"
    assert "toolConfig" not in body


def test_json_object_is_a_forced_tool() -> None:
    body = native(
        {"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_object"}}
    )
    (spec,) = body["toolConfig"]["tools"]
    assert spec["toolSpec"]["name"] == "_json_response"
    assert body["toolConfig"]["toolChoice"] == {"tool": {"name": "_json_response"}}
    with_tools = native(
        {
            "messages": [{"role": "user", "content": "x"}],
            "tools": [WEATHER],
            "response_format": {"type": "json_object"},
        }
    )
    assert [t["toolSpec"]["name"] for t in with_tools["toolConfig"]["tools"]] == [
        "get_weather",
        "_json_response",
    ]
    assert with_tools["toolConfig"]["toolChoice"] == {"any": {}}


def test_reasoning_effort() -> None:
    body = native({"messages": [{"role": "user", "content": "x"}], "reasoning_effort": "minimal"})
    assert body["outputConfig"] == {"effort": "low"}


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"n": 2}, "n"),
        ({"logprobs": True}, "logprobs"),
        ({"tools": [{"type": "function", "function": {"name": "_json_response"}}]}, "tools"),
    ],
)
def test_unsupported_parameters_are_400(extra, param) -> None:
    rejects({"messages": [{"role": "user", "content": "x"}], **extra}, param)


def test_sampling_hints_are_dropped_and_n_1_passes() -> None:
    body = native(
        {
            "messages": [{"role": "user", "content": "x"}],
            "n": 1,
            "presence_penalty": 0.5,
            "frequency_penalty": -1,
            "logit_bias": {"50256": -100},
            "seed": 7,
            "parallel_tool_calls": False,
        }
    )
    assert set(body) == {"messages"}


def test_bad_tool_arguments_named() -> None:
    rejects(
        {
            "messages": [
                {"role": "user", "content": "x"},
                {
                    "role": "assistant",
                    "tool_calls": [{**CALL, "function": {"name": "f", "arguments": "[1, 2]"}}],
                },
            ]
        },
        "messages[1].tool_calls[0].function.arguments",
    )


def test_empty_turns_dropped_and_same_roles_merged() -> None:
    body = native(
        {
            "messages": [
                {"role": "user", "content": "a"},
                {"role": "assistant", "content": ""},
                {"role": "user", "content": [{"type": "text", "text": "b"}]},
            ]
        }
    )
    assert body["messages"] == [{"role": "user", "content": [{"text": "a"}, {"text": "b"}]}]
