"""PII detection with optional redaction: email, phone, credit card (Luhn), IBAN (mod-97),
IPv4/IPv6 and US SSN."""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Literal

import msgspec

from middleware.guardrails.checks.base import Check, CheckContext, Outcome, StreamRewriter
from middleware.guardrails.detect import Detector, DetectorRewriter, Pattern

Category = Literal["email", "phone", "credit_card", "iban", "ip_address", "ssn"]
ALL: tuple[Category, ...] = ("email", "phone", "credit_card", "iban", "ip_address", "ssn")


def luhn_ok(candidate: str) -> bool:
    digits = [int(c) for c in candidate if c.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def iban_ok(candidate: str) -> bool:
    s = candidate.replace(" ", "").upper()
    if not 15 <= len(s) <= 34:
        return False
    rearranged = s[4:] + s[:4]
    number = "".join(str(int(c, 36)) for c in rearranged)
    return int(number) % 97 == 1


def phone_ok(candidate: str) -> bool:
    n = sum(c.isdigit() for c in candidate)
    return 10 <= n <= 15 or (candidate.startswith("+") and 8 <= n <= 15)


def ipv6_ok(candidate: str) -> bool:
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return False
    return True


_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
PATTERNS: dict[str, Pattern] = {
    "email": Pattern(
        "email",
        re.compile(r"(?<![\w.%+-])[\w.%+-]{1,64}@(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.){1,8}[^\W\d_]{2,63}\b"),
    ),
    "credit_card": Pattern(
        "credit_card", re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])"), luhn_ok
    ),
    "iban": Pattern("iban", re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b"), iban_ok),
    "ssn": Pattern(
        "ssn",
        re.compile(r"(?<![\d-])(?!000|666|9\d\d)\d{3}([- ])(?!00)\d{2}\1(?!0000)\d{4}(?![\d-])"),
    ),
    "ip_address": Pattern(
        "ip_address",
        re.compile(rf"(?<![\w.]){_OCTET}(?:\.{_OCTET}){{3}}(?![\w]|\.\d)"),
    ),
    "ipv6": Pattern(
        "ip_address",
        re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|\d{1,3}(?:\.\d{1,3}){3})(?![\w:])"),
        ipv6_ok,
    ),
    "phone": Pattern(
        "phone",
        re.compile(
            r"(?<![\w+.-])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?"
            r"\d{1,5}(?:[ .-]?\d{1,5}){1,5}(?![\w-]|\.\d)"
        ),
        phone_ok,
    ),
}  # fmt: skip


def detector_for(categories: list[Category]) -> Detector:
    names: list[str] = []
    # priority on equal spans: a card number is a card, an IP an IP, before either is a phone
    for c in ("email", "credit_card", "iban", "ssn", "ip_address", "phone"):
        if c in categories:
            names.append(c)
            if c == "ip_address":
                names.append("ipv6")
    return Detector([PATTERNS[n] for n in names])


class PiiParams(msgspec.Struct, forbid_unknown_fields=True):
    categories: list[Category] = msgspec.field(default_factory=lambda: list(ALL))
    redact: bool = False


class Pii(Check):
    """Fails when PII is found; with ``redact`` the text is rewritten and the check passes.

    Scans every text segment (all messages on input, every choice on output), not only the
    last message: PII in an earlier turn leaves the gateway just the same.
    """

    Params = PiiParams

    def __init__(self, params: PiiParams, env: Any) -> None:
        super().__init__(params, env)
        if not params.categories:
            raise ValueError("categories: must list at least one category")
        self.detector = detector_for(params.categories)
        self.mutator = params.redact  # type: ignore[misc]

    def check(self, cx: CheckContext) -> Outcome:
        return detect_or_redact(self.detector, cx, self.params.redact, "PII")

    def stream_rewriter(self) -> StreamRewriter | None:
        return DetectorRewriter(self.detector) if self.params.redact else None


def detect_or_redact(detector: Detector, cx: CheckContext, redact: bool, what: str) -> Outcome:
    """Shared by PII and secrets: counts per category, never the values themselves."""
    if redact:
        counts: dict[str, int] = {}

        def fn(text: str) -> str:
            new, c = detector.redact(text)
            for k, v in c.items():
                counts[k] = counts.get(k, 0) + v
            return new

        cx.doc.rewrite(fn)
        if counts:
            n = sum(counts.values())
            return Outcome(
                True, f"{n} {what} items redacted", {"found": counts, "transformed": True}
            )
        return Outcome(True, f"no {what} found")
    counts = detector.counts(list(cx.doc.segments()))
    if counts:
        return Outcome(False, f"{sum(counts.values())} {what} items found", {"found": counts})
    return Outcome(True, f"no {what} found")
