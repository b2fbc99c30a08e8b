"""A Responses API request in OpenAI chat form.

Two uses, two modes:

- **lenient** (``strict=False``): the chat view middlewares read (guardrails' text, cache
  keys, routing conditions) whatever the destination. It never raises: what has no chat
  form (hosted tools, item references, ``previous_response_id``, unknown fields) is kept
  under a ``responses`` key, so two requests that differ only there never share a cache
  entry. That view is never sent upstream.
- **strict**: the body a translating provider gets. What cannot be carried is a 400 naming
  the field (``Untranslatable``), not a silent loss.

What maps to what: ``instructions`` -> a leading system message; input items -> messages
(``message`` by role, ``function_call`` -> an assistant ``tool_calls`` entry, merged into
the assistant turn before it, ``function_call_output`` -> a ``tool`` message, ``reasoning``
-> dropped: OpenAI's encrypted reasoning means nothing elsewhere); function tools and
``tool_choice`` -> chat tools; ``text.format`` -> ``response_format``; ``reasoning.effort``
-> ``reasoning_effort``; ``max_output_tokens`` -> ``max_completion_tokens``.
"""

from __future__ import annotations

from typing import Any

from proxy.body import Untranslatable

# chat parameters with the same name and meaning in the Responses API
SAME = ("model", "temperature", "top_p", "parallel_tool_calls", "user")
# chat-only sampling parameters a client may add for a non-OpenAI provider (extra_body)
CHAT_ONLY = ("seed", "stop", "top_k", "frequency_penalty", "presence_penalty", "logit_bias")
# read by the mapping below (or by the door): not part of the leftover
CONSUMED = frozenset(
    {*SAME, *CHAT_ONLY, "input", "instructions", "tools", "tool_choice", "text", "reasoning"}
    | {"max_output_tokens", "stream", "top_logprobs"}
)
# how the answer travels or is kept, not what it says: never part of the leftover
TRANSPORT = frozenset(
    {"store", "metadata", "stream_options", "service_tier", "include", "safety_identifier"}
    | {"prompt_cache_key", "truncation", "background"}
)
# fields that change what the request means and that a chat model cannot honour
REFUSED = ("conversation", "prompt")


class Conversion:
    """One conversion's output: the chat dict, how many of its messages came from
    ``instructions`` (they lead), and what had no chat form (lenient mode)."""

    __slots__ = ("chat", "instructions", "leftover", "strict")

    def __init__(self, strict: bool) -> None:
        self.strict = strict
        self.chat: dict[str, Any] = {}
        self.instructions = 0
        self.leftover: dict[str, Any] = {}

    def refuse(self, message: str, param: str) -> None:
        """Strict: a 400 naming ``param``. Lenient: nothing (the caller keeps the value)."""
        if self.strict:
            raise Untranslatable(message, param=param, code="unsupported_by_provider")


def to_chat(req: dict[str, Any], *, strict: bool, history: list[Any] | None = None) -> Conversion:
    """``req`` (a Responses request) as a chat request; ``history``: chat messages of the
    conversation being continued, placed between the instructions and the new input."""
    c = Conversion(strict)
    messages: list[dict[str, Any]] = []
    instructions = req.get("instructions")
    if isinstance(instructions, str):
        if instructions:
            messages.append({"role": "system", "content": instructions})
    elif isinstance(instructions, list):
        _items(c, instructions, "instructions", messages)
    c.instructions = len(messages)
    if history:
        messages.extend(history)
    inp = req.get("input")
    if isinstance(inp, str):
        messages.append({"role": "user", "content": inp})
    elif isinstance(inp, list):
        _items(c, inp, "input", messages)
    chat: dict[str, Any] = {"messages": messages}
    for name in (*SAME, *CHAT_ONLY):
        if name in req and req[name] is not None:
            chat[name] = req[name]
    if isinstance(req.get("max_output_tokens"), int):
        chat["max_completion_tokens"] = req["max_output_tokens"]
    if req.get("stream") is True:
        chat["stream"] = True
        chat["stream_options"] = {"include_usage": True}  # response.completed carries usage
    if isinstance(req.get("top_logprobs"), int):
        chat["logprobs"] = True
        chat["top_logprobs"] = req["top_logprobs"]
    _tools(c, req, chat)
    _text(c, req.get("text"), chat)
    reasoning = req.get("reasoning")
    if isinstance(reasoning, dict) and isinstance(reasoning.get("effort"), str):
        chat["reasoning_effort"] = reasoning["effort"]
    for name, known in (("text", "format"), ("reasoning", "effort")):
        value = req.get(name)  # verbosity, summaries: hints a chat model has no field for
        if isinstance(value, dict) and set(value) - {known}:
            c.leftover[name] = value
    if req.get("background") is True:
        c.refuse("background: responses in the background are not supported", "background")
    for name in REFUSED:
        if req.get(name) is not None:
            c.refuse(f"{name}: not supported", name)
    if not strict:
        for name, value in req.items():
            if name not in CONSUMED and name not in TRANSPORT:
                c.leftover[name] = value
        if c.leftover:
            chat["responses"] = c.leftover
    c.chat = chat
    return c


def lenient_chat(req: dict[str, Any]) -> dict[str, Any]:
    """The chat view for middlewares (``RequestBody``'s ``to_chat``)."""
    return to_chat(req, strict=False).chat


# ---------------------------------------------------------------- input items


def _items(c: Conversion, items: list[Any], where: str, out: list[dict[str, Any]]) -> None:
    for i, item in enumerate(items):
        at = f"{where}[{i}]"
        if not isinstance(item, dict):
            _other(c, at, item, "must be an object")
            continue
        kind = item.get("type", "message")
        if kind == "message":
            _message(c, item, at, out)
        elif kind == "function_call":
            call_id, name = item.get("call_id"), item.get("name")
            args = item.get("arguments", "")
            if not (isinstance(call_id, str) and isinstance(name, str) and isinstance(args, str)):
                _other(c, at, item, "a function_call needs call_id, name and arguments")
                continue
            call = {
                "id": call_id,
                "type": "function",
                "function": {"name": name, "arguments": args},
            }
            last = out[-1] if out else None
            if last is not None and last["role"] == "assistant":
                last.setdefault("tool_calls", []).append(call)
            else:
                out.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            call_id = item.get("call_id")
            output = _tool_output(c, item.get("output"), f"{at}.output")
            if not isinstance(call_id, str) or output is None:
                _other(c, at, item, "a function_call_output needs call_id and output")
                continue
            out.append({"role": "tool", "tool_call_id": call_id, "content": output})
        elif kind == "reasoning":
            continue  # OpenAI's own (often encrypted) reasoning: nothing another model can read
        else:
            _other(c, f"{at}.type", item, f"input items of type {kind!r} are not supported")


def _other(c: Conversion, at: str, item: Any, why: str) -> None:
    c.refuse(f"{at}: {why}", at)
    c.leftover.setdefault("items", []).append([at, item])


def _message(c: Conversion, item: dict[str, Any], at: str, out: list[dict[str, Any]]) -> None:
    role = item.get("role")
    content = item.get("content")
    if role not in ("user", "system", "developer", "assistant"):
        _other(c, f"{at}.role", item, f"role {role!r} is not supported")
        return
    if role == "assistant":
        text, refusal = _assistant_text(c, content, f"{at}.content")
        msg: dict[str, Any] = {"role": "assistant", "content": text}
        if refusal:
            msg["refusal"] = refusal
        out.append(msg)
        return
    parts = _parts(c, content, f"{at}.content", text_only=role != "user")
    if parts is None:
        _other(c, f"{at}.content", item, "content must be a string or a list of parts")
        return
    out.append({"role": "user" if role == "user" else "system", "content": parts})


def _parts(c: Conversion, content: Any, at: str, text_only: bool) -> Any:
    """Input content parts in chat form (a string stays a string); None if malformed."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return None
    parts: list[dict[str, Any]] = []
    for j, p in enumerate(content):
        kind = p.get("type") if isinstance(p, dict) else None
        here = f"{at}[{j}]"
        if kind in ("input_text", "output_text", "text") and isinstance(p.get("text"), str):
            parts.append({"type": "text", "text": p["text"]})
        elif text_only:
            _other(c, here, p, "only text parts are supported in this role")
        elif kind == "input_image" and isinstance(p.get("image_url"), str):
            image = {"url": p["image_url"]}
            if isinstance(p.get("detail"), str):
                image["detail"] = p["detail"]
            parts.append({"type": "image_url", "image_url": image})
        elif kind == "input_file" and (p.get("file_data") or p.get("file_id")):
            ref = {
                k: p[k] for k in ("file_data", "file_id", "filename") if isinstance(p.get(k), str)
            }
            parts.append({"type": "file", "file": ref})
        elif kind == "input_audio" and isinstance(p.get("input_audio"), dict):
            parts.append({"type": "input_audio", "input_audio": p["input_audio"]})
        else:
            _other(c, here, p, f"content parts of type {kind!r} are not supported here")
    if text_only:
        return "\n".join(p["text"] for p in parts)
    return parts


def _assistant_text(c: Conversion, content: Any, at: str) -> tuple[str | None, str | None]:
    if isinstance(content, str):
        return content, None
    texts: list[str] = []
    refusals: list[str] = []
    for j, p in enumerate(content if isinstance(content, list) else []):
        kind = p.get("type") if isinstance(p, dict) else None
        if kind in ("output_text", "input_text", "text") and isinstance(p.get("text"), str):
            texts.append(p["text"])
        elif kind == "refusal" and isinstance(p.get("refusal"), str):
            refusals.append(p["refusal"])
        else:
            _other(c, f"{at}[{j}]", p, f"content parts of type {kind!r} are not supported here")
    return ("".join(texts) if texts else None), ("".join(refusals) if refusals else None)


def _tool_output(c: Conversion, output: Any, at: str) -> Any:
    if isinstance(output, str):
        return output
    if isinstance(output, list):  # text parts only: a chat tool message holds no image
        return _parts(c, output, at, text_only=True)
    return None


# ---------------------------------------------------------------- tools and format


def _tools(c: Conversion, req: dict[str, Any], chat: dict[str, Any]) -> None:
    tools = req.get("tools")
    out: list[dict[str, Any]] = []
    for i, t in enumerate(tools if isinstance(tools, list) else []):
        if isinstance(t, dict) and t.get("type") == "function" and isinstance(t.get("name"), str):
            fn = {k: t[k] for k in ("name", "description", "parameters", "strict") if k in t}
            out.append({"type": "function", "function": fn})
        else:
            kind = t.get("type") if isinstance(t, dict) else None
            c.refuse(f"tools[{i}]: tools of type {kind!r} are not supported", f"tools[{i}]")
            c.leftover.setdefault("tools", []).append(t)
    choice = req.get("tool_choice")
    if isinstance(choice, str):
        chat["tool_choice"] = choice
    elif isinstance(choice, dict):
        kind = choice.get("type")
        if kind == "function" and isinstance(choice.get("name"), str):
            chat["tool_choice"] = {"type": "function", "function": {"name": choice["name"]}}
        elif kind == "allowed_tools" and isinstance(choice.get("tools"), list):
            names = {t.get("name") for t in choice["tools"] if isinstance(t, dict)}
            out = [t for t in out if t["function"]["name"] in names]
            chat["tool_choice"] = "required" if choice.get("mode") == "required" else "auto"
        else:
            c.refuse(f"tool_choice: {kind!r} is not supported", "tool_choice")
            c.leftover["tool_choice"] = choice
    if out:
        chat["tools"] = out


def _text(c: Conversion, text: Any, chat: dict[str, Any]) -> None:
    fmt = text.get("format") if isinstance(text, dict) else None
    if not isinstance(fmt, dict):
        return
    kind = fmt.get("type")
    if kind == "json_object":
        chat["response_format"] = {"type": "json_object"}
    elif kind == "json_schema" and isinstance(fmt.get("schema"), dict):
        spec = {k: fmt[k] for k in ("name", "schema", "description", "strict") if k in fmt}
        spec.setdefault("name", "response")
        chat["response_format"] = {"type": "json_schema", "json_schema": spec}
    elif kind != "text":
        c.refuse(f"text.format: {kind!r} is not supported", "text.format")
        c.leftover["text_format"] = fmt
