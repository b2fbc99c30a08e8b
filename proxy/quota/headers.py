"""OpenAI's rate-limit headers and 429 errors for a limited gateway key.

``x-ratelimit-{limit,remaining,reset}-{requests,tokens}`` go on every answer of a key with
an ``rpm`` / ``tpm``; they replace the provider's own (the client's limits are the
gateway's). A refusal is a 429 ``rate_limit_error`` with ``Retry-After`` (seconds) and
``retry-after-ms``, which the openai SDKs honour; a budget that is spent, or a request that
alone is over the token limit, also says ``x-should-retry: false`` (waiting a minute would
not help, and the SDKs read that header before retrying).
"""

from __future__ import annotations

import math
import time

from proxy.errors import GatewayError
from proxy.quota.limiter import Decision
from proxy.quota.policy import MICROS, KeyPolicy, iso

RATE_PREFIX = "x-ratelimit-"


def duration(ms: int) -> str:
    """Like OpenAI's reset values: ``20ms``, ``1.5s``, ``6m0s``."""
    if ms < 1000:
        return f"{max(0, ms)}ms"
    minutes, rest = divmod(ms, 60_000)
    secs = f"{rest / 1000:.3f}".rstrip("0").rstrip(".")
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"


def rate_headers(policy: KeyPolicy, d: Decision) -> dict[str, str]:
    h: dict[str, str] = {}
    if policy.rpm:
        h["x-ratelimit-limit-requests"] = str(policy.rpm)
        h["x-ratelimit-remaining-requests"] = str(d.req_remaining)
        h["x-ratelimit-reset-requests"] = duration(d.req_reset_ms)
    if policy.tpm:
        h["x-ratelimit-limit-tokens"] = str(policy.tpm)
        h["x-ratelimit-remaining-tokens"] = str(d.tok_remaining)
        h["x-ratelimit-reset-tokens"] = duration(d.tok_reset_ms)
    return h


def replace_rate_headers(headers: dict[str, str], ours: dict[str, str]) -> None:
    """Drop the provider's ``x-ratelimit-*`` and put the gateway's in."""
    for name in [n for n in headers if n.lower().startswith(RATE_PREFIX)]:
        del headers[name]
    headers.update(ours)


class RateLimited(GatewayError):
    status = 429
    type = "rate_limit_error"


def refusal(policy: KeyPolicy, d: Decision, budget_reset: float | None) -> RateLimited:
    """The 429 for a refused reservation: which limit, and when to come back."""
    headers = rate_headers(policy, d)
    who = f"gateway key {policy.name!r}"
    if d.failed == "budget":
        spent = d.spent_micros / MICROS
        limit = policy.budget_micros / MICROS
        period = policy.budget_period
        if budget_reset is None:
            when = "it does not reset (a total budget)"
        else:
            when = f"it resets at {iso(budget_reset)}"
            wait = max(1, math.ceil(budget_reset - time.time()))
            headers["retry-after"] = str(wait)
        headers["x-should-retry"] = "false"
        return RateLimited(
            f"Budget exceeded for {who}: ${spent:.6f} of ${limit:.2f} per {period} spent "
            f"(this request's estimate does not fit); {when}.",
            code="budget_exceeded",
            headers=headers,
        )
    retry_ms = d.retry_ms
    if retry_ms < 0:
        headers["x-should-retry"] = "false"
        return RateLimited(
            f"Request too large for {who}: its estimated tokens exceed the limit of "
            f"{policy.tpm} tokens per minute; lower max_tokens or the prompt.",
            code="rate_limit_exceeded",
            headers=headers,
        )
    headers["retry-after"] = str(max(1, math.ceil(retry_ms / 1000)))
    headers["retry-after-ms"] = str(max(1, retry_ms))
    if d.failed == "parallel":
        return RateLimited(
            f"Too many parallel requests for {who}: at most {policy.max_parallel} in flight.",
            code="too_many_parallel_requests",
            headers=headers,
        )
    if d.failed == "rpm":
        what = f"{policy.rpm} requests per minute"
    else:
        what = f"{policy.tpm} tokens per minute (input + output)"
    return RateLimited(
        f"Rate limit reached for {who}: {what}. Retry after {duration(retry_ms)}.",
        code="rate_limit_exceeded",
        headers=headers,
    )
