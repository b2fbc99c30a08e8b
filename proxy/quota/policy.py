"""What a gateway key may do: its policy (limits, budget, allowed targets) and period math.

A key entry in settings (``AuthMiddleware`` options) and a key created through the admin
API carry the same fields; both become a ``KeyPolicy``, the typed value the limiter, the
terminal step (allowed providers and models) and the ledger read from ``ctx.policy``.

Allowed providers and models are shell globs (``gpt-4o*``, ``@openai-prod``), compiled
once per policy and matched against names capped in length: a client's model name never
buys super-linear work. Periods are UTC calendar buckets (ISO weeks start on Monday).
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
from typing import Any, Literal

import msgspec

from proxy.errors import PermissionDenied
from proxy.keys import KeyEntry

Period = Literal["day", "week", "month", "total"]
RedisDown = Literal["open", "closed"]

MAX_GLOBS = 64
MAX_GLOB_CHARS = 128
MAX_NAME_CHARS = 256  # longer model or provider names never match a glob
MAX_METADATA_BYTES = 4096
MICROS = 1_000_000  # budgets and costs are counted in integer micro-USD


class Limits(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, omit_defaults=True):
    """The fields a key's policy has, in settings and in the admin API alike."""

    team: str | None = None
    rpm: int | None = None  # requests per window (a minute)
    tpm: int | None = None  # input + output tokens per window
    max_parallel: int | None = None  # requests in flight at once
    budget_usd: float | None = None
    budget_period: Period = "month"
    models: list[str] = msgspec.field(default_factory=list)  # globs; empty: any
    providers: list[str] = msgspec.field(default_factory=list)  # names or @slugs; globs
    expires_at: dt.datetime | None = None  # UTC when no zone is given
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)
    redis_down: RedisDown = "open"  # open: count in process and log; closed: 503


class GatewayKeyEntry(Limits, forbid_unknown_fields=True, kw_only=True):
    """A gateway key in settings: the secret (or its ``sha256:``), a name and a policy."""

    key: str
    name: str = "default"

    def __repr__(self) -> str:  # the secret never reaches a log line or a traceback
        return f"GatewayKeyEntry(name={self.name!r}, key=***)"

    def entry(self) -> KeyEntry:
        return KeyEntry(self.key, self.name)

    def limits(self) -> Limits:
        fields = {f: getattr(self, f) for f in Limits.__struct_fields__}
        return Limits(**fields)


def check_limits(lim: Limits, where: str) -> None:
    """ValueError naming the field when a policy is out of range."""
    for name in ("rpm", "tpm", "max_parallel"):
        value = getattr(lim, name)
        if value is not None and not 0 < value <= 10**12:
            raise ValueError(f"{where}.{name}: must be a positive whole number")
    if lim.budget_usd is not None and not 0 <= lim.budget_usd <= 10**9:
        raise ValueError(f"{where}.budget_usd: must be between 0 and 1e9")
    for name in ("models", "providers"):
        globs = getattr(lim, name)
        if len(globs) > MAX_GLOBS:
            raise ValueError(f"{where}.{name}: at most {MAX_GLOBS} entries")
        for g in globs:
            if not isinstance(g, str) or not 0 < len(g) <= MAX_GLOB_CHARS:
                raise ValueError(f"{where}.{name}: each entry is 1 to {MAX_GLOB_CHARS} chars")
    if len(msgspec.json.encode(lim.metadata)) > MAX_METADATA_BYTES:
        raise ValueError(f"{where}.metadata: at most {MAX_METADATA_BYTES} bytes as JSON")
    if lim.team is not None and len(lim.team) > MAX_GLOB_CHARS:
        raise ValueError(f"{where}.team: at most {MAX_GLOB_CHARS} chars")


def _globs(patterns: list[str]) -> re.Pattern[str] | None:
    """One compiled alternation of shell globs (fnmatch's translation is linear-time)."""
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in patterns))


def _utc(t: dt.datetime | None) -> float | None:
    if t is None:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.timestamp()


class KeyPolicy:
    """A key's policy, ready to enforce. ``id`` names its counters (``s:<name>`` for a
    settings key, ``r:<id>`` for a runtime key, so the two can never share counters)."""

    __slots__ = (
        "_models",
        "_providers",
        "budget_micros",
        "budget_period",
        "expires_at",
        "id",
        "limited",
        "limits",
        "max_parallel",
        "name",
        "redis_down",
        "rpm",
        "team",
        "tpm",
    )

    def __init__(self, id: str, name: str, limits: Limits) -> None:
        self.id = id
        self.name = name
        self.limits = limits
        self.team = limits.team
        self.rpm = limits.rpm or 0  # 0: no limit (as in the Lua script)
        self.tpm = limits.tpm or 0
        self.max_parallel = limits.max_parallel or 0
        b = limits.budget_usd
        self.budget_micros = -1 if b is None else round(b * MICROS)  # -1: no budget
        self.budget_period: Period = limits.budget_period
        self.expires_at = _utc(limits.expires_at)
        self.redis_down = limits.redis_down
        self._models = _globs(limits.models)
        self._providers = _globs(limits.providers)
        self.limited = bool(self.rpm or self.tpm or self.max_parallel or self.budget_micros >= 0)

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def check_target(self, provider: str, slug: str | None, model: str) -> None:
        """403 when this key may not send an attempt to ``provider`` / ``@slug`` / ``model``."""
        allowed = self._providers
        if allowed is not None:
            names = [provider] + ([f"@{slug}"] if slug else [])
            if not any(len(n) <= MAX_NAME_CHARS and allowed.match(n) for n in names):
                shown = f"@{slug}" if slug else provider
                raise PermissionDenied(
                    f"gateway key {self.name!r} may not use provider {shown[:64]!r}",
                    code="provider_not_allowed",
                )
        models = self._models
        too_long = len(model) > MAX_NAME_CHARS
        if models is not None and model and (too_long or not models.match(model)):
            raise PermissionDenied(
                f"gateway key {self.name!r} may not use model {model[:64]!r}",
                code="model_not_allowed",
            )


# codes of a policy refusal in the terminal step: a fallback moves on to its next target
POLICY_CODES = frozenset({"provider_not_allowed", "model_not_allowed"})


def period_bucket(period: Period, now: float) -> tuple[str, float | None]:
    """(bucket id, when it ends as epoch seconds; None for ``total``) at ``now`` (UTC)."""
    if period == "total":
        return "total", None
    t = dt.datetime.fromtimestamp(now, dt.UTC)
    day = dt.datetime(t.year, t.month, t.day, tzinfo=dt.UTC)
    if period == "day":
        return f"d{day:%Y-%m-%d}", (day + dt.timedelta(days=1)).timestamp()
    if period == "week":
        year, week, weekday = t.isocalendar()
        start = day - dt.timedelta(days=weekday - 1)
        return f"w{year}-W{week:02d}", (start + dt.timedelta(days=7)).timestamp()
    first = dt.datetime(t.year, t.month, 1, tzinfo=dt.UTC)
    nxt = dt.datetime(t.year + (t.month == 12), t.month % 12 + 1, 1, tzinfo=dt.UTC)
    return f"m{first:%Y-%m}", nxt.timestamp()


def period_start(period: Period, now: float) -> float:
    """When the bucket holding ``now`` began (0 for ``total``)."""
    if period == "total":
        return 0.0
    t = dt.datetime.fromtimestamp(now, dt.UTC)
    day = dt.datetime(t.year, t.month, t.day, tzinfo=dt.UTC)
    if period == "day":
        return day.timestamp()
    if period == "week":
        return (day - dt.timedelta(days=t.isocalendar()[2] - 1)).timestamp()
    return dt.datetime(t.year, t.month, 1, tzinfo=dt.UTC).timestamp()


def iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
