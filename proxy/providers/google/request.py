"""Chat Completions request -> Gemini ``GenerateContentRequest`` (pure, no I/O).

- system/developer messages, wherever they stand, -> ``systemInstruction`` (one part each);
- ``assistant`` -> role ``model``; its ``tool_calls`` -> ``functionCall`` parts;
- ``tool`` results -> ``functionResponse`` parts named after the function the earlier
  assistant turn called (looked up by ``tool_call_id``); consecutive results share one turn;
- images: data URLs -> ``inlineData``; http(s)/gs URLs -> ``fileData`` (Gemini fetches public
  and signed URLs itself; no bytes pass through the gateway);
- sampling parameters -> ``generationConfig``; ``n`` -> ``candidateCount``;
  ``response_format`` -> ``responseMimeType`` (+ ``responseSchema``).

What Gemini cannot take is a 400 naming the parameter, never a silent drop.
"""

from __future__ import annotations

import mimetypes
from typing import Any
from urllib.parse import urlsplit

import msgspec
from msgspec import UNSET

from proxy.errors import InvalidRequest
from proxy.providers.common import (
    content_parts,
    parse_data_url,
    stop_list,
    system_text,
    token_limit,
)
from proxy.providers.google import native as g
from proxy.providers.google import thinking
from proxy.providers.google.jsonschema import to_gemini_schema
from proxy.schema import (
    AssistantMessage,
    AudioPart,
    ChatRequest,
    FilePart,
    FunctionMessage,
    GoogleExtra,
    ImagePart,
    JSONObjectFormat,
    JSONSchemaFormat,
    NamedToolChoice,
    RefusalPart,
    TextPart,
    ToolMessage,
    UserMessage,
    text_of,
)


def bad(message: str, param: str, code: str = "unsupported_parameter") -> InvalidRequest:
    return InvalidRequest(message, param=param, code=code)


def build_body(req: ChatRequest, model: str, host: str = "google") -> g.GenerateContentRequest:
    """``host``: google or vertex-ai (the thought signatures replayed are the ones it
    issued, proxy/providers/reasoning.py)."""
    check_unsupported(req)
    out = g.GenerateContentRequest(contents=contents(req, host))
    thinking.fill_current_turn(out.contents, model)
    extra = req.extra_body.google if req.extra_body else None
    if isinstance(extra, GoogleExtra) and isinstance(extra.cached_content, str):
        out.cached_content = extra.cached_content
    system = system_text(req)
    if system:
        out.system_instruction = g.Content(parts=[g.Part(text=t) for t in system])
    if isinstance(req.tools, list) and req.tools:
        out.tools = [
            g.Tool(function_declarations=[declaration(i, t) for i, t in enumerate(req.tools)])
        ]
    choice = tool_config(req)
    if choice is not None:
        out.tool_config = choice
    config = generation_config(req, model)
    if config != g.GenerationConfig():
        out.generation_config = config
    return out


def check_unsupported(req: ChatRequest) -> None:
    if req.logprobs or isinstance(req.top_logprobs, int):
        raise bad("logprobs are not supported by Gemini", "logprobs")


# ---------------------------------------------------------------- messages


def contents(req: ChatRequest, host: str) -> list[g.Content]:
    out: list[g.Content] = []
    call_names: dict[str, str] = {}  # tool_call_id -> function name
    for i, m in enumerate(req.messages):
        param = f"messages[{i}]"
        if isinstance(m, UserMessage):
            parts = [user_part(p, f"{param}.content") for p in content_parts(m.content)]
            if parts:
                out.append(g.Content(role="user", parts=parts))
        elif isinstance(m, AssistantMessage):
            content = model_content(m, call_names)
            thinking.replay(m, content, host, f"{param}.reasoning_opaque")
            if content.parts:
                out.append(content)
        elif isinstance(m, ToolMessage):
            name = call_names.get(m.tool_call_id)
            if name is None:
                raise bad(
                    f"tool_call_id {m.tool_call_id!r} matches no earlier assistant tool call",
                    f"{param}.tool_call_id",
                    "invalid_tool_call_id",
                )
            part = g.Part(
                function_response=g.FunctionResponse(
                    name=name, response=tool_result(text_of(m.content))
                )
            )
            last = out[-1] if out else None
            if last is not None and last.role == "user" and _all_responses(last):
                last.parts.append(part)
            else:
                out.append(g.Content(role="user", parts=[part]))
        elif isinstance(m, FunctionMessage):  # the legacy form of a tool result
            part = g.Part(
                function_response=g.FunctionResponse(
                    name=m.name, response=tool_result(m.content or "")
                )
            )
            out.append(g.Content(role="user", parts=[part]))
        # system/developer messages went to systemInstruction
    if not out:
        raise bad("messages must hold at least one user message", "messages", "invalid_value")
    return out


def _all_responses(c: g.Content) -> bool:
    return all(p.function_response is not UNSET for p in c.parts)


def model_content(m: AssistantMessage, call_names: dict[str, str]) -> g.Content:
    parts: list[g.Part] = []
    for p in content_parts(m.content):
        if isinstance(p, TextPart) and p.text:
            parts.append(g.Part(text=p.text))
        elif isinstance(p, RefusalPart) and p.refusal:
            parts.append(g.Part(text=p.refusal))
    calls = m.tool_calls if isinstance(m.tool_calls, list) else []
    for tc in calls:
        call_names[tc.id] = tc.function.name
        part = g.Part(
            function_call=g.FunctionCall(
                name=tc.function.name, args=call_args(tc.function.arguments)
            )
        )
        parts.append(part)
    if isinstance(m.function_call, msgspec.Struct):  # legacy function_call
        fc = m.function_call
        parts.append(
            g.Part(function_call=g.FunctionCall(name=fc.name, args=call_args(fc.arguments)))
        )
    return g.Content(role="model", parts=parts)


def call_args(arguments: str) -> dict[str, Any]:
    if not arguments.strip():
        return {}
    try:
        value = msgspec.json.decode(arguments)
    except msgspec.DecodeError:
        raise bad(
            "assistant tool_calls arguments must be a JSON object string",
            "messages",
            "invalid_tool_arguments",
        ) from None
    return value if isinstance(value, dict) else {"value": value}


def tool_result(text: str) -> dict[str, Any]:
    """A tool's output as Gemini's response object: a JSON object as is, else under "output"."""
    try:
        value = msgspec.json.decode(text) if text.lstrip().startswith("{") else None
    except msgspec.DecodeError:
        value = None
    return value if isinstance(value, dict) else {"output": text}


def user_part(p: object, param: str) -> g.Part:
    if isinstance(p, TextPart):
        return g.Part(text=p.text)
    if isinstance(p, ImagePart):
        return media_part(p.image_url.url, param, "image/jpeg")
    if isinstance(p, AudioPart):
        fmt = p.input_audio.format.lower()
        return g.Part(inline_data=g.Blob(mime_type=f"audio/{fmt}", data=p.input_audio.data))
    if isinstance(p, FilePart):
        if isinstance(p.file.file_data, str):
            return media_part(p.file.file_data, param, "application/pdf")
        raise bad(
            "file parts need file_data (a data URL); OpenAI file ids mean nothing to Gemini",
            param,
        )
    raise bad(f"content part {type(p).__name__} is not supported by Gemini", param)


def media_part(url: str, param: str, default_mime: str) -> g.Part:
    inline = parse_data_url(url, param)
    if inline is not None:
        return g.Part(inline_data=g.Blob(mime_type=inline[0], data=inline[1]))
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("https", "http", "gs"):
        raise bad("media URLs must be data:, http(s): or gs: URLs", param, "invalid_image_url")
    mime = mimetypes.guess_type(urlsplit(url).path)[0] or default_mime
    return g.Part(file_data=g.FileData(file_uri=url, mime_type=mime))


# ---------------------------------------------------------------- tools


def declaration(i: int, tool: Any) -> g.FunctionDeclaration:
    fn = tool.function
    decl = g.FunctionDeclaration(name=fn.name, description=fn.description)
    params = fn.parameters
    if isinstance(params, dict) and params.get("properties"):
        decl.parameters = to_gemini_schema(params, f"tools[{i}].function.parameters")
    return decl


def tool_config(req: ChatRequest) -> g.ToolConfig | None:
    choice = req.tool_choice
    if choice is UNSET:
        return None
    if isinstance(choice, NamedToolChoice):
        cfg = g.FunctionCallingConfig(mode="ANY", allowed_function_names=[choice.function.name])
    else:
        mode = {"auto": "AUTO", "none": "NONE", "required": "ANY"}[choice]
        cfg = g.FunctionCallingConfig(mode=mode)
    return g.ToolConfig(function_calling_config=cfg)


# ---------------------------------------------------------------- generation config


def generation_config(req: ChatRequest, model: str) -> g.GenerationConfig:
    c = g.GenerationConfig()
    stops = stop_list(req)
    if stops:
        c.stop_sequences = stops
    limit = token_limit(req)
    if limit is not None:
        c.max_output_tokens = limit
    if isinstance(req.temperature, float | int):
        c.temperature = float(req.temperature)
    if isinstance(req.top_p, float | int):
        c.top_p = float(req.top_p)
    if isinstance(req.seed, int):
        c.seed = req.seed
    if isinstance(req.n, int) and req.n != 1:
        if req.n < 1:
            raise bad("n must be at least 1", "n", "invalid_value")
        c.candidate_count = req.n
    if isinstance(req.presence_penalty, float | int):
        c.presence_penalty = float(req.presence_penalty)
    if isinstance(req.frequency_penalty, float | int):
        c.frequency_penalty = float(req.frequency_penalty)
    fmt = req.response_format
    if isinstance(fmt, JSONObjectFormat):
        c.response_mime_type = "application/json"
    elif isinstance(fmt, JSONSchemaFormat):
        c.response_mime_type = "application/json"
        schema = fmt.json_schema.schema
        if isinstance(schema, dict) and schema:
            c.response_schema = to_gemini_schema(
                schema, "response_format.json_schema.schema", ordered=True
            )
    found = thinking.config(req, model)
    if found is not None:
        c.thinking_config = found
    return c
