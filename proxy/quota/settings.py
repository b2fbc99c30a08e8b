"""``limits:`` in settings: how the gateway keys' limits are counted (all keys alike)."""

from __future__ import annotations

import msgspec


class LimitsSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    # the window of rpm and tpm: 60 is "per minute" as the names say (tests shorten it)
    window_seconds: float = 60.0
    # the longest a request holds a max_parallel slot: a replica that dies mid-request
    # frees its slots after this (longer streams than this count as ended for the limit)
    lease_seconds: float = 900.0
    # output tokens reserved for a request that sets no max_tokens / max_completion_tokens
    default_output_tokens: int = 1024
    # how long a replica trusts what it read about a runtime key: a revoke holds
    # everywhere within this (plus one Redis round trip)
    key_cache_seconds: float = 0.5


def check(s: LimitsSettings) -> None:
    if not 0.1 <= s.window_seconds <= 3600:
        raise ValueError("limits.window_seconds: must be between 0.1 and 3600")
    if not 1 <= s.lease_seconds <= 86400:
        raise ValueError("limits.lease_seconds: must be between 1 and 86400")
    if not 0 <= s.default_output_tokens <= 10_000_000:
        raise ValueError("limits.default_output_tokens: must be between 0 and 1e7")
    if not 0 <= s.key_cache_seconds <= 1:
        raise ValueError("limits.key_cache_seconds: must be between 0 and 1 (revokes)")
