"""Threat: a client uses the gateway to reach what only the gateway's network can reach.

Cloud metadata services (instance credentials) and link-local addresses are never called,
whether the client names them by IP or by a name that resolves there; an allowlist keeps
client-chosen hosts to what the operator listed.
"""

from __future__ import annotations

import httpx
import pytest

KEY = "sk-test-provider-key-0001"


def post(gw, host: str, path: str = "/v1/chat/completions") -> httpx.Response:
    headers = {
        "x-portkey-provider": "openai",
        "x-portkey-custom-host": host,
        "authorization": f"Bearer {KEY}",
    }
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "input": "x"}
    return httpx.post(gw.url + path, headers=headers, json=body, timeout=10)


@pytest.mark.parametrize(
    "host",
    [
        "http://169.254.169.254/latest",
        "http://[fd00:ec2::254]/v1",
        "http://[::ffff:169.254.169.254]/v1",
        "http://100.100.100.200/v1",
        "http://0.0.0.0:80/v1",
    ],
)
@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/embeddings"])
def test_metadata_addresses_are_never_called(make_gateway, host, path) -> None:
    gw = make_gateway()  # the open default: any host but these
    r = post(gw, host, path)
    assert r.status_code == 403, r.text
    assert r.json()["error"]["code"] == "custom_host_forbidden"


def test_a_name_that_resolves_into_a_denied_network_is_refused(make_gateway, sink) -> None:
    """DNS decides late: the resolver drops denied addresses, so rebinding gains nothing."""
    attacker, server = sink
    gw = make_gateway({"custom_hosts": {"deny": ["127.0.0.0/8", "::1/128"]}})
    r = post(gw, f"http://localhost:{server.port}/v1")
    assert r.status_code == 502, r.text
    assert r.json()["error"]["code"] == "upstream_unreachable"
    assert attacker.hits == []


def test_allowlist_keeps_clients_to_listed_hosts(make_gateway, sink) -> None:
    attacker, server = sink
    gw = make_gateway({"custom_hosts": {"allow": ["api.internal.example", "*.corp.example"]}})
    for host in (server.url + "/v1", "http://10.0.0.5/v1", "http://evil.corp.example.com/v1"):
        r = post(gw, host)
        assert r.status_code == 403, (host, r.text)
    assert attacker.hits == []


def test_bad_deny_entry_fails_at_start_up(make_gateway) -> None:
    from proxy.pipeline import SettingsError

    with pytest.raises(SettingsError, match=r"custom_hosts\.deny"):
        make_gateway({"custom_hosts": {"deny": ["not-a-network"]}})


def _webhook_config(url: str) -> str:
    import json

    guard = {"checks": [{"id": "default.webhook", "parameters": {"webhookURL": url}}]}
    return json.dumps({"input_guardrails": [guard]})


@pytest.mark.parametrize("allow", [[], ["api.internal.example"]])
def test_a_client_webhook_obeys_the_egress_policy(make_gateway, mock_openai, sink, allow):
    """A client's guardrail webhook is a URL the gateway calls for it: same policy as hosts."""
    _, upstream = mock_openai
    attacker, server = sink
    gw = make_gateway({"custom_hosts": {"allow": allow}})
    targets = ["http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/hook"]
    if allow:
        targets.append(server.url + "/hook")  # not listed: refused before any call
    for url in targets:
        headers = {
            "x-portkey-provider": "openai",
            "x-portkey-custom-host": upstream.url + "/v1",
            "authorization": f"Bearer {KEY}",
            "x-portkey-config": _webhook_config(url),
        }
        body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
        r = httpx.post(gw.url + "/v1/chat/completions", headers=headers, json=body, timeout=10)
        assert r.status_code == 403, (url, r.text)
    assert attacker.hits == []
