"""msgspec Structs for the Messages API wire format, both directions.

Outbound blocks are tagged on ``type`` (the encoder writes the tag). Inbound content
blocks are read leniently into one ``Block`` shape: the API adds block kinds over time
(thinking, server tools, citations), and an unknown kind must not fail a whole answer.
Stream events are decoded by their SSE event name with one reused decoder per type.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from msgspec import UNSET, Struct, UnsetType

# ---------------------------------------------------------------- request


class CacheControl(Struct, omit_defaults=True):
    type: str = "ephemeral"
    ttl: str | UnsetType = UNSET


Cache = CacheControl | UnsetType  # UNSET fields are never encoded


class TextBlock(Struct, tag_field="type", tag="text"):
    text: str
    cache_control: Cache = UNSET


class Base64Source(Struct, tag_field="type", tag="base64"):
    media_type: str
    data: str


class URLSource(Struct, tag_field="type", tag="url"):
    url: str


class ImageBlock(Struct, tag_field="type", tag="image"):
    source: Base64Source | URLSource
    cache_control: Cache = UNSET


class DocumentBlock(Struct, tag_field="type", tag="document"):
    source: Base64Source | URLSource
    cache_control: Cache = UNSET


class ToolUseBlock(Struct, tag_field="type", tag="tool_use"):
    id: str
    name: str
    input: dict[str, Any]
    cache_control: Cache = UNSET


class ToolResultBlock(Struct, tag_field="type", tag="tool_result", omit_defaults=True):
    tool_use_id: str
    content: str | list[TextBlock] | UnsetType = UNSET
    cache_control: Cache = UNSET


class ThinkingBlock(Struct, tag_field="type", tag="thinking"):
    thinking: str
    signature: str


class RedactedThinkingBlock(Struct, tag_field="type", tag="redacted_thinking"):
    data: str


InputBlock = (
    TextBlock
    | ImageBlock
    | DocumentBlock
    | ToolUseBlock
    | ToolResultBlock
    | ThinkingBlock
    | RedactedThinkingBlock
)


class MessageParam(Struct):
    role: Literal["user", "assistant"]
    content: list[InputBlock]


class ToolParam(Struct, omit_defaults=True):
    name: str
    input_schema: dict[str, Any]
    description: str | UnsetType = UNSET
    strict: bool | UnsetType = UNSET
    cache_control: Cache = UNSET


class ToolChoice(Struct, omit_defaults=True):
    type: Literal["auto", "any", "tool", "none"]
    name: str | UnsetType = UNSET
    disable_parallel_tool_use: bool | UnsetType = UNSET


class Metadata(Struct):
    user_id: str


class JSONOutputFormat(Struct, tag_field="type", tag="json_schema"):
    schema: dict[str, Any]


class OutputConfig(Struct):
    format: JSONOutputFormat


class MessagesRequest(Struct, omit_defaults=True, kw_only=True):
    model: str | UnsetType = UNSET  # Vertex and Bedrock name the model in the URL
    anthropic_version: str | UnsetType = UNSET  # Vertex and Bedrock take it in the body
    anthropic_beta: list[str] | UnsetType = UNSET  # Bedrock's betas
    messages: list[MessageParam]
    max_tokens: int
    system: list[TextBlock] | UnsetType = UNSET
    stop_sequences: list[str] | UnsetType = UNSET
    temperature: float | UnsetType = UNSET
    top_p: float | UnsetType = UNSET
    top_k: int | UnsetType = UNSET
    metadata: Metadata | UnsetType = UNSET
    tools: list[ToolParam] | UnsetType = UNSET
    tool_choice: ToolChoice | UnsetType = UNSET
    output_config: OutputConfig | UnsetType = UNSET
    thinking: dict[str, Any] | UnsetType = UNSET
    stream: bool | UnsetType = UNSET


# ---------------------------------------------------------------- response


class Block(Struct):
    type: str
    text: str = ""
    id: str = ""
    name: str = ""
    input: Any = None
    thinking: str = ""  # thinking
    signature: str = ""
    data: str = ""  # redacted_thinking


class Usage(Struct):
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    cache_read_input_tokens: int | None = None


class Message(Struct):
    content: list[Block]  # always present in a Message, even empty: without it, not one
    id: str = ""
    model: str = ""
    stop_reason: str | None = None
    usage: Usage | None = None


class ErrorDetail(Struct):
    type: str = ""
    message: str = ""


class ErrorBody(Struct):
    error: ErrorDetail | None = None


# ---------------------------------------------------------------- stream events


class MessageStart(Struct):
    message: Message


class BlockStart(Struct):
    index: int
    content_block: Block


class BlockDeltaBody(Struct):
    type: str
    text: str = ""
    partial_json: str = ""
    thinking: str = ""  # thinking_delta
    signature: str = ""  # signature_delta


class BlockDelta(Struct):
    index: int
    delta: BlockDeltaBody


class BlockStop(Struct):
    index: int


class MessageDeltaBody(Struct):
    stop_reason: str | None = None


class MessageDelta(Struct):
    delta: MessageDeltaBody
    usage: Usage | None = None


class EventType(Struct):
    type: str = ""


message_decoder = msgspec.json.Decoder(Message)
error_decoder = msgspec.json.Decoder(ErrorBody)
type_decoder = msgspec.json.Decoder(EventType)
EVENT_DECODERS: dict[str, msgspec.json.Decoder[Any]] = {
    "message_start": msgspec.json.Decoder(MessageStart),
    "content_block_start": msgspec.json.Decoder(BlockStart),
    "content_block_delta": msgspec.json.Decoder(BlockDelta),
    "content_block_stop": msgspec.json.Decoder(BlockStop),
    "message_delta": msgspec.json.Decoder(MessageDelta),
    "error": error_decoder,
}
encoder = msgspec.json.Encoder()
