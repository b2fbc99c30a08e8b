"""OpenAI's model-list shape, for adapters that translate a native list into it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from proxy.schema import encoder


def openai_list(models: Iterable[tuple[str, int, str]]) -> bytes:
    """``(id, created epoch seconds, owned_by)`` rows as ``{"object": "list", "data": ...}``."""
    data = [
        {"id": mid, "object": "model", "created": created, "owned_by": owner}
        for mid, created, owner in models
    ]
    return encoder.encode({"object": "list", "data": data})


def epoch(iso: str | None) -> int:
    """An RFC 3339 time as epoch seconds (0 when absent or unreadable)."""
    if not iso:
        return 0
    try:
        return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return 0
