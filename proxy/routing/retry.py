"""Retries of one target: which failures retry, and how long to wait before the next try.

Exponential backoff with full jitter (a random wait in ``[0, min(cap, base * 2**n)]``), so
replicas that failed together do not retry together. A provider's own hint wins when the
config allows it: ``retry-after-ms`` and ``x-ms-retry-after-ms`` (milliseconds, OpenAI and
Azure) or ``retry-after`` (seconds or an HTTP date). As in Portkey, the waits of one request
add up to at most ``max_wait``; a hint that would pass it ends the retries at once.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime

import msgspec

from proxy.routing.config import Retry

# 529: Anthropic's "overloaded", retryable like a 503
DEFAULT_RETRY_CODES = frozenset({429, 500, 502, 503, 504, 529})
MAX_RETRIES = 5


class BackoffOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    base_ms: int = 250  # first backoff's ceiling; doubles per retry
    max_backoff_ms: int = 8_000  # ceiling of one backoff
    max_wait_ms: int = 60_000  # all waits of one request together


def retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds the provider asked us to wait, or None when it gave no usable hint."""
    for name in ("retry-after-ms", "x-ms-retry-after-ms"):
        value = headers.get(name)
        if value is not None:
            try:
                ms = float(value)
            except ValueError:
                continue
            if ms >= 0:
                return ms / 1000.0
    value = headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class RetryPlan:
    """The retry rules of one target and the wait budget of the whole request."""

    __slots__ = ("codes", "honour_hint", "retries")

    def __init__(self, retry: Retry | None) -> None:
        self.retries = min(retry.attempts, MAX_RETRIES) if retry else 0
        codes = retry.on_status_codes if retry else None
        self.codes = frozenset(codes) if codes is not None else DEFAULT_RETRY_CODES
        self.honour_hint = retry.honours_retry_after() if retry else True

    def retries_on(self, status: int) -> bool:
        return status in self.codes


class Backoff:
    """Per-request wait budget over a shared RNG."""

    __slots__ = ("opts", "rng", "waited")

    def __init__(self, opts: BackoffOptions, rng: random.Random) -> None:
        self.opts = opts
        self.rng = rng
        self.waited = 0.0

    def next_wait(self, retry_index: int, hint: float | None) -> float | None:
        """Seconds before retry number ``retry_index`` (0-based); None: stop retrying."""
        if hint is not None:
            wait = hint
        else:
            ceiling = min(self.opts.max_backoff_ms, self.opts.base_ms * 2**retry_index)
            wait = self.rng.uniform(0.0, ceiling) / 1000.0
        if self.waited + wait > self.opts.max_wait_ms / 1000.0:
            return None
        self.waited += wait
        return wait
