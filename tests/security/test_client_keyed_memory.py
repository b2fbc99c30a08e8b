"""State keyed by what a client names stays bounded: JWKS URLs, and the hosts of validUrls.

Before: the JWKS cache and its locks grew by one entry per distinct ``jwksUri``, forever;
``validUrls`` with ``onlyDNS`` ran one ``getaddrinfo`` per distinct host of the text, all at
once, on the thread pool the gateway's own connections resolve on.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest

from middleware.guardrails import GuardrailsMiddleware
from middleware.guardrails.checks.base import MAX_JWKS_URLS
from middleware.guardrails.checks.content import MAX_DNS_HOSTS
from middleware.guardrails.saferegex import CACHED_PATTERNS
from proxy.app import GATEWAY
from tests.conftest import PROVIDER_KEY, GatewayFactory
from tests.guardrails.upstreams import HookServer
from tests.mock_openai import MockOpenAI
from tests.servers import ServerThread

SETTINGS = {
    "middleware": [
        {"class": "middleware.guardrails:GuardrailsMiddleware"},
        {"class": "middleware.router:RouterMiddleware"},
    ]
}


@pytest.fixture
def servers() -> Iterator[tuple[ServerThread, HookServer, ServerThread]]:
    hooks = HookServer()
    with ServerThread(MockOpenAI().app) as up, ServerThread(hooks.app) as hook_server:
        yield up, hooks, hook_server


def guardrails(gw: ServerThread) -> GuardrailsMiddleware:
    assert gw.app is not None
    found = [m for m in gw.app[GATEWAY].middlewares if isinstance(m, GuardrailsMiddleware)]
    return found[0]


def post(client: httpx.Client, gw: ServerThread, up: ServerThread, text: str, **h: str) -> Any:
    headers = {
        "authorization": f"Bearer {PROVIDER_KEY}",
        "x-portkey-provider": "openai",
        "x-portkey-custom-host": up.url + "/v1",
        **{k.replace("_", "-"): v for k, v in h.items()},
    }
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]}
    return client.post(gw.url + "/v1/chat/completions", json=body, headers=headers)


def test_a_thousand_jwks_urls_leave_the_cache_at_its_bound(
    make_gateway: GatewayFactory, servers: Any
) -> None:
    gw = make_gateway(SETTINGS)
    up, hooks, hook_server = servers
    token = jwt.encode({"sub": "x"}, "k" * 32, algorithm="HS256", headers={"kid": "k1"})

    def jwks_guard(urls: list[str]) -> str:
        checks = [{"id": "jwt", "parameters": {"jwksUri": u, "headerKey": "x-t"}} for u in urls]
        return json.dumps({"input_guardrails": [{"checks": checks}]})

    urls = [f"{hook_server.url}/jwks?tenant={i}" for i in range(1000)]
    with httpx.Client(timeout=30) as client:
        for i in range(0, len(urls), 50):  # 50 checks a request: the header stays < 8 KB
            cfg = jwks_guard(urls[i : i + 50])
            r = post(client, gw, up, "hi", x_portkey_config=cfg, x_t=token)
            assert r.status_code == 246, r.text  # fetched, no such kid
        assert hooks.jwks_hits == 1000
        jwks = gw.call(lambda: guardrails(gw).env.jwks)
        assert gw.call(lambda: len(jwks)) == MAX_JWKS_URLS == 256
        # the most recent URL is still cached, the first one was evicted
        post(client, gw, up, "hi", x_portkey_config=jwks_guard(urls[-1:]), x_t=token)
        assert hooks.jwks_hits == 1000
        post(client, gw, up, "hi", x_portkey_config=jwks_guard(urls[:1]), x_t=token)
        assert hooks.jwks_hits == 1001


def test_a_thousand_regex_rules_leave_the_pattern_cache_at_its_bound(
    make_gateway: GatewayFactory, servers: Any
) -> None:
    gw = make_gateway(SETTINGS)
    up, _, _ = servers
    with httpx.Client(timeout=30) as client:
        for i in range(0, 1000, 100):  # 100 rules a request
            checks = [
                {"id": "regexMatch", "parameters": {"rule": f"x{j}y"}} for j in range(i, i + 100)
            ]
            cfg = json.dumps({"input_guardrails": [{"checks": checks}]})
            assert post(client, gw, up, "x5y", x_portkey_config=cfg).status_code == 246
    patterns = gw.call(lambda: guardrails(gw).env.patterns)
    assert gw.call(lambda: len(patterns)) == CACHED_PATTERNS == 256


def test_valid_urls_looks_up_at_most_its_cap_of_hosts(
    make_gateway: GatewayFactory, servers: Any
) -> None:
    gw = make_gateway(SETTINGS)
    up, _, _ = servers
    looked_up: list[str] = []
    in_flight = [0, 0]  # now, most at once
    loop = gw.loop
    real = loop.getaddrinfo

    async def counting(host: Any, *args: Any, **kw: Any) -> Any:
        if not str(host).endswith(".example.org"):
            return await real(host, *args, **kw)  # the gateway's own connections
        looked_up.append(str(host))
        in_flight[0] += 1
        in_flight[1] = max(in_flight)
        await asyncio.sleep(0.02)  # a resolver answering, without touching the network
        in_flight[0] -= 1
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("192.0.2.1", 0))]

    gw.call(lambda: setattr(loop, "getaddrinfo", counting))
    text = " ".join(f"https://h{i}.example.org/page" for i in range(500))
    cfg = json.dumps(
        {"input_guardrails": [{"checks": [{"id": "validUrls", "parameters": {"onlyDNS": True}}]}]}
    )
    with httpx.Client(timeout=30) as client:
        r = post(client, gw, up, text, x_portkey_config=cfg)
        check = r.json()["hook_results"]["before_request_hooks"][0]["checks"][0]
        assert len(looked_up) == MAX_DNS_HOSTS == 20
        assert in_flight[1] == 8  # the process-wide cap on lookups in flight
        # the hosts past the cap are not checked, and "not checked" does not pass
        assert r.status_code == 246 and check["verdict"] is False
        assert check["data"]["unchecked"] == 480
        assert "480 not checked" in check["data"]["explanation"]
        # answers are cached: the same text again resolves nothing new
        r = post(client, gw, up, text, x_portkey_config=cfg)
        assert len(looked_up) == 20
        few = " ".join(f"https://h{i}.example.org/" for i in range(5))
        r = post(client, gw, up, few, x_portkey_config=cfg)
        assert r.status_code == 200 and len(looked_up) == 20
