"""``regexMatch`` guardrails from a client's inline config: RE2 first, bounded threads after.

Before: every user pattern ran with the ``regex`` package on asyncio's default executor,
the one ``getaddrinfo`` uses, so a flood of slow patterns delayed every DNS lookup.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from tests.security.conftest import chat, client_headers


def guardrails(**options: Any) -> dict[str, Any]:
    return {
        "middleware": [
            {"class": "middleware.guardrails:GuardrailsMiddleware", "options": options},
            {"class": "middleware.router:RouterMiddleware"},
        ]
    }


def regex_guard(rule: str) -> dict[str, Any]:
    return {"input_guardrails": [{"checks": [{"id": "regexMatch", "parameters": {"rule": rule}}]}]}


def first_check(body: dict[str, Any]) -> dict[str, Any]:
    check: dict[str, Any] = body["hook_results"]["before_request_hooks"][0]["checks"][0]
    return check


def test_catastrophic_pattern_is_linear(gateway_process, upstream) -> None:
    gw = gateway_process(guardrails())
    _, server = upstream
    headers = client_headers(server, regex_guard("^(a|aa)+$"))
    slowest, (status, body, seconds) = gw.health_while(
        lambda: gw.post(chat("a" * 200_000 + "!"), headers), settle=0.02
    )
    assert status == 246 and first_check(body)["verdict"] is False
    assert "does not match" in first_check(body)["data"]["explanation"]
    assert seconds < 1 and slowest < 1.0


def test_heavy_re2_search_runs_off_the_loop_and_past_a_budget_is_not_run(
    gateway_process, upstream
) -> None:
    gw = gateway_process(guardrails())
    _, server = upstream
    # 2,004 RE2 instructions: on a text its DFA cannot cache, ~7 ns per character x 1,000
    headers = client_headers(server, regex_guard("[ab]{1,1000}z"))
    text = "".join("ab"[i * 7919 % 3 == 0] for i in range(100_000))
    slowest, (status, body, _) = gw.health_while(lambda: gw.post(chat(text), headers))
    assert status == 246 and "does not match" in first_check(body)["data"]["explanation"]
    assert slowest < 1.0
    status, body, seconds = gw.post(chat(text * 2), headers)  # twice the work: over budget
    check = first_check(body)
    assert status == 246 and check["verdict"] is False and check["error"] is not None
    assert "text too long for this pattern" in check["data"]["explanation"]
    assert seconds < 1.0


def test_slow_backtracking_patterns_do_not_starve_dns(gateway_process, upstream) -> None:
    # asyncio's own loop: its getaddrinfo shares the default executor (uvloop's does not)
    gw = gateway_process(guardrails(regex_timeout_ms=500), uvloop=False)
    _, server = upstream
    evil = client_headers(server, regex_guard("(a|aa)+$(?!x)"))  # lookahead: not RE2's
    results: list[Any] = []
    flood = [
        threading.Thread(target=lambda: results.append(gw.post(chat("a" * 40 + "!"), evil)))
        for _ in range(24)  # the old home, asyncio's default executor, had 6 threads here
    ]
    for th in flood:
        th.start()
    time.sleep(0.3)  # every worker thread is now busy backtracking
    dns = {
        "input_guardrails": [
            {"checks": [{"id": "validUrls", "parameters": {"onlyDNS": True}}]},
        ]
    }
    status, body, seconds = gw.post(
        chat("see http://localhost.localdomain/x"), client_headers(server, dns)
    )
    assert status in (200, 246), body
    assert seconds < 1.0  # getaddrinfo did not wait behind the regexes
    for th in flood:
        th.join(30)
    explanations = {first_check(b)["data"]["explanation"] for _, b, _ in results}
    assert explanations == {"the regular expression took too long on this text"}
