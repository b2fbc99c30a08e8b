"""Bedrock Converse wire shapes (bedrock-runtime 2023-09-30), as msgspec Structs.

Converse unions (content blocks, tool choice, stream deltas) are "one key present" objects,
not tagged on a field, so each is a Struct whose members are all optional; only the member
that is set gets encoded (``omit_defaults``). Python names are snake_case, the wire is
camelCase (``rename="camel"``).
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UNSET, Struct, UnsetType


class _Wire(Struct, rename="camel", omit_defaults=True):
    pass


# ---------------------------------------------------------------- request


class S3Location(_Wire):
    uri: str


class Source(_Wire):
    bytes: str | UnsetType = UNSET  # base64 in JSON
    s3_location: S3Location | UnsetType = UNSET


class ImageBlock(_Wire):
    format: str
    source: Source


class DocumentBlock(_Wire):
    format: str
    name: str
    source: Source


class ToolUseBlock(_Wire):
    tool_use_id: str
    name: str
    input: Any


class ToolResultContent(_Wire):
    text: str | UnsetType = UNSET
    json: Any | UnsetType = UNSET


class ToolResultBlock(_Wire):
    tool_use_id: str
    content: list[ToolResultContent]


class CachePoint(_Wire):
    type: str  # "default"; no default, or omit_defaults would leave it out
    ttl: str | UnsetType = UNSET  # "5m" | "1h"


class ReasoningText(_Wire):
    text: str
    signature: str | UnsetType = UNSET


class ReasoningContent(_Wire):
    reasoning_text: ReasoningText | UnsetType = UNSET
    redacted_content: str | UnsetType = UNSET  # base64 in JSON


class ContentBlock(_Wire):
    text: str | UnsetType = UNSET
    image: ImageBlock | UnsetType = UNSET
    document: DocumentBlock | UnsetType = UNSET
    tool_use: ToolUseBlock | UnsetType = UNSET
    tool_result: ToolResultBlock | UnsetType = UNSET
    reasoning_content: ReasoningContent | UnsetType = UNSET
    cache_point: CachePoint | UnsetType = UNSET


class Message(_Wire):
    role: str
    content: list[ContentBlock]


class SystemBlock(_Wire):
    text: str | UnsetType = UNSET
    cache_point: CachePoint | UnsetType = UNSET


class InferenceConfig(_Wire):
    max_tokens: int | UnsetType = UNSET
    temperature: float | UnsetType = UNSET
    top_p: float | UnsetType = UNSET
    stop_sequences: list[str] | UnsetType = UNSET


class InputSchema(_Wire):
    json: dict[str, Any]


class ToolSpec(_Wire):
    name: str
    input_schema: InputSchema
    description: str | UnsetType = UNSET


class ToolEntry(_Wire):
    tool_spec: ToolSpec | UnsetType = UNSET
    cache_point: CachePoint | UnsetType = UNSET


class SpecificTool(_Wire):
    name: str


class Empty(_Wire):
    pass


class ToolChoice(_Wire):
    auto: Empty | UnsetType = UNSET
    any: Empty | UnsetType = UNSET
    tool: SpecificTool | UnsetType = UNSET


class ToolConfig(_Wire):
    tools: list[ToolEntry]
    tool_choice: ToolChoice | UnsetType = UNSET


class JsonSchemaDefinition(_Wire):
    schema: str  # the JSON Schema as a JSON string, as the API asks
    name: str | UnsetType = UNSET
    description: str | UnsetType = UNSET


class OutputStructure(_Wire):
    json_schema: JsonSchemaDefinition


class OutputFormat(_Wire):
    type: str  # "json_schema"; no default, or omit_defaults would leave it out
    structure: OutputStructure


class OutputConfig(_Wire):
    text_format: OutputFormat | UnsetType = UNSET
    effort: str | UnsetType = UNSET


class ConverseRequest(_Wire):
    messages: list[Message]
    system: list[SystemBlock] | UnsetType = UNSET
    inference_config: InferenceConfig | UnsetType = UNSET
    tool_config: ToolConfig | UnsetType = UNSET
    output_config: OutputConfig | UnsetType = UNSET
    request_metadata: dict[str, str] | UnsetType = UNSET
    additional_model_request_fields: dict[str, Any] | UnsetType = UNSET


# ---------------------------------------------------------------- response


class OutToolUse(_Wire):
    tool_use_id: str
    name: str
    input: msgspec.Raw = msgspec.Raw(b"{}")  # kept as sent: becomes the arguments string


class OutReasoningText(_Wire):
    text: str = ""
    signature: str = ""


class OutReasoning(_Wire):
    reasoning_text: OutReasoningText | UnsetType = UNSET
    redacted_content: str | UnsetType = UNSET


class OutBlock(_Wire):
    text: str | UnsetType = UNSET
    tool_use: OutToolUse | UnsetType = UNSET
    reasoning_content: OutReasoning | UnsetType = UNSET


class OutMessage(_Wire):
    role: str = "assistant"
    content: list[OutBlock] = msgspec.field(default_factory=list)


class Output(_Wire):
    message: OutMessage | UnsetType = UNSET


class TokenUsage(_Wire):
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int | UnsetType = UNSET
    cache_read_input_tokens: int | UnsetType = UNSET
    cache_write_input_tokens: int | UnsetType = UNSET


class ConverseResponse(_Wire):
    output: Output  # always present in a Converse answer: without it, not one
    stop_reason: str = "end_turn"
    usage: TokenUsage | UnsetType = UNSET


# ---------------------------------------------------------------- stream events


class MessageStart(_Wire):
    role: str = "assistant"


class ToolUseStart(_Wire):
    tool_use_id: str
    name: str


class BlockStart(_Wire):
    tool_use: ToolUseStart | UnsetType = UNSET


class ContentBlockStart(_Wire):
    content_block_index: int
    start: BlockStart


class ToolUseDelta(_Wire):
    input: str


class ReasoningDelta(_Wire):
    text: str = ""
    signature: str = ""
    redacted_content: str = ""


class BlockDelta(_Wire):
    text: str | UnsetType = UNSET
    tool_use: ToolUseDelta | UnsetType = UNSET
    reasoning_content: ReasoningDelta | UnsetType = UNSET


class ContentBlockDelta(_Wire):
    content_block_index: int
    delta: BlockDelta


class MessageStop(_Wire):
    stop_reason: str


class StreamMetadata(_Wire):
    usage: TokenUsage | UnsetType = UNSET


class ExceptionBody(Struct):
    message: str | None = None
    Message: str | None = None  # some AWS front ends capitalise it


request_encoder = msgspec.json.Encoder()
response_decoder = msgspec.json.Decoder(ConverseResponse)
exception_decoder = msgspec.json.Decoder(ExceptionBody)
message_start_decoder = msgspec.json.Decoder(MessageStart)
block_start_decoder = msgspec.json.Decoder(ContentBlockStart)
block_delta_decoder = msgspec.json.Decoder(ContentBlockDelta)
message_stop_decoder = msgspec.json.Decoder(MessageStop)
metadata_decoder = msgspec.json.Decoder(StreamMetadata)
