"""OpenAI ChatRequest -> Bedrock ConverseRequest.

Converse wants: system prompts apart, strictly alternating user/assistant turns of content
blocks, tool results as ``toolResult`` blocks in a user turn, and a ``toolConfig`` whenever
the history holds tool blocks. What it cannot express is a clear 400, never a silent drop.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

from proxy.errors import InvalidRequest
from proxy.providers.bedrock import native as nv
from proxy.providers.bedrock.extras import additional_fields, cache_point, mark, replayed
from proxy.providers.common import (
    content_parts,
    parse_data_url,
    stop_list,
    system_blocks,
    token_limit,
)
from proxy.schema import (
    AssistantMessage,
    AudioPart,
    ChatRequest,
    Content,
    FilePart,
    FunctionMessage,
    ImagePart,
    JSONObjectFormat,
    JSONSchemaFormat,
    NamedToolChoice,
    RefusalPart,
    TextPart,
    Tool,
    ToolMessage,
    UserMessage,
    text_of,
)

# the forced tool that carries a json_object answer; its input comes back as content
JSON_TOOL = "_json_response"
_OPEN_OBJECT: dict[str, Any] = {"type": "object"}

_IMAGE_FORMATS = {
    "image/png": "png",
    "image/jpeg": "jpeg",
    "image/jpg": "jpeg",
    "image/gif": "gif",
    "image/webp": "webp",
}
_IMAGE_EXTENSIONS = {"png": "png", "jpg": "jpeg", "jpeg": "jpeg", "gif": "gif", "webp": "webp"}
_DOC_FORMATS = {
    "application/pdf": "pdf",
    "text/csv": "csv",
    "application/msword": "doc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.ms-excel": "xls",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "text/html": "html",
    "text/plain": "txt",
    "text/markdown": "md",
}
_DOC_NAME_BAD = re.compile(r"[^A-Za-z0-9\s\-()\[\]]+")
# Converse's requestMetadata value pattern; a `user` outside it is left out, not rejected
_METADATA_VALUE = re.compile(r"^[a-zA-Z0-9\s:_@$#=/+,\-.]{1,256}$")
_EFFORT = {"minimal": "low", "low": "low", "medium": "medium", "high": "high", "xhigh": "xhigh"}


def build_converse(req: ChatRequest) -> nv.ConverseRequest:
    check_unsupported(req)
    messages = convert_messages(req)
    json_tool, output = response_format(req)
    system: list[nv.SystemBlock] = []
    for text, cache in system_blocks(req):
        system.append(nv.SystemBlock(text=text))
        if (point := cache_point(cache)) is not None:
            system.append(nv.SystemBlock(cache_point=point))
    metadata: dict[str, str] | UnsetType = UNSET
    if isinstance(req.user, str) and _METADATA_VALUE.match(req.user):
        metadata = {"user": req.user}
    return nv.ConverseRequest(
        messages=messages,
        system=system or UNSET,
        inference_config=inference_config(req),
        tool_config=tool_config(req, messages, json_tool),
        output_config=output,
        request_metadata=metadata,
        additional_model_request_fields=additional_fields(req),
    )


def check_unsupported(req: ChatRequest) -> None:
    """400 for what would change the answer's shape; sampling-only hints (seed, penalties,
    logit_bias) are dropped, as for the other native providers (see the docs page)."""

    def reject(param: str, why: str) -> None:
        raise InvalidRequest(f"bedrock: {why}", param=param, code="unsupported_parameter")

    if isinstance(req.n, int) and req.n > 1:
        reject("n", "Converse returns one choice per request; n must be 1")
    if req.logprobs is True or isinstance(req.top_logprobs, int):
        reject("logprobs", "Converse does not return log probabilities")


def inference_config(req: ChatRequest) -> nv.InferenceConfig | UnsetType:
    cfg = nv.InferenceConfig()
    limit = token_limit(req)
    if limit is not None:
        cfg.max_tokens = limit
    if isinstance(req.temperature, int | float):
        cfg.temperature = float(req.temperature)
    if isinstance(req.top_p, int | float):
        cfg.top_p = float(req.top_p)
    stops = stop_list(req)
    if stops:
        cfg.stop_sequences = [s for s in stops if s]
    return cfg if cfg != nv.InferenceConfig() else UNSET


# ---------------------------------------------------------------- messages


def convert_messages(req: ChatRequest) -> list[nv.Message]:
    turns: list[nv.Message] = []
    for i, m in enumerate(req.messages):
        param = f"messages[{i}]"
        if isinstance(m, UserMessage):
            role, blocks = "user", mark(user_blocks(m.content, param), m.cache_control)
        elif isinstance(m, AssistantMessage):
            role, blocks = "assistant", mark(assistant_blocks(m, param), m.cache_control)
        elif isinstance(m, ToolMessage):
            role, blocks = "user", mark([tool_result(m)], _tool_cache(m))
        elif isinstance(m, FunctionMessage):
            raise InvalidRequest(
                "bedrock: legacy role 'function' messages are not supported; use tools",
                param=param,
                code="unsupported_parameter",
            )
        else:  # system / developer: collected into `system`
            continue
        if not blocks:
            continue
        if turns and turns[-1].role == role:
            turns[-1].content.extend(blocks)
        else:
            turns.append(nv.Message(role=role, content=blocks))
    for turn in turns:  # Claude wants a user turn's tool results before anything else
        if turn.role == "user":
            turn.content = _results_first(turn.content)
    return turns


def _tool_cache(m: ToolMessage) -> object:
    """A tool message's breakpoint: its own, or one on any of its parts (joined)."""
    if m.cache_control is not UNSET and m.cache_control is not None:
        return m.cache_control
    parts = m.content if isinstance(m.content, list) else []
    return next((p.cache_control for p in parts if p.cache_control), None)


def _results_first(blocks: list[nv.ContentBlock]) -> list[nv.ContentBlock]:
    """Tool results first, each cache point staying right after the block it marks."""
    groups: list[list[nv.ContentBlock]] = []
    for b in blocks:
        if b.cache_point is not UNSET and groups:
            groups[-1].append(b)
        else:
            groups.append([b])
    groups.sort(key=lambda g: g[0].tool_result is UNSET)
    return [b for g in groups for b in g]


def user_blocks(content: Content, param: str) -> list[nv.ContentBlock]:
    blocks: list[nv.ContentBlock] = []
    for j, part in enumerate(content_parts(content)):
        where = f"{param}.content[{j}]"
        if isinstance(part, TextPart):
            if part.text:
                blocks.append(nv.ContentBlock(text=part.text))
                mark(blocks, part.cache_control)
        elif isinstance(part, ImagePart):
            blocks.append(nv.ContentBlock(image=image_block(part.image_url.url, where)))
            mark(blocks, part.cache_control)
        elif isinstance(part, FilePart):
            blocks.append(nv.ContentBlock(document=document_block(part, where)))
            mark(blocks, part.cache_control)
        elif isinstance(part, RefusalPart):
            blocks.append(nv.ContentBlock(text=part.refusal))
        elif isinstance(part, AudioPart):
            raise InvalidRequest(
                "bedrock: input_audio parts are not supported by the Converse translation",
                param=where,
                code="unsupported_content",
            )
    return blocks


def image_block(url: str, param: str) -> nv.ImageBlock:
    param = f"{param}.image_url.url"
    data = parse_data_url(url, param)
    if data is not None:
        mime, b64 = data
        fmt = _IMAGE_FORMATS.get(mime)
        if fmt is None:
            raise InvalidRequest(
                f"bedrock: image type {mime!r} is not supported (png, jpeg, gif, webp)",
                param=param,
                code="unsupported_image_format",
            )
        return nv.ImageBlock(format=fmt, source=nv.Source(bytes=b64))
    if url.startswith("s3://"):
        fmt = _IMAGE_EXTENSIONS.get(url.rpartition(".")[2].lower())
        if fmt is None:
            raise InvalidRequest(
                "bedrock: an s3:// image URI must end in .png, .jpg, .jpeg, .gif or .webp",
                param=param,
                code="unsupported_image_format",
            )
        return nv.ImageBlock(format=fmt, source=nv.Source(s3_location=nv.S3Location(uri=url)))
    raise InvalidRequest(
        "bedrock: Converse does not fetch image URLs; send the image as a base64 data URL "
        "(data:image/png;base64,...) or an s3:// URI",
        param=param,
        code="unsupported_image_url",
    )


def document_block(part: FilePart, param: str) -> nv.DocumentBlock:
    data = parse_data_url(part.file.file_data, param) if part.file.file_data else None
    fmt = _DOC_FORMATS.get(data[0]) if data else None
    if data is None or fmt is None:
        raise InvalidRequest(
            "bedrock: file parts need file_data as a base64 data URL of a pdf, csv, doc, "
            "docx, xls, xlsx, html, txt or md document (file_id is not supported)",
            param=f"{param}.file",
            code="unsupported_content",
        )
    stem = str(part.file.filename or "document").rpartition(".")[0] or "document"
    name = " ".join(_DOC_NAME_BAD.sub(" ", stem).split())[:200] or "document"
    return nv.DocumentBlock(format=fmt, name=name, source=nv.Source(bytes=data[1]))


def assistant_blocks(m: AssistantMessage, param: str) -> list[nv.ContentBlock]:
    if m.function_call:
        raise InvalidRequest(
            "bedrock: legacy function_call is not supported; use tool_calls",
            param=f"{param}.function_call",
            code="unsupported_parameter",
        )
    state = replayed(m, f"{param}.reasoning_opaque")
    blocks = [b for at, b in state if at == 0]  # Claude: reasoning before the tool uses
    for part in content_parts(m.content):
        text = part.text if isinstance(part, TextPart) else getattr(part, "refusal", "")
        if text:
            blocks.append(nv.ContentBlock(text=text))
    for j, call in enumerate(m.tool_calls or []):
        args = call.function.arguments.strip() or "{}"
        try:
            value = msgspec.json.decode(args)
        except msgspec.DecodeError:
            value = None
        if not isinstance(value, dict):
            raise InvalidRequest(
                "bedrock: tool call arguments must be a JSON object",
                param=f"{param}.tool_calls[{j}].function.arguments",
                code="invalid_tool_arguments",
            )
        use = nv.ToolUseBlock(tool_use_id=call.id, name=call.function.name, input=value)
        blocks.append(nv.ContentBlock(tool_use=use))
        blocks.extend(b for at, b in state if at == j + 1)
    return blocks


def tool_result(m: ToolMessage) -> nv.ContentBlock:
    text = text_of(m.content)
    content: list[nv.ToolResultContent] = []
    if text:
        try:
            value = msgspec.json.decode(text)
        except msgspec.DecodeError:
            value = None
        item = nv.ToolResultContent(json=value) if isinstance(value, dict) else None
        content.append(item or nv.ToolResultContent(text=text))
    return nv.ContentBlock(
        tool_result=nv.ToolResultBlock(tool_use_id=m.tool_call_id, content=content)
    )


# ---------------------------------------------------------------- tools and formats


def response_format(req: ChatRequest) -> tuple[bool, nv.OutputConfig | UnsetType]:
    """(use the forced JSON tool?, outputConfig) for response_format and reasoning_effort."""
    fmt = req.response_format
    out = nv.OutputConfig()
    json_tool = False
    if isinstance(fmt, JSONSchemaFormat) and isinstance(fmt.json_schema.schema, dict):
        spec = fmt.json_schema
        out.text_format = nv.OutputFormat(
            type="json_schema",
            structure=nv.OutputStructure(
                json_schema=nv.JsonSchemaDefinition(
                    schema=msgspec.json.encode(spec.schema).decode(),
                    name=spec.name,
                    description=spec.description,
                )
            ),
        )
    elif isinstance(fmt, JSONObjectFormat | JSONSchemaFormat):
        json_tool = True  # no schema to give Converse: a forced tool with an open object
    effort = _EFFORT.get(req.reasoning_effort) if isinstance(req.reasoning_effort, str) else None
    if effort:
        out.effort = effort
    return json_tool, (out if out != nv.OutputConfig() else UNSET)


def tool_config(
    req: ChatRequest, messages: list[nv.Message], json_tool: bool
) -> nv.ToolConfig | UnsetType:
    choice = req.tool_choice
    tools = [] if req.tools is UNSET else req.tools
    if any(t.function.name == JSON_TOOL for t in tools):
        raise InvalidRequest(
            f"bedrock: the tool name {JSON_TOOL!r} is reserved by the gateway",
            param="tools",
            code="reserved_tool_name",
        )
    specs = [] if choice == "none" else _specs_of(tools)
    callable_tools = bool(specs)
    used = _history_tools(messages)
    if not specs and used:
        # Converse rejects tool blocks in the history without a toolConfig: declare the
        # tools it names (with the client's schemas when it sent them)
        declared = {t.function.name: t for t in tools}
        specs = [
            _spec_of(declared[n]) if n in declared else _spec(n, None, _USED_BEFORE) for n in used
        ]
    tool_choice: nv.ToolChoice | UnsetType = UNSET
    if json_tool:
        if not callable_tools:
            tool_choice = nv.ToolChoice(tool=nv.SpecificTool(name=JSON_TOOL))
        elif isinstance(choice, NamedToolChoice):
            tool_choice = nv.ToolChoice(tool=nv.SpecificTool(name=choice.function.name))
        else:  # a real tool call or the JSON answer, but no free text
            tool_choice = nv.ToolChoice(any=nv.Empty())
        specs.append(_spec(JSON_TOOL, None, "Give your whole answer as this tool's input."))
    elif not callable_tools:
        pass  # tool_choice none, or tools declared only for the history: Converse's default
    elif choice == "auto":
        tool_choice = nv.ToolChoice(auto=nv.Empty())
    elif choice == "required":
        tool_choice = nv.ToolChoice(any=nv.Empty())
    elif isinstance(choice, NamedToolChoice):
        tool_choice = nv.ToolChoice(tool=nv.SpecificTool(name=choice.function.name))
    if not specs:
        return UNSET
    return nv.ToolConfig(tools=specs, tool_choice=tool_choice)


_USED_BEFORE = "a tool used earlier in this conversation"


def _specs_of(tools: list[Tool]) -> list[nv.ToolEntry]:
    """The client's tools, each followed by a cache point when it carries one."""
    out: list[nv.ToolEntry] = []
    for t in tools:
        out.append(_spec_of(t))
        if (point := cache_point(t.cache_control)) is not None:
            out.append(nv.ToolEntry(cache_point=point))
    return out


def _spec_of(tool: Tool) -> nv.ToolEntry:
    fn = tool.function
    return _spec(fn.name, fn.parameters or None, fn.description or None)


def _spec(name: str, schema: dict[str, Any] | None, description: str | None) -> nv.ToolEntry:
    return nv.ToolEntry(
        tool_spec=nv.ToolSpec(
            name=name,
            input_schema=nv.InputSchema(json=schema or _OPEN_OBJECT),
            description=description or UNSET,
        )
    )


def _history_tools(messages: list[nv.Message]) -> list[str]:
    names: dict[str, None] = {}
    for turn in messages:
        for block in turn.content:
            if isinstance(block.tool_use, nv.ToolUseBlock):
                names[block.tool_use.name] = None
    return list(names)
