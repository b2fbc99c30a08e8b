"""The console in a real headless Chromium: live table, filters, detail, charts, playground,
try-it, and what the page must never do (run markup from a prompt, show a secret, fetch
from anywhere but the gateway). ``CONSOLE_SCREENSHOTS=1`` also writes docs/console/*.png."""

from __future__ import annotations

import json
import time
from typing import Any

from tests.conftest import PROVIDER_KEY
from tests.console.conftest import ADMIN_KEY, SETTINGS_KEY, Env, screenshot


def wait(browser: Any, script: str, timeout: float = 5.0, *args: Any) -> Any:
    """Poll a JavaScript expression until it is truthy; its value, or an AssertionError."""
    deadline = time.monotonic() + timeout
    while True:
        value = browser.execute_script("return (" + script + ")", *args)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for: {script}")
        time.sleep(0.02)


def wait_row(browser: Any, trace: str, timeout: float) -> None:
    """Until the table shows a row with this trace id."""
    script = (
        "[...document.querySelectorAll('#rows td')].some(td => td.textContent === arguments[0])"
    )
    wait(browser, script, timeout, trace)


def open_console(browser: Any, env: Env, tab: str = "live") -> None:
    browser.get(f"{env.url}/console/#{tab}")
    wait(browser, "document.getElementById('live-state').textContent === 'live'")


def row_count(browser: Any) -> int:
    return int(browser.execute_script("return document.querySelectorAll('#rows tr').length"))


def rows_with(browser: Any, text: str) -> int:
    return int(
        browser.execute_script(
            "return [...document.querySelectorAll('#rows tr')]"
            ".filter(tr => tr.textContent.includes(arguments[0])).length",
            text,
        )
    )


def requested_urls(browser: Any) -> list[str]:
    urls = []
    for entry in browser.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg["method"] == "Network.requestWillBeSent":
            urls.append(msg["params"]["request"]["url"])
    return urls


def test_requests_appear_within_a_second_and_a_filter_narrows_them(browser: Any, env: Env) -> None:
    open_console(browser, env)
    for i in range(3):
        trace = f"trace-openai-{i}"
        status, _ = env.chat(f"hello {i}", **{"x-portkey-trace-id": trace})
        assert status == 200
        sent = time.monotonic()
        wait_row(browser, trace, 1.0)
        assert time.monotonic() - sent < 1.0
    # another provider (groq, OpenAI-compatible) on the same mock
    status, _ = env.chat(
        "to groq",
        **{
            "x-portkey-provider": "groq",
            "x-portkey-custom-host": env.upstream.url + "/v1",
            "x-portkey-trace-id": "trace-groq-0",
        },
    )
    assert status == 200
    wait_row(browser, "trace-groq-0", 1.0)
    assert row_count(browser) == 4
    screenshot(browser, "live")
    browser.execute_script(
        "const s = document.getElementById('f-provider'); s.value = 'groq';"
        "s.dispatchEvent(new Event('change'))"
    )
    wait(browser, "document.querySelectorAll('#rows tr').length === 1")
    assert rows_with(browser, "trace-groq-0") == 1
    # the server-side filter holds for what arrives next, too
    env.chat("after the filter", **{"x-portkey-trace-id": "trace-openai-late"})
    status, _ = env.chat(
        "groq again",
        **{
            "x-portkey-provider": "groq",
            "x-portkey-custom-host": env.upstream.url + "/v1",
            "x-portkey-trace-id": "trace-groq-1",
        },
    )
    wait_row(browser, "trace-groq-1", 2.0)
    assert rows_with(browser, "trace-openai") == 0


def test_the_detail_view_shows_the_attempts_of_a_fallback(browser: Any, env: Env) -> None:
    open_console(browser, env)
    headers = {"x-portkey-config": "fallback-lb", "x-portkey-trace-id": "trace-fallback"}
    status, body = env.chat("fall back please", **headers)
    assert status == 200, body
    wait_row(browser, "trace-fallback", 1.0)
    # keyboard: focus the row and press Enter
    from selenium.webdriver.common.keys import Keys

    row = browser.find_element("css selector", "#rows tr[data-id]")
    browser.execute_script("arguments[0].focus()", row)
    row.send_keys(Keys.ENTER)
    wait(browser, "document.querySelectorAll('#detail-attempts tr').length === 2")
    attempts = browser.execute_script(
        "return [...document.querySelectorAll('#detail-attempts tr')]"
        ".map(tr => [...tr.children].map(td => td.textContent))"
    )
    first, second = attempts
    assert first[1].startswith("config.targets[0].targets[")  # the load-balanced pick
    assert first[2] == "fallback-lb" and first[4] in ("500", "502") and first[5] != "ok"
    assert second[1] == "config.targets[1]" and second[4] == "200" and second[5] == "ok"
    assert browser.execute_script("return document.activeElement.id") == "detail-title"
    screenshot(browser, "detail")
    browser.find_element("css selector", "body").send_keys(Keys.ESCAPE)
    wait(browser, "document.getElementById('detail').hidden")


def test_the_health_charts_draw(browser: Any, env: Env) -> None:
    for i in range(6):
        env.chat(f"hello {i}")
    env.chat("boom", model="error-500")
    env.chat("fb", **{"x-portkey-config": "fallback-lb"})
    browser.get(f"{env.url}/console/#health")
    wait(browser, "document.querySelector('#health-providers article[data-provider=openai]')")
    bars = wait(browser, "document.querySelectorAll('#health-providers svg.chart rect.bar').length")
    assert bars >= 1
    assert browser.execute_script("return document.querySelectorAll('svg.chart rect.err').length")
    assert browser.execute_script(
        "return document.querySelectorAll('svg.chart polyline.p50').length"
    )
    stats = browser.find_element("css selector", "article[data-provider=openai] .stats").text
    assert "requests/s" in stats and "p50 / p95" in stats
    targets = browser.find_element("id", "health-targets").text
    assert "fallback-lb/config.targets[1]" in targets and "closed" in targets
    screenshot(browser, "health")
    # it refreshes by itself
    before = browser.execute_script(
        "return document.querySelector('article[data-provider=openai] .stats').textContent"
    )
    for i in range(5):
        env.chat(f"more {i}")
    wait(
        browser,
        "document.querySelector('article[data-provider=openai] .stats').textContent"
        " !== arguments[0]",
        6.0,
        before,
    )


def test_the_playground_dry_runs_a_fallback_with_loadbalance_and_shows_the_api_error(
    browser: Any, env: Env
) -> None:
    calls = env.mock.calls
    browser.get(f"{env.url}/console/#playground")
    wait(browser, "[...document.getElementById('pg-pick').options].some(o => o.value)")
    browser.execute_script(
        "const s = document.getElementById('pg-pick'); s.value = 'fallback-lb';"
        "s.dispatchEvent(new Event('change'))"
    )
    browser.find_element("id", "pg-run").click()
    wait(browser, "document.querySelectorAll('#pg-order li').length === 2")
    order = [li.text for li in browser.find_elements("css selector", "#pg-order li")]
    assert order[0].startswith("one of: config.targets[0].targets[0]")
    assert (
        "(75%)" in order[0] and "config.targets[0].targets[1]" in order[0] and "(25%)" in order[0]
    )
    assert order[1].startswith("config.targets[1]: @mock → openai · gpt-4o-mini")
    assert "retries 2" in order[1]
    assert SETTINGS_KEY not in browser.page_source
    screenshot(browser, "playground")
    assert env.mock.calls == calls  # a dry run calls no provider

    bad = '{"strategy": {"mode": "loadbalance"}, "targets": [{"provider": "openai", "weight": 0}]}'
    status, api_error = env.chat("x", **{"x-portkey-config": bad})
    assert status == 400
    textarea = browser.find_element("id", "pg-config")
    textarea.send_keys(bad)
    browser.find_element("id", "pg-validate").click()
    message = api_error["error"]["message"]
    script = "document.getElementById('pg-status').textContent.includes(arguments[0])"
    wait(browser, script, 5.0, message)
    assert "invalid_config" in browser.find_element("id", "pg-status").text
    screenshot(browser, "playground-error")


def test_try_it_streams_through_the_gateway_and_shows_snippets(browser: Any, env: Env) -> None:
    browser.get(f"{env.url}/console/#try")
    wait(browser, "!document.getElementById('view-try').hidden")
    provider = browser.find_element("id", "try-provider")
    provider.send_keys("@mock")
    key = browser.find_element("id", "try-key")
    key.send_keys(PROVIDER_KEY)  # typed, sent in a header, never written into the DOM
    message = browser.find_element("id", "try-message")
    message.clear()
    message.send_keys("streamed hello")
    browser.find_element("id", "try-send").click()
    wait(browser, "document.getElementById('try-output').textContent.includes('echo: streamed')")
    wait(browser, "document.getElementById('try-status').textContent.startsWith('200')")
    snippet = browser.find_element("id", "snippet").text
    assert '"model":"@mock/gpt-4o-mini"' in snippet and "$PROVIDER_API_KEY" in snippet
    browser.find_element("css selector", "#snip-tabs [data-lang=python]").click()
    assert "from openai import OpenAI" in browser.find_element("id", "snippet").text
    assert PROVIDER_KEY not in browser.page_source
    screenshot(browser, "try")
    assert env.mock.requests[-1]["json"]["stream"] is True


def test_markup_never_runs_secrets_never_show_and_nothing_leaves_the_origin(
    browser: Any, env: Env
) -> None:
    open_console(browser, env)
    hostile = (
        "<img src=x onerror=\"window.__pwned=1;document.title='pwned'\">"
        "<script>window.__pwned=2</script>"
    )
    body_secret = "sk-proj-" + "A" * 40
    status, _ = env.chat(
        f"{hostile} and my key {body_secret} and mail bob@example.com",
        model="<b>bold-model</b>",
        **{"x-portkey-trace-id": "<i>trace</i>", "x-portkey-api-key": PROVIDER_KEY},
    )
    assert status == 200
    wait(browser, "document.querySelectorAll('#rows tr[data-id]').length === 1", 1.0)
    browser.find_element("css selector", "#rows tr[data-id]").click()
    wait(browser, "document.getElementById('detail-request').textContent.includes('img src=x')")
    assert browser.execute_script("return window.__pwned") is None
    assert browser.title == "Gateway console"
    markup = "#main img, #main script, #main b, #main i"
    assert (
        browser.execute_script("return document.querySelectorAll(arguments[0]).length", markup) == 0
    )
    dom = browser.page_source + browser.execute_script("return document.body.innerText")
    for secret in (PROVIDER_KEY, body_secret, SETTINGS_KEY, "bob@example.com"):
        assert secret not in dom
    assert "[REDACTED_OPENAI_KEY]" in dom and "[REDACTED_EMAIL]" in dom
    assert "<b>bold-model</b>" in browser.execute_script("return document.body.innerText")
    urls = requested_urls(browser)
    assert urls and all(u.startswith(env.url + "/") for u in urls), urls
    assert not any(u.endswith("/x") for u in urls)  # the <img src=x> was never loaded
    csp = [e for e in browser.get_log("browser") if "Content Security Policy" in e["message"]]
    assert csp == []  # the page itself needs nothing the policy forbids


def test_the_page_asks_for_the_admin_key_once(browser: Any, make_env: Any) -> None:
    env = make_env(admin={"keys": [ADMIN_KEY]})
    browser.get(f"{env.url}/console/")
    wait(browser, "!document.getElementById('login').hidden")
    screenshot(browser, "login")
    browser.find_element("id", "login-key").send_keys(ADMIN_KEY)
    browser.find_element("css selector", "#login-form button").click()
    wait(browser, "document.getElementById('live-state').textContent === 'live'")
    env.chat("after login", **{"x-portkey-trace-id": "trace-admin"})
    wait_row(browser, "trace-admin", 1.0)
    assert ADMIN_KEY not in browser.page_source
    browser.refresh()  # kept for the tab: not asked again
    wait(browser, "document.getElementById('live-state').textContent === 'live'")
    assert browser.execute_script("return document.getElementById('login').hidden")


def test_readable_in_a_narrow_window(browser: Any, env: Env) -> None:
    env.chat("narrow")
    browser.set_window_size(420, 900)
    open_console(browser, env)
    wait(browser, "document.querySelectorAll('#rows tr[data-id]').length === 1")
    for tab in ("live", "health", "playground", "try"):
        browser.execute_script(f"document.getElementById('tab-{tab}').click()")
        overflow = browser.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 1, f"{tab}: the page scrolls sideways by {overflow}px"
    browser.execute_script("document.getElementById('tab-live').click()")
    screenshot(browser, "narrow")
