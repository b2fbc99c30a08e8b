"""ChatRequest -> Messages API request body.

Every choice here is documented in docs/providers/anthropic.md: what maps, what is
dropped because it is only a sampling hint, what is refused with a 400 because dropping it
would silently change the answer.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from msgspec import UNSET, UnsetType

from proxy.body import RequestBody
from proxy.errors import InvalidRequest
from proxy.providers import reasoning
from proxy.providers.anthropic import structured, thinking
from proxy.providers.anthropic.native import (
    Base64Source,
    CacheControl,
    DocumentBlock,
    ImageBlock,
    InputBlock,
    MessageParam,
    MessagesRequest,
    Metadata,
    RedactedThinkingBlock,
    TextBlock,
    ThinkingBlock,
    ToolChoice,
    ToolParam,
    ToolResultBlock,
    ToolUseBlock,
    URLSource,
)
from proxy.providers.common import (
    content_parts,
    parse_data_url,
    stop_list,
    system_blocks,
)
from proxy.schema import (
    AssistantMessage,
    AudioPart,
    ChatRequest,
    FilePart,
    FunctionCall,
    FunctionMessage,
    ImagePart,
    NamedToolChoice,
    RefusalPart,
    TextPart,
    ToolMessage,
    UserMessage,
)
from proxy.schema import (
    CacheControl as ChatCache,
)

IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
Role = Literal["user", "assistant"]


def build_body(body: RequestBody, model: str, host: str = "anthropic") -> MessagesRequest:
    """``host``: who serves Claude (anthropic, vertex-ai, bedrock): the reasoning state
    replayed is the one that host issued (proxy/providers/reasoning.py)."""
    req = body.request
    _refuse_unsupported(req, host)
    plan = structured.plan(req, model)
    system = [TextBlock(text=t, cache_control=cache(c)) for t, c in system_blocks(req)]
    if plan.system is not None:
        system.append(plan.system)
    tools, tool_choice = _tools(req)
    if plan.tool is not None:
        tool_choice = structured.answer_tool_choice(tool_choice, bool(tools))
        tools = [*tools, plan.tool]
    wanted, max_tokens = thinking.plan(req, model)
    out = MessagesRequest(
        model=model,
        messages=_messages(req, host),
        max_tokens=max_tokens,
        system=system or UNSET,
        stop_sequences=stop_list(req) or UNSET,
        tools=tools or UNSET,
        tool_choice=tool_choice if tools and tool_choice is not None else UNSET,
        output_config=plan.output_config or UNSET,
        stream=True if req.stream else UNSET,
    )
    if isinstance(req.temperature, float | int):
        out.temperature = req.temperature
    if isinstance(req.top_p, float | int):
        out.top_p = req.top_p
    if isinstance(req.top_k, int):
        out.top_k = req.top_k
    if isinstance(req.user, str) and req.user:
        out.metadata = Metadata(user_id=req.user)
    thinking.apply(out, wanted)
    return out


def cache(c: object) -> CacheControl | UnsetType:
    """A client's cache breakpoint, in Anthropic's shape (UNSET when there is none)."""
    if not isinstance(c, ChatCache):
        return UNSET
    return CacheControl(type=c.type, ttl=c.ttl)


_CACHEABLE = (TextBlock, ImageBlock, DocumentBlock, ToolUseBlock, ToolResultBlock)


def _mark(blocks: list[InputBlock], c: object) -> list[InputBlock]:
    """A message-level ``cache_control`` goes on the message's last block."""
    last = blocks[-1] if blocks else None
    if isinstance(last, _CACHEABLE) and isinstance(c, ChatCache):
        last.cache_control = cache(c)
    return blocks


def _refuse_unsupported(req: ChatRequest, host: str) -> None:
    """400 rather than a silent single choice: the client asked for more than Claude gives."""
    if isinstance(req.n, int) and req.n > 1:
        raise InvalidRequest(
            f"{host}: Claude returns one choice per request; n > 1 is not supported "
            "(send n requests)",
            param="n",
            code="unsupported_parameter",
            provider=host,
        )
    if req.logprobs is True or isinstance(req.top_logprobs, int):
        raise InvalidRequest(
            f"{host}: Claude does not return log probabilities",
            param="logprobs",
            code="unsupported_parameter",
            provider=host,
        )


class _Turns:
    """Collects blocks into alternating turns: consecutive same-role blocks merge."""

    def __init__(self) -> None:
        self.turns: list[MessageParam] = []

    def add(self, role: Role, blocks: list[InputBlock]) -> None:
        if not blocks:
            return
        if self.turns and self.turns[-1].role == role:
            self.turns[-1].content.extend(blocks)
        else:
            self.turns.append(MessageParam(role=role, content=blocks))


def _messages(req: ChatRequest, host: str) -> list[MessageParam]:
    turns = _Turns()
    for i, m in enumerate(req.messages):
        where = f"messages[{i}]"
        if isinstance(m, UserMessage):
            turns.add("user", _mark(_user_blocks(m, where), m.cache_control))
        elif isinstance(m, AssistantMessage):
            turns.add("assistant", _mark(_assistant_blocks(m, where, host), m.cache_control))
        elif isinstance(m, ToolMessage):
            turns.add("user", _mark([_tool_result(m)], m.cache_control))
        elif isinstance(m, FunctionMessage):
            raise InvalidRequest(
                "role 'function' (deprecated) is not supported for anthropic: use tools "
                "and role 'tool'",
                param=f"{where}.role",
                code="unsupported_parameter",
            )
    if not turns.turns:
        raise InvalidRequest(
            "anthropic needs at least one user or assistant message besides system messages",
            param="messages",
        )
    return turns.turns


def _user_blocks(m: UserMessage, where: str) -> list[InputBlock]:
    blocks: list[InputBlock] = []
    for j, part in enumerate(content_parts(m.content)):
        param = f"{where}.content[{j}]"
        if isinstance(part, TextPart):
            if part.text:
                blocks.append(TextBlock(text=part.text, cache_control=cache(part.cache_control)))
        elif isinstance(part, ImagePart):
            image = _image(part.image_url.url, param)
            image.cache_control = cache(part.cache_control)
            blocks.append(image)
        elif isinstance(part, FilePart):
            document = _document(part, param)
            document.cache_control = cache(part.cache_control)
            blocks.append(document)
        elif isinstance(part, AudioPart):
            raise InvalidRequest(
                "anthropic does not accept audio input", param=param, code="unsupported_content"
            )
    return blocks


def _image(url: str, param: str) -> ImageBlock:
    data = parse_data_url(url, param)
    if data is None:
        if not url.startswith(("https://", "http://")):
            raise InvalidRequest(
                "image_url must be an http(s) URL or a base64 data URL",
                param=param,
                code="invalid_image_url",
            )
        return ImageBlock(source=URLSource(url=url))  # Anthropic fetches it itself
    mime, b64 = data
    if mime not in IMAGE_TYPES:
        raise InvalidRequest(
            f"anthropic accepts images of type {', '.join(sorted(IMAGE_TYPES))}, not {mime}",
            param=param,
            code="invalid_image_url",
        )
    return ImageBlock(source=Base64Source(media_type=mime, data=b64))


def _document(part: FilePart, param: str) -> DocumentBlock:
    file_data = part.file.file_data
    data = parse_data_url(file_data, param) if isinstance(file_data, str) else None
    if data is None or data[0] != "application/pdf":
        raise InvalidRequest(
            "anthropic accepts files only as inline PDF data (file_data: "
            "data:application/pdf;base64,...); OpenAI file ids mean nothing to it",
            param=param,
            code="unsupported_content",
        )
    return DocumentBlock(source=Base64Source(media_type=data[0], data=data[1]))


def _assistant_blocks(m: AssistantMessage, where: str, host: str) -> list[InputBlock]:
    state = reasoning.decode(m.reasoning_opaque, host, f"{where}.reasoning_opaque")
    blocks: list[InputBlock] = [_thought(b) for b in state if b.at == 0]
    for part in content_parts(m.content):
        text = part.text if isinstance(part, TextPart) else None
        if isinstance(part, RefusalPart):
            text = part.refusal
        if text:
            blocks.append(TextBlock(text=text))
    if isinstance(m.tool_calls, list):
        for j, call in enumerate(m.tool_calls):
            param = f"{where}.tool_calls[{j}].function.arguments"
            blocks.append(
                ToolUseBlock(
                    id=call.id, name=call.function.name, input=_arguments(call.function, param)
                )
            )
            # thinking interleaved between calls goes back where it was
            blocks.extend(_thought(b) for b in state if b.at == j + 1)
    return blocks


def _thought(b: reasoning.Block) -> InputBlock:
    if b.kind == "redacted":
        return RedactedThinkingBlock(data=b.data)
    return ThinkingBlock(thinking=b.text, signature=b.sig)


def _arguments(fn: FunctionCall, param: str) -> dict[str, Any]:
    raw = fn.arguments or "{}"
    try:
        value = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        raise InvalidRequest(
            f"tool call arguments of {fn.name!r} are not valid JSON", param=param
        ) from None
    if not isinstance(value, dict):
        raise InvalidRequest(
            f"tool call arguments of {fn.name!r} must be a JSON object", param=param
        )
    return value


def _tool_result(m: ToolMessage) -> ToolResultBlock:
    if isinstance(m.content, str):
        return ToolResultBlock(tool_use_id=m.tool_call_id, content=m.content or UNSET)
    texts = [
        TextBlock(text=p.text, cache_control=cache(p.cache_control)) for p in m.content if p.text
    ]
    return ToolResultBlock(tool_use_id=m.tool_call_id, content=texts or UNSET)


def _tools(req: ChatRequest) -> tuple[list[ToolParam], ToolChoice | None]:
    tools: list[ToolParam] = []
    if isinstance(req.tools, list):
        for i, t in enumerate(req.tools):
            fn = t.function
            structured.check_tool_name(fn.name, f"tools[{i}].function.name")
            schema = fn.parameters if isinstance(fn.parameters, dict) else None
            tools.append(
                ToolParam(
                    name=fn.name,
                    input_schema=schema or {"type": "object", "properties": {}},
                    description=fn.description,
                    strict=True if fn.strict is True else UNSET,
                    cache_control=cache(t.cache_control),
                )
            )
    return tools, _tool_choice(req)


def _tool_choice(req: ChatRequest) -> ToolChoice | None:
    tc = req.tool_choice
    no_parallel = True if req.parallel_tool_calls is False else UNSET
    if isinstance(tc, NamedToolChoice):
        return ToolChoice(type="tool", name=tc.function.name, disable_parallel_tool_use=no_parallel)
    if tc == "none":
        return ToolChoice(type="none")
    if tc == "required":
        return ToolChoice(type="any", disable_parallel_tool_use=no_parallel)
    if tc == "auto" or no_parallel is True:
        return ToolChoice(type="auto", disable_parallel_tool_use=no_parallel)
    return None
