"""OpenAI request -> Messages API body: the pure translation, field by field."""

from __future__ import annotations

import base64

import pytest

from proxy.errors import AuthenticationError, InvalidRequest
from proxy.providers.anthropic.structured import ANSWER_TOOL, JSON_INSTRUCTION, is_legacy
from proxy.routing.resolve import settings_target
from tests.conftest import PROVIDER_KEY
from tests.providers.anthropic.helpers import ADAPTER, TARGET, body_of, native

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
PNG = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n fake").decode()


def req(messages, **extra):
    return {"model": "claude-sonnet-4-6", "messages": messages, **extra}


def test_url_headers_and_minimal_body() -> None:
    up = ADAPTER.build_request(
        body_of(req([{"role": "user", "content": "hi"}])), TARGET, "claude-sonnet-4-6"
    )
    assert up.url == "https://api.anthropic.com/v1/messages"
    assert up.headers == {
        "Content-Type": "application/json",
        "x-api-key": PROVIDER_KEY,
        "anthropic-version": "2023-06-01",
    }
    assert native(req([{"role": "user", "content": "hi"}])) == {
        "model": "claude-sonnet-4-6",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
        "max_tokens": 4096,
    }


def test_custom_host_includes_v1() -> None:
    target = settings_target(
        provider="anthropic", api_key="k", custom_host="http://127.0.0.1:9/v1/"
    )
    up = ADAPTER.build_request(body_of(req([{"role": "user", "content": "x"}])), target, "m")
    assert up.url == "http://127.0.0.1:9/v1/messages"


def test_missing_key_is_401() -> None:
    with pytest.raises(AuthenticationError):
        ADAPTER.build_request(
            body_of(req([{"role": "user", "content": "x"}])),
            settings_target(provider="anthropic"),
            "m",
        )


def test_system_and_developer_anywhere_become_top_level_system() -> None:
    out = native(
        req(
            [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "hi"},
                {"role": "developer", "content": [{"type": "text", "text": "Use French."}]},
                {"role": "assistant", "content": "Salut"},
                {"role": "user", "content": "again"},
            ]
        )
    )
    assert out["system"] == [
        {"type": "text", "text": "Be brief."},
        {"type": "text", "text": "Use French."},
    ]
    assert [m["role"] for m in out["messages"]] == ["user", "assistant", "user"]


def test_consecutive_same_role_turns_merge() -> None:
    out = native(
        req(
            [
                {"role": "user", "content": "one"},
                {"role": "system", "content": "sys"},
                {"role": "user", "content": "two"},
                {"role": "assistant", "content": "a"},
                {"role": "assistant", "content": "b"},
            ]
        )
    )
    assert out["messages"] == [
        {
            "role": "user",
            "content": [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}],
        },
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
        },
    ]


def test_parameters() -> None:
    out = native(
        req(
            [{"role": "user", "content": "x"}],
            max_completion_tokens=100,
            max_tokens=50,
            temperature=0.5,
            top_p=0.9,
            top_k=40,
            stop="END",
            user="user-42",
            seed=7,
            presence_penalty=0.5,
            frequency_penalty=0.5,
            logit_bias={"50256": -100},
            stream=True,
        )
    )
    assert out["max_tokens"] == 100  # max_completion_tokens wins
    assert out["temperature"] == 0.5
    assert out["top_p"] == 0.9
    assert out["top_k"] == 40
    assert out["stop_sequences"] == ["END"]
    assert out["metadata"] == {"user_id": "user-42"}
    assert out["stream"] is True
    for dropped in ("seed", "presence_penalty", "frequency_penalty", "logit_bias", "user"):
        assert dropped not in out


def test_stop_list_and_zero_temperature() -> None:
    out = native(req([{"role": "user", "content": "x"}], stop=["a", "b"], temperature=0))
    assert out["stop_sequences"] == ["a", "b"]
    assert out["temperature"] == 0


@pytest.mark.parametrize(
    ("extra", "param"),
    [({"n": 2}, "n"), ({"logprobs": True}, "logprobs"), ({"top_logprobs": 2}, "logprobs")],
)
def test_unsupported_parameters_are_400(extra, param) -> None:
    with pytest.raises(InvalidRequest) as info:
        native(req([{"role": "user", "content": "x"}], **extra))
    assert info.value.param == param


def test_n_1_is_fine() -> None:
    assert "n" not in native(req([{"role": "user", "content": "x"}], n=1))


def test_tool_history_and_results() -> None:
    out = native(
        req(
            [
                {"role": "user", "content": "weather in Paris and Tokyo?"},
                {
                    "role": "assistant",
                    "content": "Checking.",
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                        },
                        {
                            "id": "call_2",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": ""},
                        },
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
                {
                    "role": "tool",
                    "tool_call_id": "call_2",
                    "content": [{"type": "text", "text": "rainy"}],
                },
                {"role": "user", "content": "thanks, summarise"},
            ],
            tools=[WEATHER],
        )
    )
    assert out["messages"][1] == {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "call_2", "name": "get_weather", "input": {}},
        ],
    }
    assert out["messages"][2] == {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "call_1", "content": "sunny"},
            {
                "type": "tool_result",
                "tool_use_id": "call_2",
                "content": [{"type": "text", "text": "rainy"}],
            },
            {"type": "text", "text": "thanks, summarise"},
        ],
    }
    assert len(out["messages"]) == 3
    assert out["tools"] == [
        {
            "name": "get_weather",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
            "description": "Weather for a city",
        }
    ]
    assert "tool_choice" not in out


@pytest.mark.parametrize("arguments", ["{not json", "[1, 2]"])
def test_bad_tool_call_arguments_are_400(arguments) -> None:
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": arguments}}
    with pytest.raises(InvalidRequest) as info:
        native(
            req(
                [
                    {"role": "user", "content": "x"},
                    {"role": "assistant", "content": None, "tool_calls": [call]},
                ]
            )
        )
    assert info.value.status == 400
    assert info.value.param == "messages[1].tool_calls[0].function.arguments"


@pytest.mark.parametrize(
    ("choice", "parallel", "expected"),
    [
        ("auto", None, {"type": "auto"}),
        ("none", None, {"type": "none"}),
        ("required", None, {"type": "any"}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            None,
            {"type": "tool", "name": "get_weather"},
        ),
        ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
        (None, True, None),
    ],
)
def test_tool_choice(choice, parallel, expected) -> None:
    extra = {"tools": [WEATHER]}
    if choice is not None:
        extra["tool_choice"] = choice
    if parallel is not None:
        extra["parallel_tool_calls"] = parallel
    out = native(req([{"role": "user", "content": "x"}], **extra))
    assert out.get("tool_choice") == expected


def test_tool_without_parameters_and_strict() -> None:
    tool = {"type": "function", "function": {"name": "now", "strict": True}}
    out = native(req([{"role": "user", "content": "x"}], tools=[tool]))
    assert out["tools"] == [
        {"name": "now", "input_schema": {"type": "object", "properties": {}}, "strict": True}
    ]


def test_images_url_and_base64() -> None:
    out = native(
        req(
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "compare"},
                        {"type": "image_url", "image_url": {"url": "https://example.com/a.jpg"}},
                        {"type": "image_url", "image_url": {"url": PNG, "detail": "high"}},
                    ],
                }
            ]
        )
    )
    assert out["messages"][0]["content"] == [
        {"type": "text", "text": "compare"},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/a.jpg"}},
        {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/png", "data": PNG.split(",", 1)[1]},
        },
    ]


def test_pdf_file_becomes_document() -> None:
    pdf = "data:application/pdf;base64," + base64.b64encode(b"%PDF-1.4").decode()
    out = native(req([{"role": "user", "content": [{"type": "file", "file": {"file_data": pdf}}]}]))
    assert out["messages"][0]["content"][0]["type"] == "document"
    assert out["messages"][0]["content"][0]["source"]["media_type"] == "application/pdf"


@pytest.mark.parametrize(
    "part",
    [
        {"type": "image_url", "image_url": {"url": "data:image/bmp;base64,Qk0="}},
        {"type": "image_url", "image_url": {"url": "ftp://example.com/a.png"}},
        {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},
        {"type": "file", "file": {"file_id": "file-abc"}},
    ],
)
def test_unsupported_content_is_400(part) -> None:
    with pytest.raises(InvalidRequest) as info:
        native(req([{"role": "user", "content": [part]}]))
    assert info.value.param == "messages[0].content[0]"


def test_json_schema_uses_native_structured_output() -> None:
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}}
    out = native(
        req(
            [{"role": "user", "content": "x"}],
            response_format={"type": "json_schema", "json_schema": {"name": "A", "schema": schema}},
        )
    )
    assert out["output_config"] == {"format": {"type": "json_schema", "schema": schema}}
    assert "tools" not in out


@pytest.mark.parametrize(
    ("model", "legacy"),
    [
        ("claude-3-5-sonnet-20241022", True),
        ("claude-3-haiku-20240307", True),
        ("claude-opus-4-20250514", True),
        ("claude-opus-4-1-20250805", True),
        ("claude-sonnet-4-0", True),
        ("claude-sonnet-4-5-20250929", False),
        ("claude-haiku-4-5", False),
        ("claude-opus-4-7", False),
        ("claude-sonnet-5-5", False),
    ],
)
def test_legacy_models(model, legacy) -> None:
    assert is_legacy(model) is legacy


def test_json_schema_on_legacy_model_is_a_forced_tool() -> None:
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}}
    rf = {"type": "json_schema", "json_schema": {"name": "Answer", "schema": schema}}
    out = native(req([{"role": "user", "content": "x"}], response_format=rf), "claude-3-5-haiku")
    assert "output_config" not in out
    assert out["tools"] == [
        {"name": ANSWER_TOOL, "input_schema": schema, "description": "Give the answer as Answer."}
    ]
    assert out["tool_choice"] == {"type": "tool", "name": ANSWER_TOOL}
    with_tools = native(
        req([{"role": "user", "content": "x"}], response_format=rf, tools=[WEATHER]),
        "claude-3-5-haiku",
    )
    assert [t["name"] for t in with_tools["tools"]] == ["get_weather", ANSWER_TOOL]
    assert with_tools["tool_choice"] == {"type": "any"}


def test_reserved_tool_name_is_400() -> None:
    tool = {"type": "function", "function": {"name": ANSWER_TOOL}}
    with pytest.raises(InvalidRequest):
        native(req([{"role": "user", "content": "x"}], tools=[tool]))


def test_json_object_is_a_system_instruction() -> None:
    out = native(
        req(
            [{"role": "system", "content": "sys"}, {"role": "user", "content": "x"}],
            response_format={"type": "json_object"},
        )
    )
    assert out["system"] == [
        {"type": "text", "text": "sys"},
        {"type": "text", "text": JSON_INSTRUCTION},
    ]
    assert out["messages"][-1]["role"] == "user"  # no prefill


def test_only_system_messages_is_400() -> None:
    with pytest.raises(InvalidRequest):
        native(req([{"role": "system", "content": "x"}]))
