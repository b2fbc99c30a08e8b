"""Settings of the Responses API front door: where the gateway keeps the responses it made.

Responses the gateway translated (to Anthropic, Gemini, Bedrock, ...) are kept so that
``previous_response_id``, ``GET /v1/responses/{id}`` and ``/input_items`` work on them;
OpenAI and Azure keep their own. ``memory`` (the default) is one process's; ``redis`` is
shared by every replica and worker. Both are bounded and expire entries after
``ttl_seconds``.
"""

from __future__ import annotations

from typing import Literal

import msgspec


class ResponsesSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    store: Literal["memory", "redis"] = "memory"
    # a shared top-level redis section may later provide the default; until then, this one
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_prefix: str = "llmgw:responses:"
    redis_timeout: float = 0.5  # seconds per Redis call: an outage must not stall requests
    ttl_seconds: int = 3600  # how long a stored response can be read or continued
    max_entries: int = 10_000  # memory store: responses kept, least recently used go first
    max_bytes: int = 256 * 1024 * 1024  # memory store: bytes kept, all entries together
    # one stored response (its answer, input items and the conversation to continue it);
    # a longer conversation is answered but not stored
    max_entry_bytes: int = 8 * 1024 * 1024

    def check(self) -> None:
        """Raise ValueError naming the first bad field (settings call it at load)."""
        for name in ("ttl_seconds", "max_entries", "max_bytes", "max_entry_bytes"):
            if getattr(self, name) <= 0:
                raise ValueError(f"responses.{name}: must be positive")
        if self.redis_timeout <= 0:
            raise ValueError("responses.redis_timeout: must be positive")
        if self.max_entry_bytes > self.max_bytes:
            raise ValueError("responses.max_entry_bytes: cannot exceed max_bytes")
