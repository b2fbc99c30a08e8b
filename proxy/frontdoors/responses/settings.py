"""Settings of the Responses API front door: where the gateway keeps the responses it made.

Responses the gateway translated (to Anthropic, Gemini, Bedrock, ...) are kept so that
``previous_response_id``, ``GET /v1/responses/{id}`` and ``/input_items`` work on them;
OpenAI and Azure keep their own. ``memory`` is one process's; ``redis`` is shared by every
replica and worker. Unset, the store follows the top-level ``redis`` section (Redis when
it names a URL, else memory) and each option here, when set, wins over the shared one.
Both stores are bounded and expire entries after ``ttl_seconds``.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import msgspec


class ResponsesSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    store: Literal["memory", "redis"] | None = None  # None: redis when a URL is known
    redis_url: str | None = None  # None: the top-level redis.url
    redis_prefix: str | None = None  # None: the top-level redis.prefix + "responses:"
    redis_timeout: float | None = None  # None: the top-level redis.timeout (per call)
    ttl_seconds: int = 3600  # how long a stored response can be read or continued
    max_entries: int = 10_000  # memory store: responses kept, least recently used go first
    max_bytes: int = 256 * 1024 * 1024  # memory store: bytes kept, all entries together
    # one stored response (its answer, input items and the conversation to continue it);
    # a longer conversation is answered but not stored
    max_entry_bytes: int = 8 * 1024 * 1024


class StoreChoice(NamedTuple):
    kind: Literal["memory", "redis"]
    url: str | None
    timeout: float
    prefix: str


def choose_store(
    o: ResponsesSettings, shared_url: str | None, shared_timeout: float, shared_prefix: str
) -> StoreChoice:
    """The store to build, this section's options over the shared ``redis`` section's.
    Raises ValueError naming the first bad field (settings call it at load)."""
    for name in ("ttl_seconds", "max_entries", "max_bytes", "max_entry_bytes"):
        if getattr(o, name) <= 0:
            raise ValueError(f"responses.{name}: must be positive")
    if o.max_entry_bytes > o.max_bytes:
        raise ValueError("responses.max_entry_bytes: cannot exceed max_bytes")
    if o.redis_timeout is not None and o.redis_timeout <= 0:
        raise ValueError("responses.redis_timeout: must be positive")
    url = o.redis_url or shared_url
    kind = o.store or ("redis" if url else "memory")
    if kind == "redis" and not url:
        raise ValueError("responses.store: redis needs responses.redis_url or redis.url")
    return StoreChoice(
        kind,
        url,
        o.redis_timeout or shared_timeout,
        o.redis_prefix if o.redis_prefix is not None else shared_prefix + "responses:",
    )
