"""User-supplied regular expressions, run so that none can hang the gateway.

A pattern from a settings file or a client's inline config can backtrack catastrophically
(``(a|aa)+$``). So a pattern is compiled by RE2 (google-re2) when RE2 can take it: RE2 never
backtracks, its cost is linear in the text, and it releases the GIL while it searches. A
search whose worst case (text length times the size of the compiled program: the cost of
RE2's NFA when its DFA cache overflows) is small runs inline; a larger one runs on the
guardrails' own small thread pool (``workers.py``), so the event loop keeps serving. Past a
work budget the search is not run at all and the check fails: "not checked" is not "passed".

Patterns RE2 refuses (backreferences, lookaround) need a backtracking engine: the ``regex``
package, whose ``timeout`` stops the match and whose ``concurrent=True`` releases the GIL,
on the same bounded pool (never asyncio's default executor, which DNS lookups share).
Without ``regex`` installed such a pattern is refused when the guardrail is built.

Semantics follow RE2 in both engines: ``\\d``, ``\\w``, ``\\s`` and ``\\b`` are ASCII, as in
JavaScript (Portkey's engine).
"""

from __future__ import annotations

from functools import partial
from typing import Any

import re2  # type: ignore[import-untyped]

from middleware.guardrails.caches import Lru
from middleware.guardrails.workers import NotChecked, WorkerPool

try:
    import regex as _regex  # type: ignore[import-untyped]
except ImportError:  # pragma: no cover - the guardrails extra installs it
    _regex = None

MAX_PATTERN_CHARS = 10_000
# per pattern: program plus DFA cache. RE2's default (8 MiB) let one adversarial search
# leave ~3 MB behind per pattern; 1 MiB leaves ~0.3 MB (past it RE2 resets its DFA cache,
# or runs its NFA: the work budget below already prices that)
RE2_MAX_MEM = 1 << 20
CACHED_PATTERNS = 256  # compiled patterns kept (PatternCache): live RE2 memory stays bounded
# worst-case RE2 steps (text chars x program size; ~3.5 ns each on RE2's NFA)
INLINE_WORK = 1_000_000  # ~3 ms: not worth a thread hop
MAX_WORK = 300_000_000  # ~1 s on a pool thread; past it the check fails unchecked


class RegexTimeout(Exception):
    pass


class Pattern:
    """A compiled user pattern: RE2, or ``regex`` for what RE2 cannot run."""

    __slots__ = ("compiled", "engine", "size")

    def __init__(self, compiled: Any, engine: str, size: int) -> None:
        self.compiled = compiled
        self.engine = engine  # "re2" | "regex"
        self.size = size  # RE2 program size (the per-character cost bound)

    def work(self, text: str) -> int:
        return len(text) * self.size


def _re2_options(ignore_case: bool) -> Any:
    opts = re2.Options()
    opts.log_errors = False  # a client's bad pattern is their 400, not lines on our stderr
    opts.max_mem = RE2_MAX_MEM
    opts.case_sensitive = not ignore_case
    return opts


def _reason(exc: Exception) -> str:
    why = exc.args[0] if exc.args else exc
    return why.decode("utf-8", "replace") if isinstance(why, bytes) else str(why)


def compile_pattern(rule: str, ignore_case: bool = False) -> Pattern:
    """Compile or raise ValueError (named by the caller)."""
    if len(rule) > MAX_PATTERN_CHARS:
        raise ValueError(f"longer than {MAX_PATTERN_CHARS} characters")
    try:
        compiled = re2.compile(rule, _re2_options(ignore_case))
        return Pattern(compiled, "re2", max(1, int(compiled.programsize)))
    except re2.error as exc:
        re2_why = _reason(exc)
    if _regex is None:
        raise ValueError(
            f"invalid regular expression for RE2: {re2_why} (backreferences and lookaround "
            "need the regex package: pip install 'llm-gateway[guardrails]')"
        )
    flags = _regex.ASCII | (_regex.IGNORECASE if ignore_case else 0)
    try:
        return Pattern(_regex.compile(rule, flags), "regex", 0)
    except Exception as exc:  # regex raises its own error type
        raise ValueError(f"invalid regular expression: {exc}") from None


class PatternCache:
    """Compiled patterns by (rule, ignore_case), a bounded LRU. Checks keep their rule, not
    the compiled pattern, so the guardrail plans cached for clients' configs (1,024) cannot
    pin one grown DFA each; an evicted pattern is compiled again on its next use."""

    def __init__(self, size: int = CACHED_PATTERNS) -> None:
        self._lru: Lru[tuple[str, bool], Pattern] = Lru(size)

    def __len__(self) -> int:
        return len(self._lru)

    def get(self, rule: str, ignore_case: bool = False) -> Pattern:
        """The compiled pattern; ValueError when it does not compile."""
        return self._lru.setdefault((rule, ignore_case), lambda: compile_pattern(rule, ignore_case))


def _search_backtracking(pattern: Pattern, text: str, timeout: float) -> Any:
    try:
        return pattern.compiled.search(text, timeout=timeout, concurrent=True)
    except TimeoutError:
        raise RegexTimeout from None


async def search(pool: WorkerPool, pattern: Pattern, text: str, seconds: float) -> Any:
    """Search ``text``: inline, or on ``pool``. Raises RegexTimeout (the backtracking engine
    ran out of ``seconds``) or NotChecked. RE2 needs no timeout: its cost is bounded first."""
    if pattern.engine == "re2":
        work = pattern.work(text)
        if work <= INLINE_WORK:
            return pattern.compiled.search(text)
        if work > MAX_WORK:
            raise NotChecked(f"text too long for this pattern ({len(text)} characters)")
        return await pool.run(partial(pattern.compiled.search, text))
    return await pool.run(partial(_search_backtracking, pattern, text, seconds))


def program_size(rule: str) -> int:
    """RE2's program size for ``rule``: a text costs at most its length times this. For a
    pattern RE2 cannot compile, a generous guess from its length."""
    try:
        return max(1, int(re2.compile(rule, _re2_options(False)).programsize))
    except re2.error:
        return 20 * max(1, len(rule))
