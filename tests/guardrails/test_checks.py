"""Each built-in check, edge cases included, run as an input guardrail through the gateway.

A passing check answers 200, a failing one 246 (no deny), so every row goes through the
real server, the real parameter decoding and the real result shape.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from tests.guardrails.conftest import Env, guard

FENCE = "```"
CASES: list[tuple[str, dict[str, Any] | None, str, bool]] = [
    ("default.regexMatch", {"rule": r"\d{3}"}, "abc 123", True),
    ("default.regexMatch", {"rule": r"\d{3}"}, "abc", False),
    ("default.regexMatch", {"rule": "stra(ß|ss)e"}, "Hauptstraße 1", True),
    ("default.regexMatch", {"rule": "hello", "ignoreCase": True}, "HELLO there", True),
    ("default.regexMatch", {"rule": r"\d", "not": True}, "no digits", True),
    ("default.regexMatch", {"rule": "^$"}, "", True),
    ("default.contains", {"words": ["café"]}, "un café noir", True),
    ("default.contains", {"words": ["CAFÉ"], "ignoreCase": True}, "un café noir", True),
    ("default.contains", {"words": ["a b", "zz"], "operator": "all"}, "a b c", False),
    ("default.contains", {"words": ["x", "y"], "operator": "none"}, "abc", True),
    ("default.contains", {"words": ["x"], "operator": "any"}, "", False),
    ("default.wordCount", {"minWords": 1}, "", False),
    ("default.wordCount", {"minWords": 2, "maxWords": 2}, "日本語 テキスト", True),
    ("default.wordCount", {"maxWords": 3}, "one\ttwo\u00a0three\nfour", False),
    ("default.sentenceCount", {"minSentences": 3, "maxSentences": 3}, "One. Two! Three?", True),
    ("default.sentenceCount", {"minSentences": 2, "maxSentences": 2}, "你好。再见。", True),
    ("default.sentenceCount", {"minSentences": 1}, "", False),
    ("default.sentenceCount", {"maxSentences": 1}, "Pi is 3.14 exactly", True),
    ("default.characterCount", {"minCharacters": 5, "maxCharacters": 5}, "héllo", True),
    ("default.characterCount", {"maxCharacters": 3}, "four", False),
    ("default.characterCount", {"minCharacters": 1}, "", False),
    ("default.endsWith", {"suffix": "!"}, "Thanks!", True),
    ("default.endsWith", {"suffix": "."}, "done.  \n", True),
    ("default.endsWith", {"suffix": "ende"}, "das Ende", False),
    ("default.alluppercase", None, "HELLO 123 ÄÖÜ", True),
    ("default.alluppercase", None, "Hello", False),
    ("default.alluppercase", None, "", True),
    ("default.alllowercase", None, "straße ñ", True),
    ("default.alllowercase", None, "Straße", False),
    ("default.notNull", None, "x", True),
    ("default.notNull", None, " \n\t", False),
    ("default.containsCode", {"format": "Python"}, f"{FENCE}python\nprint(1)\n{FENCE}", True),
    ("default.containsCode", {"format": "JavaScript"}, f"{FENCE}js\nf()\n{FENCE}", True),
    ("default.containsCode", {"format": "Python"}, f"{FENCE}js\nf()\n{FENCE}", False),
    ("default.containsCode", {"format": "SQL"}, "select * from t", False),
    ("default.validUrls", None, "see https://example.com/a?b=1.", True),
    ("default.validUrls", None, "see https://bücher.de and http://127.0.0.1:8080/x", True),
    ("default.validUrls", None, "go to http://intranet/page", False),
    ("default.validUrls", None, "port http://example.com:99999/", False),
    ("default.validUrls", None, "label http://-bad-.example.com/", False),
    ("default.validUrls", None, "no links at all", True),
    (
        "default.jsonSchema",
        {"schema": {"type": "array", "items": {"type": "string"}}},
        '["ü", "ß"]',
        True,
    ),
    ("default.jsonSchema", {"schema": {"type": "object"}}, "", False),
    ("default.jsonKeys", {"keys": ["ключ"]}, '{"ключ": 1}', True),
    ("default.jsonKeys", {"keys": ["a"], "operator": "none"}, "not json", False),
    ("default.pii", None, "release 2024-01-15 build 12345", True),
    ("default.pii", None, "write to zoë@exämple.de", False),
    ("default.pii", {"categories": ["iban"]}, "IBAN GB82 WEST 1234 5698 7654 32", False),
    ("default.pii", {"categories": ["iban"]}, "IBAN GB82 WEST 1234 5698 7654 33", True),
    ("default.pii", {"categories": ["credit_card"]}, "card 4111-1111-1111-1112", True),
    ("default.pii", {"categories": ["ssn"]}, "ssn 000-12-3456", True),
    ("default.pii", {"categories": ["ip_address"]}, "host fe80::1ff:fe23:4567:890a up", False),
    ("default.pii", {"categories": ["ip_address"]}, "at 12:30:45 and 999.1.1.1", True),
    ("default.secrets", None, "token ghp_" + "a1B2" * 9, False),
    ("default.secrets", None, "a sk-ant-" + "x" * 30 + " key", False),
    ("default.secrets", None, "ordinary text with sk- and AKIA", True),
]


def _check(env: Env, check: str, params: dict[str, Any] | None, text: str) -> tuple[int, Any]:
    status, body = env.chat(text, {"input_guardrails": [guard(check, params)]})
    return status, body["hook_results"]["before_request_hooks"][0]["checks"][0]


@pytest.mark.parametrize(("check", "params", "text", "passes"), CASES)
def test_check(env: Env, check: str, params: Any, text: str, passes: bool) -> None:
    status, result = _check(env, check, params, text)
    assert result["verdict"] is passes, result["data"]
    assert status == (200 if passes else 246)
    assert isinstance(result["data"]["explanation"], str) and result["error"] is None


def test_huge_text_fails_closed_quickly(env: Env) -> None:
    text = "ü" * 150_000  # over the test settings' max_text_chars (100 000)
    t0 = time.monotonic()
    status, result = _check(env, "default.pii", None, text)
    assert status == 246 and result["verdict"] is False
    assert "longer than 100000 characters" in result["data"]["explanation"]
    status, result = _check(env, "default.modelWhitelist", {"models": ["gpt-4o-mini"]}, text)
    assert status == 200  # a check that does not read the text is not limited by it
    assert time.monotonic() - t0 < 5


def test_catastrophic_pattern_runs_in_linear_time(env: Env) -> None:
    # RE2 takes it: no backtracking, so no timeout is needed
    t0 = time.monotonic()
    status, result = _check(env, "default.regexMatch", {"rule": "(a|aa)+$"}, "a" * 5000 + "!")
    assert status == 246 and result["verdict"] is False
    assert result["data"]["explanation"] == "the text does not match the pattern"
    assert time.monotonic() - t0 < 1


def test_backreferences_and_lookaround_run_with_a_timeout(env: Env) -> None:
    status, result = _check(env, "default.regexMatch", {"rule": r"(\w)\1"}, "a book")
    assert status == 200 and result["data"]["match_span"] == [3, 5]
    status, result = _check(env, "default.regexMatch", {"rule": r"\d+(?![\dp])"}, "10px 7em")
    assert status == 200 and result["data"]["match_span"] == [5, 6]


def test_malicious_regex_times_out_without_blocking_the_gateway(env_factory: Any) -> None:
    e = env_factory(regex_timeout_ms=1500)
    # the lookahead keeps it out of RE2: the backtracking engine runs it, with its timeout
    evil = {"input_guardrails": [guard("default.regexMatch", {"rule": "(a|aa)+$(?!x)"})]}
    out: dict[str, Any] = {}

    def attack() -> None:
        t0 = time.monotonic()
        out["result"] = e.chat("a" * 80 + "!", evil)
        out["seconds"] = time.monotonic() - t0

    th = threading.Thread(target=attack)
    th.start()
    time.sleep(0.2)  # the attack's regex is now running on the guardrails' thread pool
    t0 = time.monotonic()
    assert e.chat("a normal request")[0] == 200
    assert time.monotonic() - t0 < 0.5  # the event loop kept serving
    th.join(10)
    status, body = out["result"]
    check = body["hook_results"]["before_request_hooks"][0]["checks"][0]
    assert status == 246 and check["verdict"] is False
    assert check["data"]["explanation"] == "the regular expression took too long on this text"
    assert 1.4 < out["seconds"] < 4
