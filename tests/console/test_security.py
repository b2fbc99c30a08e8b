"""The console is a new door into a gateway that holds keys: each control, attacked."""

from __future__ import annotations

import asyncio
import http.client
import json
from typing import Any

import aiohttp
import pytest

from proxy.console.routes import CSP
from tests.conftest import PROVIDER_KEY, GatewayFactory
from tests.console.conftest import ADMIN_KEY, GATEWAY_KEY, SETTINGS_KEY, Env, get


def test_off_unless_settings_turn_it_on(gateway: Any) -> None:
    for path in ("/console", "/console/", "/console/api/info", "/console/static/console.js"):
        assert get(gateway.url + path, {"x-gateway-console": "1"})[0] == 404, path


def test_admin_keys_guard_every_api_route_and_a_gateway_key_never_opens_it(
    make_env: Any,
) -> None:
    auth = {"class": "middleware.auth:AuthMiddleware", "options": {"keys": [GATEWAY_KEY]}}
    env = make_env(admin={"keys": [ADMIN_KEY]})
    routes = ["/console/api/info", "/console/api/requests", "/console/api/health",
              "/console/api/configs", "/console/api/requests/x", "/console/api/live"]  # fmt: skip
    for path in routes:
        assert env.api(path)[0] == 401, path
        assert env.api(path, **{"x-portkey-admin-key": GATEWAY_KEY})[0] == 401, path
        assert env.api(path, **{"x-portkey-api-key": GATEWAY_KEY})[0] == 401, path
        assert env.api(path, authorization=f"Bearer {GATEWAY_KEY}")[0] == 401, path
    for path in ("/console/api/validate", "/console/api/dryrun"):
        assert env.api(path, {"config": "fallback-lb"})[0] == 401
    assert env.api("/console/api/info", **{"x-portkey-admin-key": ADMIN_KEY})[0] == 200
    assert env.api("/console/api/info", authorization=f"Bearer {ADMIN_KEY}")[0] == 200
    # the page itself is code without data: served, and it asks for the key
    status, page = get(env.url + "/console/", {})
    assert status == 200 and "Admin key" in page
    # with gateway auth on too, a gateway key still does not open the console
    env2 = make_env(admin={"keys": [ADMIN_KEY]}, middleware=[auth])
    assert env2.api("/console/api/info", **{"x-portkey-api-key": GATEWAY_KEY})[0] == 401


def test_a_page_elsewhere_cannot_drive_the_api(env: Env) -> None:
    """CSRF: a custom header (needs a CORS preflight, never granted), Origin, Fetch
    Metadata, and JSON-only bodies."""
    assert get(env.url + "/console/api/requests", {})[0] == 403
    bad = [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ]
    for headers in bad:
        status, body = env.api("/console/api/requests", **headers)
        assert status == 403 and body["error"]["code"] == "console_origin", headers
        assert env.api("/console/api/dryrun", {"config": "fallback-lb"}, **headers)[0] == 403
    assert env.api("/console/api/requests", Origin=env.url)[0] == 200
    assert env.api("/console/api/requests", **{"Sec-Fetch-Site": "same-origin"})[0] == 200
    form = b"config=fallback-lb"
    status, body = env.api("/console/api/dryrun", form, **{"content-type": "text/plain"})
    assert status == 400 and body["error"]["code"] == "invalid_content_type"
    # no CORS grant: a preflight is answered without Access-Control-Allow-*
    conn = http.client.HTTPConnection("127.0.0.1", env.gateway.port, timeout=5)
    conn.request("OPTIONS", "/console/api/requests", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "x-gateway-console"})  # fmt: skip
    resp = conn.getresponse()
    resp.read()
    assert not any(h.lower().startswith("access-control-allow") for h, _ in resp.getheaders())


def test_without_admin_keys_only_loopback_names_are_served(env: Env) -> None:
    """DNS rebinding: evil.example resolving to 127.0.0.1 still sends Host: evil.example."""
    for host in ("evil.example", "evil.example:8787", "10.0.0.5", "127.0.0.1.nip.io"):
        for path in ("/console/", "/console/api/requests"):
            status, body = env.api(path, Host=host)
            assert status == 403 and body["error"]["code"] == "console_local_only", (host, path)
    for host in (f"localhost:{env.gateway.port}", f"127.0.0.1:{env.gateway.port}", "[::1]"):
        assert env.api("/console/api/requests", Host=host)[0] == 200, host


def test_with_admin_keys_other_hosts_may_open_it(make_env: Any) -> None:
    env = make_env(admin={"keys": [ADMIN_KEY]})
    h = {"Host": "gateway.internal", "x-portkey-admin-key": ADMIN_KEY}
    assert env.api("/console/api/requests", **h)[0] == 200


def test_every_answer_carries_the_csp_and_no_cache(env: Env) -> None:
    for path in ("/console/", "/console/static/console.js", "/console/api/info"):
        with aiohttp_get(env.url + path) as (status, headers):
            assert status == 200
            assert headers["Content-Security-Policy"] == CSP
            assert "default-src 'self'" in CSP and "frame-ancestors 'none'" in CSP
            assert headers["X-Content-Type-Options"] == "nosniff"
            assert headers["X-Frame-Options"] == "DENY"
            assert headers["Cache-Control"] == "no-store"
    page = get(env.url + "/console/", {})[1]
    assert "http://" not in page and "https://" not in page  # nothing to fetch elsewhere
    js = get(env.url + "/console/static/console.js", {})[1]
    assert ".innerHTML" not in js and "eval(" not in js and "new Function" not in js


class aiohttp_get:
    def __init__(self, url: str) -> None:
        self.url = url

    def __enter__(self) -> tuple[int, Any]:
        conn = http.client.HTTPConnection(self.url.split("//")[1].split("/")[0], timeout=5)
        path = "/" + self.url.split("//")[1].split("/", 1)[1]
        conn.request("GET", path, headers={"x-gateway-console": "1"})
        resp = conn.getresponse()
        resp.read()
        self.conn = conn
        return resp.status, resp.headers

    def __exit__(self, *exc: object) -> None:
        self.conn.close()


def test_credentials_in_headers_never_enter_the_ring(env: Env) -> None:
    env.chat("hi", **{"x-portkey-api-key": PROVIDER_KEY, "x-portkey-admin-key": ADMIN_KEY})
    env.chat("@slug", model="@mock/gpt-4o-mini")  # the settings key goes upstream
    rows = env.api("/console/api/requests")[1]["rows"]
    dump = json.dumps([env.api(f"/console/api/requests/{r['id']}")[1] for r in rows])
    for secret in (PROVIDER_KEY, ADMIN_KEY, SETTINGS_KEY):
        assert secret not in dump


def test_bodies_are_off_by_default_then_masked_and_cut(make_env: Any) -> None:
    env = make_env(console={"capture_bodies": False})
    env.chat("my card 4111 1111 1111 1111")
    (row,) = env.api("/console/api/requests")[1]["rows"]
    d = env.api(f"/console/api/requests/{row['id']}")[1]
    assert d["bodies"] == "off" and d["request_body"] is None and d["answer_body"] is None

    env = make_env(console={"capture_bodies": True, "body_limit": 300})
    secret = "sk-ant-api03-" + "B" * 40
    escaped = "\\u0073k-proj-" + "C" * 40  # a key hidden behind a JSON escape
    text = f"ssn 078-05-1120, card 4111 1111 1111 1111, {escaped} and {secret} " + "x" * 2000
    raw = json.dumps({"model": "gpt-4o-mini",
                      "messages": [{"role": "user", "content": "PLACEHOLDER"}]})  # fmt: skip
    raw = raw.replace("PLACEHOLDER", text)
    from tests.console.conftest import post

    post(env.url + "/v1/chat/completions", raw.encode(), {
        "x-portkey-provider": "openai", "x-portkey-custom-host": env.upstream.url + "/v1",
        "authorization": f"Bearer {PROVIDER_KEY}"})  # fmt: skip
    (row,) = env.api("/console/api/requests")[1]["rows"]
    d = env.api(f"/console/api/requests/{row['id']}")[1]
    req = d["request_body"]
    assert d["bodies"] == "captured"
    for leaked in (secret, "sk-proj-" + "C" * 40, "4111 1111 1111 1111", "078-05-1120"):
        assert leaked not in req and leaked not in d["answer_body"]
    assert "[REDACTED_CREDIT_CARD]" in req and "[REDACTED_SSN]" in req
    assert req.count("[REDACTED_OPENAI_KEY]") == 1 and "[REDACTED_ANTHROPIC_KEY]" in req
    assert len(req) < 300 + 40 and "[cut:" in req


def test_the_ring_is_bounded(make_env: Any) -> None:
    env = make_env(console={"ring_size": 3})
    for i in range(7):
        env.chat(f"n{i}")
    info = env.api("/console/api/info")[1]
    assert info["held"] == 3 and info["recorded"] == 7 and info["ring_size"] == 3
    rows = env.api("/console/api/requests?limit=1000")[1]["rows"]
    assert [r["seq"] for r in rows] == [7, 6, 5]


def test_client_chosen_strings_are_cut(env: Env) -> None:
    env.chat("x", model="m" * 5000, **{"x-portkey-trace-id": "t" * 5000})
    (row,) = env.api("/console/api/requests")[1]["rows"]
    assert len(row["model"]) <= 201 and len(row["trace_id"]) <= 201


async def test_live_viewers_are_bounded_and_a_slow_one_only_skips(make_env: Any) -> None:
    env = make_env(console={"max_viewers": 1, "ring_size": 5})
    h = {"x-gateway-console": "1"}
    async with aiohttp.ClientSession() as s, s.get(env.url + "/console/api/live", headers=h) as a:
        assert a.status == 200
        async with s.get(env.url + "/console/api/live", headers=h) as b:
            assert b.status == 503 and (await b.json())["error"]["code"] == "console_busy"
        await a.content.readuntil(b"\n\n")  # hello
        await a.content.readuntil(b"\n\n")  # backlog
        # the viewer reads nothing while 40 requests pass through a ring of 5
        for i in range(40):
            await asyncio.to_thread(env.chat, f"n{i}")
        frames = []
        while True:
            line = await asyncio.wait_for(a.content.readuntil(b"\n\n"), 2.0)
            frames.append(json.loads(line.split(b"data: ", 1)[1]))
            if frames[-1]["rows"] and frames[-1]["rows"][-1]["seq"] == 40:
                break
        assert sum(len(f["rows"]) for f in frames) + sum(f["skipped"] for f in frames) == 40
        assert sum(len(f["rows"]) for f in frames) <= 40
    for _ in range(100):  # the slot is free again once the viewer left
        if (await asyncio.to_thread(env.api, "/console/api/info"))[1]["viewers"] == 0:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the viewer's slot was not released")


@pytest.mark.parametrize("body", [b"[1,2]", b"{bad", b"x" * (300 * 1024)])
def test_playground_bodies_are_checked(env: Env, body: bytes) -> None:
    status, error = env.api("/console/api/dryrun", body)
    assert status == 400 and error["error"]["code"] in ("invalid_json", "body_too_large")


def test_shutdown_ends_live_feeds_at_once(make_gateway: GatewayFactory, env: Env) -> None:
    import threading
    import time
    import urllib.request

    url = env.url + "/console/api/live"
    req = urllib.request.Request(url, headers={"x-gateway-console": "1"})  # noqa: S310
    resp = urllib.request.urlopen(req, timeout=10)  # noqa: S310 - loopback http
    done = threading.Event()

    def drain() -> None:
        try:
            while resp.read(1024):
                pass
        except Exception:  # noqa: S110 - the server closing is the point
            pass
        done.set()

    threading.Thread(target=drain, daemon=True).start()
    t0 = time.monotonic()
    env.gateway.stop()
    assert time.monotonic() - t0 < 5 and done.wait(5)
    env.gateway.stop = lambda: None  # type: ignore[method-assign]  # already stopped
