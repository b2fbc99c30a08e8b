"""msgspec Structs for Cohere's Chat API v2 and Embed API v2 wire formats, both directions.

Outbound messages and content parts are tagged unions (the encoder writes ``role`` /
``type``). Inbound Structs are lenient where Cohere adds kinds over time (content blocks,
stream event types, finish reasons): an unknown kind is read as a plain string and skipped,
never a failure of the whole answer. What makes an answer an answer is required
(``message`` and ``finish_reason``), so a body that is not one fails to decode: a 502.
Token counts are JSON numbers in the reference (``type: number``): read as floats (msgspec
takes integers for them too) and rounded where OpenAI wants integers.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from msgspec import UNSET, Struct, UnsetType

# ---------------------------------------------------------------- request


class TextContent(Struct, tag_field="type", tag="text"):
    text: str


class ImageURL(Struct, omit_defaults=True):
    url: str  # a web URL (Cohere fetches it) or a base64 data URL
    detail: Literal["auto", "low", "high"] | UnsetType = UNSET


class ImageContent(Struct, tag_field="type", tag="image_url"):
    image_url: ImageURL


UserContent = TextContent | ImageContent


class SystemMessage(Struct, tag_field="role", tag="system"):
    content: list[TextContent]


class UserMessage(Struct, tag_field="role", tag="user"):
    content: str | list[UserContent]


class FunctionCall(Struct):
    name: str
    arguments: str  # a JSON object, as text (as OpenAI sends it)


class ToolCall(Struct):
    id: str
    function: FunctionCall
    type: Literal["function"] = "function"


class AssistantMessage(Struct, tag_field="role", tag="assistant", omit_defaults=True):
    # Cohere refuses text content beside tool_calls: that text goes in tool_plan
    content: str | UnsetType = UNSET
    tool_calls: list[ToolCall] | UnsetType = UNSET
    tool_plan: str | UnsetType = UNSET


class ToolMessage(Struct, tag_field="role", tag="tool"):
    tool_call_id: str
    content: str | list[TextContent]


Message = SystemMessage | UserMessage | AssistantMessage | ToolMessage


class FunctionDef(Struct, omit_defaults=True):
    name: str
    parameters: dict[str, Any]  # required by Cohere (a JSON schema)
    description: str | UnsetType = UNSET


class Tool(Struct):
    function: FunctionDef
    type: Literal["function"] = "function"


class ResponseFormat(Struct, omit_defaults=True):
    type: Literal["text", "json_object"]
    json_schema: dict[str, Any] | UnsetType = UNSET


class Thinking(Struct):
    type: Literal["enabled", "disabled"]


class ChatRequest(Struct, omit_defaults=True):
    model: str
    messages: list[Message]
    stream: bool | UnsetType = UNSET
    tools: list[Tool] | UnsetType = UNSET
    strict_tools: bool | UnsetType = UNSET
    tool_choice: Literal["REQUIRED", "NONE"] | UnsetType = UNSET
    response_format: ResponseFormat | UnsetType = UNSET
    max_tokens: int | UnsetType = UNSET
    stop_sequences: list[str] | UnsetType = UNSET
    temperature: float | UnsetType = UNSET
    p: float | UnsetType = UNSET
    k: int | UnsetType = UNSET
    seed: int | UnsetType = UNSET
    frequency_penalty: float | UnsetType = UNSET
    presence_penalty: float | UnsetType = UNSET
    thinking: Thinking | UnsetType = UNSET


# ---------------------------------------------------------------- response


class Block(Struct):
    """One content block of an answer: ``text``, ``thinking``, or a kind added later."""

    type: str
    text: str = ""
    thinking: str = ""


class AnswerFunction(Struct):
    name: str
    arguments: str = ""


class AnswerCall(Struct):
    id: str
    function: AnswerFunction  # a call without a function name is not one


class AnswerMessage(Struct):
    content: list[Block] | None = None
    tool_calls: list[AnswerCall] | None = None
    tool_plan: str | None = None


class Tokens(Struct):
    input_tokens: float | None = None
    output_tokens: float | None = None


class Usage(Struct):
    tokens: Tokens | None = None
    billed_units: Tokens | None = None
    cached_tokens: float | None = None


class Answer(Struct):
    message: AnswerMessage
    finish_reason: str
    id: str = ""
    usage: Usage | None = None


class ErrorBody(Struct):
    """``{"id": "...", "message": "..."}``; an OpenAI-shaped ``error`` from a proxy too."""

    message: Any = None
    error: Any = None


# ---------------------------------------------------------------- stream events
# Every event's data carries its ``type`` (the SSE ``event:`` line repeats it): one tagged
# union decodes a known event in one pass. The stream ends with ``message-end``, possibly
# followed by ``data: [DONE]``.


class Event(Struct, tag_field="type"):
    pass


class StartMessage(Struct):
    role: str = ""


class StartDelta(Struct):
    message: StartMessage | None = None


class MessageStart(Event, tag="message-start"):
    id: str = ""
    delta: StartDelta | None = None


class DeltaContent(Struct):
    type: str = ""
    text: str = ""
    thinking: str = ""


class ContentMessage(Struct):
    content: DeltaContent | None = None


class ContentDelta(Struct):
    message: ContentMessage | None = None


class ContentEvent(Event):
    index: int = 0
    delta: ContentDelta | None = None


class ContentStart(ContentEvent, tag="content-start"):
    pass


class ContentDeltaEvent(ContentEvent, tag="content-delta"):
    pass


class PlanMessage(Struct):
    tool_plan: str = ""


class PlanDelta(Struct):
    message: PlanMessage | None = None


class ToolPlanDelta(Event, tag="tool-plan-delta"):
    delta: PlanDelta | None = None


class CallFunction(Struct):
    name: str = ""
    arguments: str = ""


class Call(Struct):
    """A call as ``tool-call-start`` (id and name) or ``tool-call-delta`` (arguments)."""

    id: str = ""
    function: CallFunction | None = None


class CallMessage(Struct):
    tool_calls: Call | None = None  # one call per event, not a list


class CallDelta(Struct):
    message: CallMessage | None = None


class CallEvent(Event):
    index: int = 0
    delta: CallDelta | None = None


class ToolCallStart(CallEvent, tag="tool-call-start"):
    pass


class ToolCallDelta(CallEvent, tag="tool-call-delta"):
    pass


class ToolCallEnd(CallEvent, tag="tool-call-end"):
    pass


class EndDelta(Struct):
    finish_reason: str | None = None
    error: str | None = None
    usage: Usage | None = None


class MessageEnd(Event, tag="message-end"):
    delta: EndDelta | None = None


KnownEvent = (
    MessageStart
    | ContentStart
    | ContentDeltaEvent
    | ToolPlanDelta
    | ToolCallStart
    | ToolCallDelta
    | ToolCallEnd
    | MessageEnd
)


class EventType(Struct):
    """What an event that is not a known one is: a newer kind, an error object, or junk."""

    type: str = ""
    message: Any = None  # an error object sent in place of an event


answer_decoder = msgspec.json.Decoder(Answer)
error_decoder = msgspec.json.Decoder(ErrorBody)
event_decoder = msgspec.json.Decoder(KnownEvent)
type_decoder = msgspec.json.Decoder(EventType)
KNOWN_TYPES = frozenset(
    str(t.__struct_config__.tag)
    for t in (
        MessageStart,
        ContentStart,
        ContentDeltaEvent,
        ToolPlanDelta,
        ToolCallStart,
        ToolCallDelta,
        ToolCallEnd,
        MessageEnd,
    )
)
encoder = msgspec.json.Encoder()


# ---------------------------------------------------------------- embeddings


class EmbedRequest(Struct, omit_defaults=True):
    model: str
    texts: list[str]
    input_type: str  # required by every embed-v3+ model
    embedding_types: list[str]
    output_dimension: int | UnsetType = UNSET


class EmbedVectors(Struct):
    floats: list[list[float]] = msgspec.field(name="float")


class BilledUnits(Struct):
    input_tokens: float | None = None


class EmbedMeta(Struct):
    billed_units: BilledUnits | None = None


class EmbedAnswer(Struct):
    embeddings: EmbedVectors
    meta: EmbedMeta | None = None


embed_decoder = msgspec.json.Decoder(EmbedAnswer)
