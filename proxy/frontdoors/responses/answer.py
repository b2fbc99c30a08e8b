"""Answers between the two forms: a chat completion as a Response object, and back.

Chat -> Response (``response_object``): the answer of a translated request. Its text and
refusal become one ``message`` item, each tool call a ``function_call`` item; a
``length`` finish is ``status: incomplete`` with ``max_output_tokens`` as the reason. The
request's own settings (instructions, tools, temperature, ...) are echoed as OpenAI does.

Response -> chat (``ResponsesWire``, registered as the ``responses`` wire): what
middlewares read of a native answer relayed byte for byte (usage for logs and cost, the
text for the cache), read in one msgspec pass that skips everything else.
"""

from __future__ import annotations

import os
from typing import Any

import msgspec
from msgspec import UNSET

from proxy.schema import (
    ChatCompletion,
    Choice,
    CompletionTokensDetails,
    FunctionCall,
    PromptTokensDetails,
    ResponseMessage,
    ToolCall,
    Usage,
)
from proxy.wires import register_wire

INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}


def item_id(prefix: str) -> str:
    return f"{prefix}_{os.urandom(12).hex()}"


def usage_json(u: Usage | None) -> dict[str, Any] | None:
    if u is None:
        return None
    cached = written = reasoning = 0
    if isinstance(u.prompt_tokens_details, PromptTokensDetails):
        cached = u.prompt_tokens_details.cached_tokens or 0
        written = u.prompt_tokens_details.cache_write_tokens or 0
    if isinstance(u.completion_tokens_details, CompletionTokensDetails):
        reasoning = u.completion_tokens_details.reasoning_tokens or 0
    return {
        "input_tokens": u.prompt_tokens,
        "input_tokens_details": {"cached_tokens": cached, "cache_write_tokens": written},
        "output_tokens": u.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": u.total_tokens or u.prompt_tokens + u.completion_tokens,
    }


def message_item(text: str | None, refusal: str | None, status: str, mid: str) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if text:
        content.append({"type": "output_text", "text": text, "annotations": [], "logprobs": []})
    if refusal:
        content.append({"type": "refusal", "refusal": refusal})
    return {"type": "message", "id": mid, "status": status, "role": "assistant", "content": content}


def call_item(call_id: str, name: str, arguments: str, status: str, fid: str) -> dict[str, Any]:
    return {
        "type": "function_call",
        "id": fid,
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": status,
    }


def output_items(c: ChatCompletion) -> list[dict[str, Any]]:
    """The first choice's message as output items (the Responses API has one output)."""
    if not c.choices:
        return []
    ch = c.choices[0]
    msg = ch.message
    status = "incomplete" if ch.finish_reason in INCOMPLETE else "completed"
    items: list[dict[str, Any]] = []
    refusal = msg.refusal if isinstance(msg.refusal, str) else None
    if msg.content or refusal:
        items.append(message_item(msg.content, refusal, status, item_id("msg")))
    for tc in msg.tool_calls or ():
        fn = tc.function
        items.append(call_item(tc.id, fn.name, fn.arguments, "completed", item_id("fc")))
    return items


def _echo(req: dict[str, Any], name: str, kinds: Any, default: Any) -> Any:
    """A request setting as the Response echoes it: only a value of the documented type
    (the client's odd ``null`` or object must not make the answer invalid)."""
    value = req.get(name)
    if isinstance(value, bool) != (kinds is bool):  # a bool is an int, never a number here
        return default
    return value if isinstance(value, kinds) else default


def _tool_choice(req: dict[str, Any]) -> Any:
    choice = req.get("tool_choice")
    if choice in ("none", "auto", "required"):
        return choice
    if isinstance(choice, dict) and isinstance(choice.get("type"), str):
        return choice
    return "auto"


def response_object(
    req: dict[str, Any],
    rid: str,
    created: int,
    model: str,
    output: list[dict[str, Any]],
    finish: str | None,
    usage: Usage | None,
    status: str | None = None,
) -> dict[str, Any]:
    """The Response object OpenAI would send for ``req``; ``status``: ``in_progress``
    while streaming, else from the finish reason."""
    reason = INCOMPLETE.get(finish or "")
    if status is None:
        status = "incomplete" if reason else "completed"
    text = _echo(req, "text", dict, {})
    fmt = text.get("format")
    reasoning = _echo(req, "reasoning", dict, {})
    effort = reasoning.get("effort")
    tools = [t for t in _echo(req, "tools", list, []) if isinstance(t, dict)]
    metadata = _echo(req, "metadata", dict, {})
    return {
        "id": rid,
        "object": "response",
        "created_at": created,
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": {"reason": reason} if reason and status == "incomplete" else None,
        "instructions": _echo(req, "instructions", (str, list), None),
        "max_output_tokens": _echo(req, "max_output_tokens", int, None),
        "max_tool_calls": None,
        "model": model,
        "output": output,
        "parallel_tool_calls": _echo(req, "parallel_tool_calls", bool, True),
        "previous_response_id": _echo(req, "previous_response_id", str, None),
        "reasoning": {"effort": effort if isinstance(effort, str) else None, "summary": None},
        "store": req.get("store", True) is not False,
        "temperature": _echo(req, "temperature", (int, float), 1.0),
        "text": {"format": fmt if isinstance(fmt, dict) and "type" in fmt else {"type": "text"}},
        "tool_choice": _tool_choice(req),
        "tools": tools,
        "top_p": _echo(req, "top_p", (int, float), 1.0),
        "truncation": "disabled",
        "usage": usage_json(usage) if status != "in_progress" else None,
        "user": _echo(req, "user", str, None),
        "metadata": {k: v for k, v in metadata.items() if isinstance(v, str)},
    }


# ---------------------------------------------------------------- Response -> chat


class _Part(msgspec.Struct):
    type: str = ""
    text: str | None = None
    refusal: str | None = None


class WireItem(msgspec.Struct):
    type: str = ""
    id: str | None = None
    content: list[_Part] | None = None
    call_id: str | None = None
    name: str | None = None
    arguments: str | None = None


class _Details(msgspec.Struct):
    cached_tokens: int | None = None
    reasoning_tokens: int | None = None
    reason: str | None = None


class WireUsage(msgspec.Struct):
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    input_tokens_details: _Details | None = None
    output_tokens_details: _Details | None = None


class _Response(msgspec.Struct):
    id: str
    created_at: float = 0
    model: str = ""
    status: str | None = None
    output: list[WireItem] = msgspec.field(default_factory=list)
    incomplete_details: _Details | None = None
    usage: WireUsage | None = None


class WireUsageOf(msgspec.Struct):
    usage: WireUsage | None = None


class _Lookup(msgspec.Struct):
    """A Response object (usage at the top) or a stream event (usage in ``response``)."""

    usage: WireUsage | None = None
    response: WireUsageOf | None = None


_response = msgspec.json.Decoder(_Response)
_lookup = msgspec.json.Decoder(_Lookup)


def chat_usage(u: WireUsage) -> Usage:
    cached = u.input_tokens_details.cached_tokens if u.input_tokens_details else None
    reasoning = u.output_tokens_details.reasoning_tokens if u.output_tokens_details else None
    return Usage(
        prompt_tokens=u.input_tokens,
        completion_tokens=u.output_tokens,
        total_tokens=u.total_tokens or u.input_tokens + u.output_tokens,
        prompt_tokens_details=PromptTokensDetails(cached_tokens=cached) if cached else UNSET,
        completion_tokens_details=(
            CompletionTokensDetails(reasoning_tokens=reasoning) if reasoning else UNSET
        ),
    )


def finish_of(status: str | None, reason: str | None, calls: bool) -> str:
    if status == "incomplete":
        return "content_filter" if reason == "content_filter" else "length"
    return "tool_calls" if calls else "stop"


class ResponsesWire:
    """The chat view of native Responses bytes (``proxy.wires``)."""

    def completion(self, raw: bytes) -> ChatCompletion:
        r = _response.decode(raw)
        texts: list[str] = []
        refusals: list[str] = []
        calls: list[ToolCall] = []
        for item in r.output:
            if item.type == "message":
                for p in item.content or ():
                    if p.type == "output_text" and p.text:
                        texts.append(p.text)
                    elif p.type == "refusal" and p.refusal:
                        refusals.append(p.refusal)
            elif item.type == "function_call" and item.call_id and item.name is not None:
                fn = FunctionCall(name=item.name, arguments=item.arguments or "")
                calls.append(ToolCall(id=item.call_id, function=fn))
        reason = r.incomplete_details.reason if r.incomplete_details else None
        msg = ResponseMessage(
            content="".join(texts) if texts else None,
            tool_calls=calls or UNSET,
            refusal="".join(refusals) if refusals else UNSET,
        )
        return ChatCompletion(
            id=r.id,
            created=int(r.created_at),
            model=r.model,
            choices=[Choice(0, msg, finish_of(r.status, reason, bool(calls)))],
            usage=chat_usage(r.usage) if r.usage is not None else UNSET,
        )

    def usage(self, raw: bytes) -> Usage | None:
        found = _lookup.decode(raw)
        u = found.usage or (found.response.usage if found.response else None)
        return chat_usage(u) if u is not None else None


register_wire("responses", ResponsesWire())
