"""User-supplied regular expressions, run so that none can hang the gateway.

A pattern from a settings file or a client's inline config can backtrack catastrophically
(``(a|aa)+$``). Python's ``re`` cannot be interrupted, and a thread running it cannot be
killed, so we use the ``regex`` package: its ``timeout`` stops the match, and
``concurrent=True`` releases the GIL so the match runs in a worker thread without stalling
the event loop. Without ``regex`` installed we fall back to ``re`` in a worker thread, with
only the text-size cap as protection (the docs say so).
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

try:
    import regex as _regex  # type: ignore[import-untyped]
except ImportError:  # pragma: no cover - the guardrails extra installs it
    _regex = None

HAS_TIMEOUT = _regex is not None


class RegexTimeout(Exception):
    pass


def compile_pattern(rule: str, ignore_case: bool = False) -> Any:
    """Compile or raise ValueError (named by the caller)."""
    try:
        if _regex is not None:
            return _regex.compile(rule, _regex.IGNORECASE if ignore_case else 0)
        return re.compile(rule, re.IGNORECASE if ignore_case else 0)
    except Exception as exc:  # both modules raise their own error types
        raise ValueError(f"invalid regular expression: {exc}") from None


def search_sync(pattern: Any, text: str, timeout: float) -> Any:
    """Search on this thread (short texts, small timeouts: JSON-Schema ``pattern``)."""
    if _regex is not None:
        try:
            return pattern.search(text, timeout=timeout, concurrent=True)
        except TimeoutError:
            raise RegexTimeout from None
    return pattern.search(text)


async def search(pattern: Any, text: str, seconds: float) -> Any:
    """Search in a worker thread, giving up after ``seconds``."""
    return await asyncio.to_thread(search_sync, pattern, text, seconds)
