"""ChatRequest -> Chat API v2 request body.

Every choice is documented in docs/providers/cohere.md: what maps, what is dropped because
it only steers sampling or bookkeeping, and what is refused with a 400 naming the field
(``Untranslatable``: the terminal adds the provider's name) because dropping it would
silently change the answer.
"""

from __future__ import annotations

from typing import Literal

from msgspec import UNSET, UnsetType

from proxy.body import RequestBody, Untranslatable
from proxy.errors import InvalidRequest
from proxy.providers.cohere.native import (
    AssistantMessage,
    ChatRequest,
    FunctionCall,
    FunctionDef,
    ImageContent,
    ImageURL,
    Message,
    ResponseFormat,
    SystemMessage,
    TextContent,
    Thinking,
    Tool,
    ToolCall,
    ToolMessage,
    UserContent,
    UserMessage,
)
from proxy.providers.common import (
    content_parts,
    parse_data_url,
    stop_list,
    system_text,
    token_limit,
)
from proxy.schema import AssistantMessage as OpenAIAssistant
from proxy.schema import (
    AudioPart,
    FilePart,
    FunctionMessage,
    ImagePart,
    JSONObjectFormat,
    JSONSchemaFormat,
    NamedToolChoice,
    RefusalPart,
    TextPart,
    text_of,
)
from proxy.schema import ChatRequest as OpenAIRequest
from proxy.schema import ToolMessage as OpenAITool
from proxy.schema import UserMessage as OpenAIUser

# the image inputs guide: PNG, JPEG, WEBP and non-animated GIF
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/webp", "image/gif"})
Detail = Literal["auto", "low", "high"]
DETAILS: dict[str, Detail] = {"auto": "auto", "low": "low", "high": "high"}
Choice = Literal["REQUIRED", "NONE"]
CHOICES: dict[str, Choice] = {"required": "REQUIRED", "none": "NONE"}  # auto: Cohere's default
EMPTY_PARAMETERS = {"type": "object", "properties": {}}


def build_body(body: RequestBody, model: str) -> ChatRequest:
    req = body.request
    _refuse_unsupported(req)
    tools, choice = _tools(req)
    out = ChatRequest(
        model=model,
        messages=_messages(req),
        stream=True if req.stream else UNSET,
        tools=tools or UNSET,
        tool_choice=choice if tools and choice else UNSET,
        response_format=_response_format(req),
        stop_sequences=stop_list(req) or UNSET,
    )
    if tools and isinstance(req.tools, list) and all(t.function.strict is True for t in req.tools):
        out.strict_tools = True
    limit = token_limit(req)
    if limit is not None:
        out.max_tokens = limit
    if isinstance(req.temperature, float | int):
        out.temperature = req.temperature
    if isinstance(req.top_p, float | int):
        out.p = req.top_p
    if isinstance(req.top_k, int):
        out.k = req.top_k
    if isinstance(req.seed, int):
        out.seed = req.seed
    if isinstance(req.frequency_penalty, float | int):
        out.frequency_penalty = req.frequency_penalty
    if isinstance(req.presence_penalty, float | int):
        out.presence_penalty = req.presence_penalty
    if isinstance(req.reasoning_effort, str):
        # Cohere's reasoning is on or off (a token budget, no effort levels)
        out.thinking = Thinking(type="disabled" if req.reasoning_effort == "none" else "enabled")
    return out


def _refuse(message: str, param: str) -> Untranslatable:
    return Untranslatable(message, param=param, code="unsupported_by_provider")


def _refuse_unsupported(req: OpenAIRequest) -> None:
    if isinstance(req.n, int) and req.n > 1:
        raise _refuse("one choice per request; n > 1", "n")
    if req.logprobs is True or (isinstance(req.top_logprobs, int) and req.top_logprobs > 0):
        # Cohere's logprobs are per text chunk, without alternatives: not OpenAI's shape
        raise _refuse("log probabilities in OpenAI's per-token shape", "logprobs")
    if isinstance(req.tools, list):
        strict = {t.function.strict is True for t in req.tools}
        if len(strict) > 1:  # strict_tools is one switch for the whole request
            raise _refuse("strict on some tools but not on others", "tools")


def _messages(req: OpenAIRequest) -> list[Message]:
    # system and developer messages go first, whatever their place (Cohere wants the
    # system turn first); one text part each keeps them apart
    system = [TextContent(text=t) for t in system_text(req)]
    out: list[Message] = [SystemMessage(content=system)] if system else []
    for i, m in enumerate(req.messages):
        where = f"messages[{i}]"
        if isinstance(m, OpenAIUser):
            out.append(UserMessage(content=_user_content(m, where)))
        elif isinstance(m, OpenAIAssistant):
            msg = _assistant(m)
            if msg is not None:
                out.append(msg)
        elif isinstance(m, OpenAITool):
            content = m.content if isinstance(m.content, str) else text_of(m.content)
            out.append(ToolMessage(tool_call_id=m.tool_call_id, content=content))
        elif isinstance(m, FunctionMessage):
            raise _refuse("role 'function' (deprecated): use tools and role 'tool'", where)
    if len(out) == len(system):
        raise InvalidRequest(
            "cohere needs at least one user or assistant message besides system messages",
            param="messages",
        )
    return out


def _user_content(m: OpenAIUser, where: str) -> str | list[UserContent]:
    if isinstance(m.content, str):
        return m.content
    parts: list[UserContent] = []
    for j, part in enumerate(content_parts(m.content)):
        param = f"{where}.content[{j}]"
        if isinstance(part, TextPart):
            parts.append(TextContent(text=part.text))
        elif isinstance(part, ImagePart):
            parts.append(_image(part, param))
        elif isinstance(part, AudioPart):
            raise _refuse("audio input", param)
        elif isinstance(part, FilePart):
            raise _refuse("file input (Cohere takes images and text)", param)
    return parts


def _image(part: ImagePart, param: str) -> ImageContent:
    url = part.image_url.url
    data = parse_data_url(url, param)
    if data is None and not url.startswith(("https://", "http://")):
        raise InvalidRequest(
            "image_url must be an http(s) URL or a base64 data URL",
            param=param,
            code="invalid_image_url",
        )
    if data is not None and data[0] not in IMAGE_TYPES:
        accepted = ", ".join(sorted(IMAGE_TYPES))
        raise _refuse(f"images of type {data[0]} (accepted: {accepted})", param)
    detail = part.image_url.detail
    known = DETAILS.get(detail) if isinstance(detail, str) else None
    # the URL goes on as sent: Cohere takes the same data URLs and fetches web URLs itself
    return ImageContent(image_url=ImageURL(url=url, detail=known or UNSET))


def _assistant(m: OpenAIAssistant) -> AssistantMessage | None:
    texts: list[str] = []
    for part in content_parts(m.content):
        if isinstance(part, TextPart) and part.text:
            texts.append(part.text)
        elif isinstance(part, RefusalPart) and part.refusal:
            texts.append(part.refusal)
    text = "".join(texts)
    calls = [
        ToolCall(id=c.id, function=FunctionCall(c.function.name, c.function.arguments or "{}"))
        for c in (m.tool_calls if isinstance(m.tool_calls, list) else [])
    ]
    if calls:  # Cohere refuses text beside tool calls; it is the call's plan there
        return AssistantMessage(tool_calls=calls, tool_plan=text or UNSET)
    if text:
        return AssistantMessage(content=text)
    return None  # an empty turn carries nothing, and Cohere refuses empty messages


def _tools(req: OpenAIRequest) -> tuple[list[Tool], Choice | None]:
    tools: list[Tool] = []
    if isinstance(req.tools, list):
        for t in req.tools:
            fn = t.function
            params = fn.parameters if isinstance(fn.parameters, dict) else EMPTY_PARAMETERS
            tools.append(Tool(function=FunctionDef(fn.name, params, fn.description)))
    tc = req.tool_choice
    if isinstance(tc, NamedToolChoice):
        # Cohere cannot name a tool: offering only that one and requiring a call is the same
        named = [t for t in tools if t.function.name == tc.function.name]
        if not named:
            raise InvalidRequest(
                f"tool_choice names {tc.function.name!r}, which is not among the tools",
                param="tool_choice",
            )
        return named, "REQUIRED"
    return tools, CHOICES.get(tc) if isinstance(tc, str) else None


def _response_format(req: OpenAIRequest) -> ResponseFormat | UnsetType:
    """Cohere's JSON mode is ``json_object``, with the schema beside it when there is one
    (``json_schema`` in the API reference and the SDK; constrained decoding)."""
    rf = req.response_format
    if isinstance(rf, JSONSchemaFormat):
        return ResponseFormat(type="json_object", json_schema=rf.json_schema.schema)
    if isinstance(rf, JSONObjectFormat):
        return ResponseFormat(type="json_object")
    return UNSET
