"""Small helpers: ask through the openai SDK and read the cache status header."""

from __future__ import annotations

from typing import Any

import openai

STATUS = "x-portkey-cache-status"


def msgs(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def ask(client: openai.OpenAI, text: str, model: str = "gpt-4o-mini", **kw: Any) -> tuple[Any, str]:
    """(ChatCompletion, cache status) for a non-stream request."""
    raw = client.chat.completions.with_raw_response.create(model=model, messages=msgs(text), **kw)
    return raw.parse(), raw.headers.get(STATUS, "")


def ask_stream(
    client: openai.OpenAI, text: str, model: str = "gpt-4o-mini", **kw: Any
) -> tuple[list[Any], str]:
    """(every chunk, cache status) for a stream request, read to the end with the SDK."""
    with client.chat.completions.with_streaming_response.create(
        model=model, messages=msgs(text), stream=True, **kw
    ) as resp:
        status = resp.headers.get(STATUS, "")
        return list(resp.parse()), status


def text_of(chunks: list[Any]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
