"""Checks on the text itself: patterns, words, counts, case, suffix, emptiness, prefix."""

from __future__ import annotations

import re
from typing import Any, Literal

import msgspec

from middleware.guardrails import saferegex
from middleware.guardrails.checks.base import Check, CheckContext, Outcome, StreamRewriter
from middleware.guardrails.workers import NotChecked

Operator = Literal["any", "all", "none"]


class RegexParams(msgspec.Struct, forbid_unknown_fields=True):
    rule: str
    ignoreCase: bool = False


class RegexMatch(Check):
    """Passes when the text matches ``rule`` (RE2, or a backtracking engine with a timeout)."""

    Params = RegexParams

    def __init__(self, params: RegexParams, env: Any) -> None:
        super().__init__(params, env)
        if not params.rule:
            raise ValueError("rule: must not be empty")
        try:
            env.patterns.get(params.rule, params.ignoreCase)  # compiles it: errors now
        except ValueError as exc:
            raise ValueError(f"rule: {exc}") from None

    async def run(self, cx: CheckContext) -> Outcome:
        timeout = self.env.limits.regex_timeout_ms / 1000.0
        pattern = self.env.patterns.get(self.params.rule, self.params.ignoreCase)
        try:
            m = await saferegex.search(self.env.workers, pattern, cx.text, timeout)
        except saferegex.RegexTimeout:
            return Outcome(False, "the regular expression took too long on this text")
        except NotChecked as exc:
            return Outcome(False, f"not checked: {exc}", error=str(exc))
        if m is None:
            return Outcome(False, "the text does not match the pattern")
        return Outcome(True, "the text matches the pattern", {"match_span": [m.start(), m.end()]})


class ContainsParams(msgspec.Struct, forbid_unknown_fields=True):
    words: list[str]
    operator: Operator = "any"
    ignoreCase: bool = False


# each word is one scan of the text: a client's 1,000 words on 1M characters took 0.4 s of
# the event loop, so words x characters is capped (~20 ms), past it the check fails
MAX_CONTAINS_WORK = 50_000_000


class Contains(Check):
    """any: at least one word is present; all: every word; none: no word."""

    Params = ContainsParams

    def __init__(self, params: ContainsParams, env: Any) -> None:
        super().__init__(params, env)
        if not params.words or any(not w for w in params.words):
            raise ValueError("words: must be a non-empty list of non-empty strings")
        self.words = [w.casefold() for w in params.words] if params.ignoreCase else params.words

    def check(self, cx: CheckContext) -> Outcome:
        if len(self.words) * len(cx.text) > MAX_CONTAINS_WORK:
            why = f"{len(self.words)} words are too many to look for in {len(cx.text)} characters"
            return Outcome(False, f"not checked: {why}", error=why)
        text = cx.text.casefold() if self.params.ignoreCase else cx.text
        found = [w for w, key in zip(self.params.words, self.words, strict=True) if key in text]
        op = self.params.operator
        if op == "any":
            ok = bool(found)
        elif op == "all":
            ok = len(found) == len(self.words)
        else:
            ok = not found
        return Outcome(ok, f"{len(found)} of {len(self.words)} words found (operator {op})")


def _range_check(name: str, lo: int, hi: int) -> None:
    if lo < 0 or hi < 0:
        raise ValueError(f"{name}: counts must not be negative")
    if lo > hi:
        raise ValueError(f"{name}: minimum {lo} is above maximum {hi}")


def _in_range(what: str, n: int, lo: int, hi: int) -> Outcome:
    ok = lo <= n <= hi
    return Outcome(ok, f"{n} {what}, allowed {lo}..{hi}", {"count": n})


class WordParams(msgspec.Struct, forbid_unknown_fields=True):
    minWords: int = 0
    maxWords: int = 99999


class WordCount(Check):
    Params = WordParams

    def __init__(self, params: WordParams, env: Any) -> None:
        super().__init__(params, env)
        _range_check("minWords/maxWords", params.minWords, params.maxWords)

    def check(self, cx: CheckContext) -> Outcome:
        n = len(cx.text.split())  # str.split() splits on every Unicode space
        return _in_range("words", n, self.params.minWords, self.params.maxWords)


class SentenceParams(msgspec.Struct, forbid_unknown_fields=True):
    minSentences: int = 0
    maxSentences: int = 99999


# a sentence ends with . ! ? then space or the end of text ("3.14" is not an end); CJK
# full-width terminators end one wherever they are, since CJK text has no spaces
_SENTENCE_END = re.compile(r"[.!?]+(?:\s+|$)|[\u3002\uff01\uff1f]+\s*")


def count_sentences(text: str) -> int:
    return sum(1 for part in _SENTENCE_END.split(text) if part.strip())


class SentenceCount(Check):
    Params = SentenceParams

    def __init__(self, params: SentenceParams, env: Any) -> None:
        super().__init__(params, env)
        _range_check("minSentences/maxSentences", params.minSentences, params.maxSentences)

    def check(self, cx: CheckContext) -> Outcome:
        n = count_sentences(cx.text)
        return _in_range("sentences", n, self.params.minSentences, self.params.maxSentences)


class CharacterParams(msgspec.Struct, forbid_unknown_fields=True):
    minCharacters: int = 0
    maxCharacters: int = 9999999


class CharacterCount(Check):
    """Counts Unicode code points (an emoji with modifiers counts as several)."""

    Params = CharacterParams

    def __init__(self, params: CharacterParams, env: Any) -> None:
        super().__init__(params, env)
        _range_check("minCharacters/maxCharacters", params.minCharacters, params.maxCharacters)

    def check(self, cx: CheckContext) -> Outcome:
        n = len(cx.text)
        return _in_range("characters", n, self.params.minCharacters, self.params.maxCharacters)


class EndsWithParams(msgspec.Struct, forbid_unknown_fields=True):
    suffix: str


class EndsWith(Check):
    """Passes when the text, trailing whitespace removed, ends with ``suffix``."""

    Params = EndsWithParams

    def __init__(self, params: EndsWithParams, env: Any) -> None:
        super().__init__(params, env)
        if not params.suffix:
            raise ValueError("suffix: must not be empty")

    def check(self, cx: CheckContext) -> Outcome:
        ok = cx.text.rstrip().endswith(self.params.suffix)
        return Outcome(ok, "ends with the suffix" if ok else "does not end with the suffix")


class AllUppercase(Check):
    """No lowercase letter anywhere (text without letters passes)."""

    def check(self, cx: CheckContext) -> Outcome:
        ok = not any(c.islower() for c in cx.text)
        return Outcome(ok, "all letters are uppercase" if ok else "has lowercase letters")


class AllLowercase(Check):
    def check(self, cx: CheckContext) -> Outcome:
        ok = not any(c.isupper() for c in cx.text)
        return Outcome(ok, "all letters are lowercase" if ok else "has uppercase letters")


class NotNull(Check):
    """The text is present and not only whitespace."""

    def check(self, cx: CheckContext) -> Outcome:
        ok = bool(cx.text.strip())
        return Outcome(ok, "the text is not empty" if ok else "the text is empty or null")


class PrefixParams(msgspec.Struct, forbid_unknown_fields=True):
    prefix: str
    applyToRole: Literal["user", "system", "developer", "assistant"] = "user"


class _Prefixer(StreamRewriter):
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix


class AddPrefix(Check):
    """Mutator: prefixes the last message of ``applyToRole`` (input) or the answer (output)."""

    Params = PrefixParams
    mutator = True

    def __init__(self, params: PrefixParams, env: Any) -> None:
        super().__init__(params, env)
        if not params.prefix:
            raise ValueError("prefix: must not be empty")

    def check(self, cx: CheckContext) -> Outcome:
        done = cx.doc.add_prefix(self.params.prefix, self.params.applyToRole)
        if not done:
            return Outcome(True, f"no {self.params.applyToRole} message to prefix")
        return Outcome(True, "prefix added", {"transformed": True})

    def stream_rewriter(self) -> StreamRewriter:
        return _Prefixer(self.params.prefix)
