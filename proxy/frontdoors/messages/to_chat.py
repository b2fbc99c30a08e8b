"""Anthropic Messages request -> OpenAI chat request (the gateway's canonical form).

The chat form is what middlewares read (guardrails, cache keys, routing conditions) and
what a provider that does not speak Messages is sent (OpenAI-compatible bodies as is,
Gemini and Bedrock Converse through their adapters). ``to_chat`` is total: whatever the
body holds, it answers the chat form of what it can carry, so a middleware never fails on
a native request. ``check`` names what cannot be carried (400) before a translated call.

Carried: system (string or text blocks, and ``role: "system"`` messages anywhere in the
list), text, images (base64 or URL), PDF and plain-text documents, tool_use / tool_result
(images of a tool result follow as a user message: chat tool messages hold text only),
custom tools, tool_choice, stop_sequences, temperature / top_p / top_k, max_tokens,
metadata.user_id (as ``user``), ``thinking.budget_tokens`` (as ``reasoning_effort``),
``output_config.format`` (as ``response_format``). Dropped, as hints the chat form has no
field for: cache_control, citations, thinking blocks of earlier turns (but a signature
the gateway issued, ``gw1.``, goes back as the turn's ``reasoning_opaque``: a provider's
signatures survive a client such as Claude Code, docs/reasoning.md), adaptive thinking
and ``output_config.effort``, context_management, service_tier, container, every field the
gateway does not know. Refused (``check``): server tools, MCP servers, images and documents
by file id, documents by URL, and content block kinds the gateway does not know.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from proxy.body import Untranslatable
from proxy.providers.reasoning import PREFIX as OPAQUE_PREFIX
from proxy.schema import encoder

# reasoning of earlier turns: no chat field holds it, and other providers reason anew
DROPPED_BLOCKS = frozenset({"thinking", "redacted_thinking"})
CARRIED_BLOCKS = frozenset({"text", "image", "document", "tool_use", "tool_result"})
_USER_ID = re.compile(r"^[A-Za-z0-9_.:@-]{1,64}$")


def _effort(budget: int) -> str:
    """A thinking budget (tokens) as an OpenAI effort: the bands of Gemini's own mapping."""
    if budget <= 2048:
        return "low"
    if budget <= 12288:
        return "medium"
    return "high"


def user_of(user_id: str) -> str:
    """``metadata.user_id`` as chat's ``user``: as is when short and plain, else its hash
    (Claude Code sends a JSON document; OpenAI asks for a stable identifier, hashed)."""
    if _USER_ID.match(user_id):
        return user_id
    return hashlib.sha256(user_id.encode()).hexdigest()


def _num(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def text_of(blocks: Any) -> str:
    """The text of a string or of a list of blocks (text blocks only)."""
    if isinstance(blocks, str):
        return blocks
    if not isinstance(blocks, list):
        return ""
    return "\n".join(
        b["text"]
        for b in blocks
        if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)
    )


def _source_url(block: dict[str, Any]) -> str | None:
    src = block.get("source")
    if not isinstance(src, dict):
        return None
    if src.get("type") == "base64" and isinstance(src.get("data"), str):
        return f"data:{src.get('media_type') or 'application/octet-stream'};base64,{src['data']}"
    if src.get("type") == "url" and isinstance(src.get("url"), str):
        return str(src["url"])
    return None


def _part(block: dict[str, Any]) -> dict[str, Any] | None:
    """A user content block as a chat content part (None: nothing to carry)."""
    kind = block.get("type")
    if kind == "text":
        text = block.get("text")
        return {"type": "text", "text": text} if isinstance(text, str) and text else None
    if kind == "image":
        url = _source_url(block)
        return {"type": "image_url", "image_url": {"url": url}} if url else None
    if kind == "document":
        src = block.get("source")
        src = src if isinstance(src, dict) else {}
        if src.get("type") == "text" and isinstance(src.get("data"), str):
            return {"type": "text", "text": src["data"]}
        if src.get("type") == "content":
            text = text_of(src.get("content"))
            return {"type": "text", "text": text} if text else None
        if src.get("type") == "base64" and isinstance(src.get("data"), str):
            title = block.get("title")
            name = title if isinstance(title, str) and title else "document.pdf"
            url = _source_url(block)
            return {"type": "file", "file": {"file_data": url, "filename": name}}
    return None


def _content(parts: list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    """Text-only content as one string (some compatible servers take nothing else)."""
    if all(p["type"] == "text" for p in parts):
        return "\n".join(p["text"] for p in parts)
    return parts


def _tool_message(block: dict[str, Any], images: list[dict[str, Any]]) -> dict[str, Any]:
    content = block.get("content")
    if isinstance(content, list):
        for b in content:
            if isinstance(b, dict) and b.get("type") in ("image", "document"):
                part = _part(b)
                if part is not None:
                    images.append(part)
    return {
        "role": "tool",
        "tool_call_id": str(block.get("tool_use_id") or ""),
        "content": text_of(content),
    }


def _user(content: Any, out: list[dict[str, Any]]) -> None:
    if isinstance(content, str):
        out.append({"role": "user", "content": content})
        return
    if not isinstance(content, list):
        return
    parts: list[dict[str, Any]] = []
    images: list[dict[str, Any]] = []
    for b in content:
        if not isinstance(b, dict):
            continue
        if b.get("type") == "tool_result":
            out.append(_tool_message(b, images))  # chat wants them right after the call
        else:
            part = _part(b)
            if part is not None:
                parts.append(part)
    parts += images
    if parts:
        out.append({"role": "user", "content": _content(parts)})


def _assistant(content: Any, out: list[dict[str, Any]]) -> None:
    if isinstance(content, str):
        if content:
            out.append({"role": "assistant", "content": content})
        return
    if not isinstance(content, list):
        return
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    opaque: str | None = None
    for b in content:
        if not isinstance(b, dict):
            continue
        kind = b.get("type")
        sig = b.get("signature")
        if kind == "thinking" and isinstance(sig, str) and sig.startswith(OPAQUE_PREFIX):
            opaque = sig  # the gateway's own state, checked by the adapter that reads it
        elif kind == "text" and isinstance(b.get("text"), str) and b["text"]:
            texts.append(b["text"])
        elif kind == "tool_use":
            args = b.get("input")
            calls.append(
                {
                    "id": str(b.get("id") or ""),
                    "type": "function",
                    "function": {
                        "name": str(b.get("name") or ""),
                        "arguments": encoder.encode(args if args is not None else {}).decode(),
                    },
                }
            )
    if not texts and not calls:
        return  # thinking only: nothing a chat provider can take
    message: dict[str, Any] = {"role": "assistant", "content": "\n".join(texts) or None}
    if calls:
        message["tool_calls"] = calls
    if opaque is not None:
        message["reasoning_opaque"] = opaque
    out.append(message)


def _messages(native: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    system = text_of(native.get("system"))
    if system:
        out.append({"role": "system", "content": system})
    for m in native.get("messages") or ():
        if not isinstance(m, dict):
            continue
        role, content = m.get("role"), m.get("content")
        if role == "user":
            _user(content, out)
        elif role == "assistant":
            _assistant(content, out)
        elif role == "system":  # mid-conversation system messages (a 2026 beta)
            text = text_of(content)
            if text:
                out.append({"role": "system", "content": text})
    return out


def _tools(native: dict[str, Any], out: dict[str, Any]) -> None:
    tools = native.get("tools")
    functions = []
    for t in tools if isinstance(tools, list) else ():
        if not isinstance(t, dict) or t.get("type") not in (None, "custom"):
            continue  # a server tool (check refuses it for a translated call)
        fn: dict[str, Any] = {"name": str(t.get("name") or "")}
        if isinstance(t.get("description"), str):
            fn["description"] = t["description"]
        schema = t.get("input_schema")
        fn["parameters"] = schema if isinstance(schema, dict) else {"type": "object"}
        if t.get("strict") is True:
            fn["strict"] = True
        functions.append({"type": "function", "function": fn})
    if not functions:
        return
    out["tools"] = functions
    choice = native.get("tool_choice")
    if not isinstance(choice, dict):
        return
    kind = choice.get("type")
    if kind == "auto":
        out["tool_choice"] = "auto"
    elif kind == "any":
        out["tool_choice"] = "required"
    elif kind == "none":
        out["tool_choice"] = "none"
    elif kind == "tool" and isinstance(choice.get("name"), str):
        out["tool_choice"] = {"type": "function", "function": {"name": choice["name"]}}
    if choice.get("disable_parallel_tool_use") is True and kind != "none":
        out["parallel_tool_calls"] = False


def to_chat(native: dict[str, Any]) -> dict[str, Any]:
    """The chat form of a Messages request body (decoded JSON)."""
    out: dict[str, Any] = {"model": native.get("model"), "messages": _messages(native)}
    if _int(native.get("max_tokens")):
        out["max_tokens"] = native["max_tokens"]
    for name in ("temperature", "top_p"):
        if _num(native.get(name)):
            out[name] = native[name]
    if _int(native.get("top_k")):
        out["top_k"] = native["top_k"]
    stops = native.get("stop_sequences")
    if isinstance(stops, list) and stops and all(isinstance(s, str) for s in stops):
        out["stop"] = stops
    if native.get("stream") is True:
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}  # message_delta needs the usage
    metadata = native.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("user_id"), str):
        out["user"] = user_of(metadata["user_id"])
    _tools(native, out)
    thinking = native.get("thinking")
    if isinstance(thinking, dict) and thinking.get("type") == "enabled":
        budget = thinking.get("budget_tokens")
        if isinstance(budget, int) and _int(budget):
            out["reasoning_effort"] = _effort(budget)
    config = native.get("output_config")
    fmt = config.get("format") if isinstance(config, dict) else None
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        schema = fmt.get("schema")
        if isinstance(schema, dict):
            out["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "output", "schema": schema},
            }
    return out


# ---------------------------------------------------------------- what cannot be carried


def _refuse(message: str, param: str) -> Untranslatable:
    return Untranslatable(message, param=param, code="unsupported_by_provider")


def _check_block(b: Any, where: str, in_tool_result: bool = False) -> None:
    if not isinstance(b, dict) or not isinstance(b.get("type"), str):
        raise _refuse("a content block must be an object with a type", where)
    kind = b["type"]
    if kind in DROPPED_BLOCKS:
        return
    if kind not in CARRIED_BLOCKS or (in_tool_result and kind not in ("text", "image")):
        raise _refuse(f"content blocks of type {kind!r} have no equivalent", f"{where}.type")
    if kind in ("image", "document"):
        src = b.get("source")
        src = src if isinstance(src, dict) else {}
        stype = src.get("type")
        ok = ("base64", "url") if kind == "image" else ("base64", "text", "content")
        if stype not in ok:
            raise _refuse(f"{kind} sources of type {stype!r} have no equivalent", f"{where}.source")
        if kind == "document" and stype == "base64" and src.get("media_type") != "application/pdf":
            raise _refuse("base64 documents must be PDF", f"{where}.source.media_type")
    if kind == "tool_result" and isinstance(b.get("content"), list):
        for j, inner in enumerate(b["content"]):
            _check_block(inner, f"{where}.content[{j}]", in_tool_result=True)


def check(native: dict[str, Any]) -> None:
    """Raise a 400 naming the first thing a translated call would have to drop."""
    system = native.get("system")
    if system is not None and not isinstance(system, str):
        if not isinstance(system, list):
            raise _refuse("system must be a string or a list of text blocks", "system")
        for i, b in enumerate(system):
            if not isinstance(b, dict) or b.get("type") != "text":
                raise _refuse("system blocks must be text blocks", f"system[{i}]")
    for i, m in enumerate(native.get("messages") or ()):
        role = m.get("role") if isinstance(m, dict) else None
        if role not in ("user", "assistant", "system"):
            raise _refuse(f"message role {role!r} has no equivalent", f"messages[{i}].role")
        content = m.get("content")
        if isinstance(content, list):
            for j, b in enumerate(content):
                _check_block(b, f"messages[{i}].content[{j}]")
        elif not isinstance(content, str):
            raise _refuse("content must be a string or a list of blocks", f"messages[{i}].content")
    tools = native.get("tools")
    for i, t in enumerate(tools if isinstance(tools, list) else ()):
        if not isinstance(t, dict) or t.get("type") not in (None, "custom"):
            kind = t.get("type") if isinstance(t, dict) else None
            raise _refuse(f"server tools ({kind!r}) run only on Anthropic", f"tools[{i}]")
        if not isinstance(t.get("name"), str) or not isinstance(t.get("input_schema"), dict):
            raise _refuse("a tool needs a name and an input_schema object", f"tools[{i}]")
    if native.get("mcp_servers"):
        raise _refuse("MCP servers are called by Anthropic's API only", "mcp_servers")
