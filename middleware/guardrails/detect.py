"""Pattern detectors (PII, secrets): find, redact, and redact a stream chunk by chunk.

Every pattern here is ours and written to run in linear time (bounded repetitions, no nested
unbounded quantifiers), so it runs with the stdlib ``re`` on the event loop; the text-size
cap bounds the cost. Candidates are confirmed by a validator where one exists (Luhn for
cards, mod-97 for IBANs, ``ipaddress`` for IPs), which keeps false positives down.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from middleware.guardrails.checks.base import StreamRewriter

# stream redaction holds back this many characters: a value shorter than this cannot be cut
# in two by a chunk boundary and leak half-redacted
HOLD = 128
# an opened private key block is held until its END line, but no longer than the secrets
# pattern can match (20,000 characters of body plus its two lines)
KEY_HOLD = 20_200
_BEGIN_KEY = re.compile(r"-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY-----")
_END_KEY = re.compile(r"-----END [A-Z0-9 ]{0,40}PRIVATE KEY-----")


@dataclass(frozen=True)
class Pattern:
    name: str  # category, e.g. "email"; the placeholder is [REDACTED_EMAIL]
    regex: re.Pattern[str]
    valid: Callable[[str], bool] | None = None

    @property
    def placeholder(self) -> str:
        return f"[REDACTED_{self.name.upper()}]"


@dataclass(frozen=True)
class Match:
    start: int
    end: int
    name: str
    placeholder: str


class Detector:
    """Non-overlapping matches of several patterns; earlier patterns win ties."""

    def __init__(self, patterns: Sequence[Pattern]) -> None:
        self.patterns = list(patterns)

    def find(self, text: str) -> list[Match]:
        found: list[tuple[int, int, int, Pattern]] = []
        for prio, p in enumerate(self.patterns):
            for m in p.regex.finditer(text):
                if m.end() > m.start() and (p.valid is None or p.valid(m.group(0))):
                    found.append((m.start(), -m.end(), prio, p))
        found.sort(key=lambda t: (t[0], t[1], t[2]))
        out: list[Match] = []
        last_end = -1
        for start, neg_end, _, p in found:
            if start >= last_end:
                out.append(Match(start, -neg_end, p.name, p.placeholder))
                last_end = -neg_end
        return out

    def redact(self, text: str) -> tuple[str, dict[str, int]]:
        matches = self.find(text)
        if not matches:
            return text, {}
        counts: dict[str, int] = {}
        parts: list[str] = []
        pos = 0
        for m in matches:
            parts.append(text[pos : m.start])
            parts.append(m.placeholder)
            counts[m.name] = counts.get(m.name, 0) + 1
            pos = m.end
        parts.append(text[pos:])
        return "".join(parts), counts

    def counts(self, texts: Sequence[str]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for t in texts:
            for m in self.find(t):
                counts[m.name] = counts.get(m.name, 0) + 1
        return counts


class DetectorRewriter(StreamRewriter):
    """Streams redacted text, holding back a tail that a later chunk might complete."""

    def __init__(self, detector: Detector) -> None:
        self.detector = detector

    def rewrite(self, text: str) -> str:
        return self.detector.redact(text)[0]

    def hold_from(self, text: str) -> int:
        begin = open_key_block(text)
        if begin == 0:  # still inside a held key block: nothing to release, no scan needed
            return 0
        cut = max(0, len(text) - HOLD)
        # never cut through a word: a longer run of digits may be a different match
        space = max(text.rfind(" ", 0, cut), text.rfind("\n", 0, cut))
        if cut > 0 and space >= len(text) - 4 * HOLD:
            cut = space + 1 if space >= 0 else 0
        for m in self.detector.find(text):
            if m.start < cut < m.end:
                cut = m.start
        return cut if begin is None else min(cut, begin)


def open_key_block(text: str) -> int | None:
    """Where the first private key block without an END line starts, when it began less
    than KEY_HOLD characters ago. Linear: each line is found once (searching for an END
    after every BEGIN was quadratic on a text of BEGIN lines)."""
    last_end = -1
    for m in _END_KEY.finditer(text):
        last_end = m.start()
    for b in _BEGIN_KEY.finditer(text, max(0, last_end)):
        if b.start() > last_end and len(text) - b.start() <= KEY_HOLD:
            return b.start()
    return None
