"""msgspec Structs for the OpenAI Chat Completions API: the gateway's canonical schema.

Requests are decoded once at the edge into ``ChatRequest``. Fields the gateway does not
know are not lost: the raw body is kept beside the typed view and an OpenAI-compatible
upstream receives it as sent (see ``proxy.context.RequestBody``). Native adapters
(Anthropic, Gemini, Bedrock) translate from the typed view.

Optional parameters default to ``UNSET`` so "absent" and "null" stay distinguishable.
Response Structs encode their defaults (``object``, ``role``, ``finish_reason: null``, zero
token counts: clients rely on them) and leave out only what is ``UNSET``.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from msgspec import UNSET, Struct, UnsetType

# ---------------------------------------------------------------- content parts


class CacheControl(Struct, omit_defaults=True):
    """A prompt-cache breakpoint (Anthropic's ``cache_control``, as Portkey and LiteLLM
    accept it on content parts, messages and tools): the prompt up to here is cached."""

    type: str = "ephemeral"
    ttl: str | UnsetType = UNSET  # "5m" (default) or "1h"


Cache = CacheControl | UnsetType | None


class ImageURL(Struct, omit_defaults=True):
    url: str
    detail: str | UnsetType = UNSET


class TextPart(Struct, tag_field="type", tag="text", omit_defaults=True):
    text: str
    cache_control: Cache = UNSET


class ImagePart(Struct, tag_field="type", tag="image_url", omit_defaults=True):
    image_url: ImageURL
    cache_control: Cache = UNSET


class InputAudio(Struct):
    data: str
    format: str


class AudioPart(Struct, tag_field="type", tag="input_audio", omit_defaults=True):
    input_audio: InputAudio


class FileRef(Struct, omit_defaults=True):
    file_data: str | UnsetType = UNSET
    file_id: str | UnsetType = UNSET
    filename: str | UnsetType = UNSET


class FilePart(Struct, tag_field="type", tag="file", omit_defaults=True):
    file: FileRef
    cache_control: Cache = UNSET


class RefusalPart(Struct, tag_field="type", tag="refusal", omit_defaults=True):
    refusal: str


ContentPart = TextPart | ImagePart | AudioPart | FilePart | RefusalPart
Content = str | list[ContentPart]

# ---------------------------------------------------------------- tools


class FunctionDef(Struct, omit_defaults=True):
    name: str
    description: str | UnsetType = UNSET
    parameters: dict[str, Any] | UnsetType = UNSET
    strict: bool | UnsetType | None = UNSET


class Tool(Struct, omit_defaults=True):
    function: FunctionDef
    type: Literal["function"] = "function"
    cache_control: Cache = UNSET  # beside ``function``, as Portkey and LiteLLM take it


class FunctionCall(Struct):
    name: str
    arguments: str


class ToolCall(Struct):
    id: str
    function: FunctionCall
    type: Literal["function"] = "function"


class NamedFunction(Struct):
    name: str


class NamedToolChoice(Struct, omit_defaults=True):
    function: NamedFunction
    type: Literal["function"] = "function"


ToolChoice = Literal["none", "auto", "required"] | NamedToolChoice

# ---------------------------------------------------------------- messages


class SystemMessage(Struct, tag_field="role", tag="system", omit_defaults=True):
    content: str | list[TextPart]
    name: str | UnsetType = UNSET
    cache_control: Cache = UNSET  # on the message's last block


class DeveloperMessage(Struct, tag_field="role", tag="developer", omit_defaults=True):
    content: str | list[TextPart]
    name: str | UnsetType = UNSET
    cache_control: Cache = UNSET  # on the message's last block


class UserMessage(Struct, tag_field="role", tag="user", omit_defaults=True):
    content: Content
    name: str | UnsetType = UNSET
    cache_control: Cache = UNSET  # on the message's last block


class AssistantMessage(Struct, tag_field="role", tag="assistant", omit_defaults=True):
    content: Content | None = None
    name: str | UnsetType = UNSET
    tool_calls: list[ToolCall] | UnsetType = UNSET
    refusal: str | UnsetType | None = UNSET
    function_call: FunctionCall | UnsetType | None = UNSET
    cache_control: Cache = UNSET
    # what the gateway answered (ResponseMessage), sent back by the client: the reasoning
    # text, and the opaque state a provider needs again (proxy/providers/reasoning.py)
    reasoning_content: str | UnsetType | None = UNSET
    reasoning_opaque: str | UnsetType | None = UNSET


class ToolMessage(Struct, tag_field="role", tag="tool", omit_defaults=True):
    content: str | list[TextPart]
    tool_call_id: str
    cache_control: Cache = UNSET


class FunctionMessage(Struct, tag_field="role", tag="function", omit_defaults=True):
    content: str | None
    name: str


Message = (
    SystemMessage
    | DeveloperMessage
    | UserMessage
    | AssistantMessage
    | ToolMessage
    | FunctionMessage
)

# ---------------------------------------------------------------- response_format


class JSONSchemaSpec(Struct, omit_defaults=True):
    name: str
    schema: dict[str, Any] | UnsetType = UNSET
    description: str | UnsetType = UNSET
    strict: bool | UnsetType | None = UNSET


class TextFormat(Struct, tag_field="type", tag="text"):
    pass


class JSONObjectFormat(Struct, tag_field="type", tag="json_object"):
    pass


class JSONSchemaFormat(Struct, tag_field="type", tag="json_schema"):
    json_schema: JSONSchemaSpec


ResponseFormat = TextFormat | JSONObjectFormat | JSONSchemaFormat


class StreamOptions(Struct, omit_defaults=True):
    include_usage: bool | UnsetType = UNSET


class GoogleExtra(Struct, omit_defaults=True):
    """Google's OpenAI-compatibility extension (``extra_body.google``), passed to Gemini."""

    thinking_config: dict[str, Any] | UnsetType = UNSET  # Gemini's thinkingConfig, as is
    cached_content: str | UnsetType = UNSET  # a cachedContents/... resource name


class ExtraBody(Struct, omit_defaults=True):
    google: GoogleExtra | UnsetType = UNSET


# ---------------------------------------------------------------- request


class ChatRequest(Struct, omit_defaults=True):
    """``POST /v1/chat/completions`` body: every documented field, typed."""

    model: str
    messages: list[Message]
    stream: bool | None = False
    stream_options: StreamOptions | UnsetType | None = UNSET
    temperature: float | UnsetType | None = UNSET
    top_p: float | UnsetType | None = UNSET
    n: int | UnsetType | None = UNSET
    stop: str | list[str] | UnsetType | None = UNSET
    max_tokens: int | UnsetType | None = UNSET
    max_completion_tokens: int | UnsetType | None = UNSET
    presence_penalty: float | UnsetType | None = UNSET
    frequency_penalty: float | UnsetType | None = UNSET
    logit_bias: dict[str, float] | UnsetType | None = UNSET
    logprobs: bool | UnsetType | None = UNSET
    top_logprobs: int | UnsetType | None = UNSET
    user: str | UnsetType = UNSET
    seed: int | UnsetType | None = UNSET
    tools: list[Tool] | UnsetType = UNSET
    tool_choice: ToolChoice | UnsetType = UNSET
    top_k: int | UnsetType | None = UNSET  # not OpenAI's, but common among compatible APIs
    parallel_tool_calls: bool | UnsetType = UNSET
    response_format: ResponseFormat | UnsetType = UNSET
    reasoning_effort: str | UnsetType | None = UNSET
    metadata: dict[str, str] | UnsetType | None = UNSET
    store: bool | UnsetType | None = UNSET
    service_tier: str | UnsetType | None = UNSET
    # provider-native reasoning switches, sent as they are (Anthropic's thinking object, as
    # Portkey takes it; Google's extra_body.google as its OpenAI-compatible API takes it)
    thinking: dict[str, Any] | UnsetType | None = UNSET
    extra_body: ExtraBody | UnsetType | None = UNSET


# ---------------------------------------------------------------- response


class PromptTokensDetails(Struct, omit_defaults=True):
    cached_tokens: int | UnsetType = UNSET  # read from the provider's prompt cache
    audio_tokens: int | UnsetType = UNSET
    # written to it (Anthropic and Bedrock charge for writes; OpenAI's own field name)
    cache_write_tokens: int | UnsetType = UNSET


class CompletionTokensDetails(Struct, omit_defaults=True):
    reasoning_tokens: int | UnsetType = UNSET
    audio_tokens: int | UnsetType = UNSET
    accepted_prediction_tokens: int | UnsetType = UNSET
    rejected_prediction_tokens: int | UnsetType = UNSET


class Usage(Struct):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    prompt_tokens_details: PromptTokensDetails | UnsetType | None = UNSET
    completion_tokens_details: CompletionTokensDetails | UnsetType | None = UNSET


class ResponseMessage(Struct):
    role: str = "assistant"
    content: str | None = None
    tool_calls: list[ToolCall] | UnsetType = UNSET
    refusal: str | UnsetType | None = UNSET
    # reasoning text, as DeepSeek, vLLM and others report it (not OpenAI's own field)
    reasoning_content: str | UnsetType | None = UNSET
    # what the provider needs back on the next turn (signatures, redacted thinking): an
    # opaque string for the client to echo with this message (proxy/providers/reasoning.py)
    reasoning_opaque: str | UnsetType | None = UNSET


class Choice(Struct):
    index: int
    message: ResponseMessage
    finish_reason: str | None = None
    logprobs: Any | UnsetType = UNSET


class ChatCompletion(Struct):
    id: str
    created: int
    model: str
    choices: list[Choice]
    object: str = "chat.completion"
    usage: Usage | UnsetType | None = UNSET
    system_fingerprint: str | UnsetType | None = UNSET
    service_tier: str | UnsetType | None = UNSET


class FunctionCallDelta(Struct, omit_defaults=True):
    name: str | UnsetType = UNSET
    arguments: str | UnsetType = UNSET


class ToolCallDelta(Struct, omit_defaults=True):
    index: int
    id: str | UnsetType = UNSET
    type: str | UnsetType = UNSET
    function: FunctionCallDelta | UnsetType = UNSET


class Delta(Struct, omit_defaults=True):
    role: str | UnsetType = UNSET
    content: str | UnsetType | None = UNSET
    tool_calls: list[ToolCallDelta] | UnsetType = UNSET
    refusal: str | UnsetType | None = UNSET
    reasoning_content: str | UnsetType | None = UNSET  # see ResponseMessage
    reasoning_opaque: str | UnsetType | None = UNSET  # sent once, whole, before the finish


class ChunkChoice(Struct):
    index: int
    delta: Delta
    finish_reason: str | None = None
    logprobs: Any | UnsetType = UNSET


class ChatCompletionChunk(Struct):
    id: str
    created: int
    model: str
    choices: list[ChunkChoice]
    object: str = "chat.completion.chunk"
    usage: Usage | UnsetType | None = UNSET
    system_fingerprint: str | UnsetType | None = UNSET


# One reusable decoder/encoder per type: msgspec builds them once.
request_decoder = msgspec.json.Decoder(ChatRequest)
completion_decoder = msgspec.json.Decoder(ChatCompletion)
chunk_decoder = msgspec.json.Decoder(ChatCompletionChunk)
encoder = msgspec.json.Encoder()


class _UsageOnly(Struct):
    usage: Usage | None = None


usage_decoder = msgspec.json.Decoder(_UsageOnly)


def text_of_json(content: Any) -> str:
    """``text_of`` for content still in its JSON form (a string or a list of part dicts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            p["text"]
            for p in content
            if isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)
        )
    return ""


def text_of(content: Content | list[TextPart] | None) -> str:
    """The text of a message's content, parts joined with newlines."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "\n".join(p.text for p in content if isinstance(p, TextPart))
