"""Gemini's wire format (``generateContent``), shared by the Gemini API and Vertex AI.

Field names follow the public REST reference; ``rename="camel"`` turns ``inline_data`` into
``inlineData``. Outbound Structs omit unset fields; inbound ones tolerate unknown fields
(msgspec's default), so a new field in Google's answers never breaks a request.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UNSET, UnsetType


class Blob(msgspec.Struct, rename="camel", omit_defaults=True):
    mime_type: str
    data: str  # base64


class FileData(msgspec.Struct, rename="camel", omit_defaults=True):
    file_uri: str
    mime_type: str | UnsetType = UNSET


class FunctionCall(msgspec.Struct, rename="camel", omit_defaults=True):
    name: str
    args: dict[str, Any] | UnsetType | None = UNSET
    id: str | UnsetType = UNSET


class FunctionResponse(msgspec.Struct, rename="camel", omit_defaults=True):
    name: str
    response: dict[str, Any]
    id: str | UnsetType = UNSET


class Part(msgspec.Struct, rename="camel", omit_defaults=True):
    text: str | UnsetType = UNSET
    inline_data: Blob | UnsetType = UNSET
    file_data: FileData | UnsetType = UNSET
    function_call: FunctionCall | UnsetType = UNSET
    function_response: FunctionResponse | UnsetType = UNSET
    thought: bool | UnsetType = UNSET
    thought_signature: str | UnsetType = UNSET


class Content(msgspec.Struct, rename="camel", omit_defaults=True):
    parts: list[Part] = msgspec.field(default_factory=list)
    role: str | UnsetType = UNSET


# ---------------------------------------------------------------- request


class FunctionDeclaration(msgspec.Struct, rename="camel", omit_defaults=True):
    name: str
    description: str | UnsetType = UNSET
    parameters: dict[str, Any] | UnsetType = UNSET


class Tool(msgspec.Struct, rename="camel", omit_defaults=True):
    function_declarations: list[FunctionDeclaration]


class FunctionCallingConfig(msgspec.Struct, rename="camel", omit_defaults=True):
    mode: str
    allowed_function_names: list[str] | UnsetType = UNSET


class ToolConfig(msgspec.Struct, rename="camel", omit_defaults=True):
    function_calling_config: FunctionCallingConfig


class ThinkingConfig(msgspec.Struct, rename="camel", omit_defaults=True):
    include_thoughts: bool | UnsetType = UNSET
    thinking_budget: int | UnsetType = UNSET
    thinking_level: str | UnsetType = UNSET


class GenerationConfig(msgspec.Struct, rename="camel", omit_defaults=True):
    stop_sequences: list[str] | UnsetType = UNSET
    response_mime_type: str | UnsetType = UNSET
    response_schema: dict[str, Any] | UnsetType = UNSET
    candidate_count: int | UnsetType = UNSET
    max_output_tokens: int | UnsetType = UNSET
    temperature: float | UnsetType = UNSET
    top_p: float | UnsetType = UNSET
    seed: int | UnsetType = UNSET
    presence_penalty: float | UnsetType = UNSET
    frequency_penalty: float | UnsetType = UNSET
    thinking_config: ThinkingConfig | dict[str, Any] | UnsetType = UNSET  # dict: the client's


class GenerateContentRequest(msgspec.Struct, rename="camel", omit_defaults=True):
    contents: list[Content]
    system_instruction: Content | UnsetType = UNSET
    tools: list[Tool] | UnsetType = UNSET
    tool_config: ToolConfig | UnsetType = UNSET
    generation_config: GenerationConfig | UnsetType = UNSET
    cached_content: str | UnsetType = UNSET  # cachedContents/..., Gemini's explicit cache


# ---------------------------------------------------------------- response


class Candidate(msgspec.Struct, rename="camel"):
    content: Content | None = None
    finish_reason: str | None = None
    index: int = 0  # proto3 JSON leaves out a zero index


class PromptFeedback(msgspec.Struct, rename="camel"):
    block_reason: str | None = None


class UsageMetadata(msgspec.Struct, rename="camel"):
    prompt_token_count: int = 0
    candidates_token_count: int = 0
    total_token_count: int = 0
    cached_content_token_count: int | None = None
    thoughts_token_count: int = 0
    tool_use_prompt_token_count: int = 0


class ErrorStatus(msgspec.Struct):
    code: int | None = None
    message: str | None = None
    status: str | None = None
    details: list[dict[str, Any]] | None = None


class GenerateContentResponse(msgspec.Struct, rename="camel"):
    candidates: list[Candidate] = msgspec.field(default_factory=list)
    prompt_feedback: PromptFeedback | None = None
    usage_metadata: UsageMetadata | None = None
    model_version: str | None = None
    response_id: str | None = None
    error: ErrorStatus | None = None  # an error event inside a stream


class ErrorEnvelope(msgspec.Struct):
    error: ErrorStatus | None = None


encoder = msgspec.json.Encoder()
response_decoder = msgspec.json.Decoder(GenerateContentResponse)
# Vertex sometimes wraps its error in a one-element list
error_decoder = msgspec.json.Decoder(ErrorEnvelope | list[ErrorEnvelope])
