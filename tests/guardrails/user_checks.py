"""A user check, registered by dotted path in the tests' settings."""

from __future__ import annotations

import msgspec

from middleware.guardrails.checks.base import Check, CheckContext, Outcome


class ShoutParams(msgspec.Struct, forbid_unknown_fields=True):
    max_exclamations: int = 0


class NoShouting(Check):
    """Fails when the text has more exclamation marks than allowed."""

    Params = ShoutParams

    def check(self, cx: CheckContext) -> Outcome:
        n = cx.text.count("!")
        ok = n <= self.params.max_exclamations
        return Outcome(ok, f"{n} exclamation marks")
