"""Threat: the gateway's memo of bound targets (proxy/routing/resolve.py) lets a request ride
on a decision made for another one.

A target built from a client's headers (or an ``@slug`` under them) is kept once ``bind``
let it through, keyed by every header value that built it. The attacker's requests here
try to reuse a remembered target with another key, another host or a refused field: each
must be decided on its own (a refusal is never remembered), the sink must stay silent, and
the memo must stay bounded however many distinct keys a client sends.
"""

from __future__ import annotations

from typing import Any

import httpx

from proxy.errors import PermissionDenied
from proxy.gateway import Gateway
from proxy.routing.config import parse_config
from proxy.routing.resolve import (
    BOUND_TARGET_CHARS,
    BOUND_TARGETS,
    header_target,
    leaf_target,
    slug_target,
)
from proxy.settings import parse_settings
from tests.conftest import PROVIDER_KEY

SETTINGS_KEY = "sk-settings-key-memo-0001"
BODY = {"model": "@prod/gpt-4o", "messages": [{"role": "user", "content": "hi"}]}


def post(gw: Any, headers: dict[str, str], body: dict[str, Any] = BODY) -> httpx.Response:
    return httpx.post(gw.url + "/v1/chat/completions", headers=headers, json=body, timeout=10)


def test_a_remembered_slug_target_does_not_carry_its_key_to_a_client_host(
    make_gateway, mock_openai, sink
) -> None:
    mock, legit = mock_openai
    attacker, sink_server = sink
    gw = make_gateway(
        {"providers": {"prod": {"provider": "openai", "api_key": SETTINGS_KEY}}},
        {},
    )
    gw_host = {"x-portkey-custom-host": legit.url + "/v1"}
    # the legitimate request is refused too: a settings key never goes to a client's host
    assert post(gw, gw_host).status_code == 403
    steal = {"x-portkey-custom-host": sink_server.url + "/v1"}
    for _ in range(3):  # refused every time: nothing about the first refusal is kept
        r = post(gw, steal)
        assert r.status_code == 403, r.text
        assert r.json()["error"]["code"] == "credential_binding"
        assert SETTINGS_KEY not in r.text
    assert attacker.hits == []
    assert mock.calls == 0


def test_each_client_key_goes_out_as_its_own(make_gateway, mock_openai) -> None:
    """Two clients whose headers differ only in the key, alternating: the memo holds one
    target per key, and each request carries its own."""
    mock, legit = mock_openai
    gw = make_gateway()
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
    keys = ["sk-client-a-0000000001", "sk-client-b-0000000002"]
    for i in range(6):
        key = keys[i % 2]
        headers = {
            "x-portkey-provider": "openai",
            "x-portkey-custom-host": legit.url + "/v1",
            "authorization": f"Bearer {key}",
        }
        r = post(gw, headers, body)
        assert r.status_code == 200, r.text
        assert mock.requests[-1]["headers"]["Authorization"] == f"Bearer {key}"


def test_a_remembered_host_does_not_open_another(make_gateway, mock_openai) -> None:
    mock, legit = mock_openai
    gw = make_gateway({"custom_hosts": {"allow": ["127.0.0.1"], "deny": []}})
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
    ok = {
        "x-portkey-provider": "openai",
        "x-portkey-custom-host": legit.url + "/v1",
        "authorization": f"Bearer {PROVIDER_KEY}",
    }
    assert post(gw, ok, body).status_code == 200
    for host in ("http://localhost:9/v1", "http://169.254.169.254/v1", "ftp://127.0.0.1/v1"):
        r = post(gw, {**ok, "x-portkey-custom-host": host}, body)
        assert r.status_code in (400, 403), (host, r.text)
    assert mock.calls == 1


def test_the_memo_is_bounded_and_refusals_are_not_kept() -> None:
    gw = Gateway(
        parse_settings({"providers": {"prod": {"provider": "openai", "api_key": SETTINGS_KEY}}}, {})
    )
    for i in range(3 * BOUND_TARGETS):  # a client cycling keys
        header_target("openai", gw, {"api_key": f"sk-cycled-{i:08d}"})
        assert len(gw.bound_targets) <= BOUND_TARGETS
    gw.bound_targets.clear()
    for _ in range(2):
        try:
            slug_target("prod", gw, {"custom_host": "http://127.0.0.1:9/v1"})
        except PermissionDenied:
            pass
        else:
            raise AssertionError("a settings key went to a client's host")
    assert gw.bound_targets == {}
    # same headers, same (frozen) target: the second build is the remembered one
    first = slug_target("prod", gw, {})
    assert slug_target("prod", gw, {}) is first
    assert first.api_key == SETTINGS_KEY
    # forward_headers (a list) is not a key: such a target is built and bound each time
    fwd = {"forward_headers": ["x-trace"]}
    assert header_target("openai", gw, fwd) is not header_target("openai", gw, fwd)


def test_only_a_settings_config_target_is_remembered() -> None:
    """An inline config is parsed per request: a node's id may be the next request's, so
    its targets are never remembered (one remembered by id could be another's)."""
    gw = Gateway(
        parse_settings(
            {
                "providers": {"prod": {"provider": "openai", "api_key": SETTINGS_KEY}},
                "configs": {"ops": {"virtual_key": "prod"}},
            },
            {},
        )
    )
    ops = gw.configs["ops"]
    first = leaf_target([ops], gw, {}, inline=False)
    assert leaf_target([ops], gw, {}, inline=False) is first
    assert len(gw.bound_targets) == 1
    for host in ("http://127.0.0.1:9/v1", "http://127.0.0.1:10/v1"):
        inline = parse_config({"provider": "openai", "custom_host": host})
        target = leaf_target([inline], gw, {"api_key": "sk-client-key-0000001"}, inline=True)
        assert target.custom_host == host
    assert len(gw.bound_targets) == 1
    # a settings key under a client's host is refused every time, never remembered
    for _ in range(2):
        try:
            leaf_target([ops], gw, {"custom_host": "http://127.0.0.1:9/v1"}, inline=False)
        except PermissionDenied:
            pass
        else:
            raise AssertionError("a settings key went to a client's host")
    assert len(gw.bound_targets) == 1


def test_huge_header_values_are_not_remembered() -> None:
    """A dozen 8 KB header values (what aiohttp admits) a request, a thousand requests: a
    memo that kept them would hold ~130 MB of a client's text (and keys) per worker."""
    gw = Gateway(parse_settings({}, {}))
    big = {
        "api_key": "sk-" + "k" * 8000,
        "custom_host": "http://127.0.0.1:9/v1?" + "h" * 8000,
        "openai_project": "p" * 8000,
    }
    for i in range(50):
        target = header_target("openai", gw, {**big, "api_key": f"sk-{i:04d}" + "k" * 8000})
        assert target.api_key is not None and target.api_key.startswith(f"sk-{i:04d}")
    assert gw.bound_targets == {}
    small = {"api_key": "sk-" + "k" * 200, "custom_host": "http://127.0.0.1:9/v1"}
    header_target("openai", gw, small)
    assert len(gw.bound_targets) == 1
    total = sum(len(v) for k in gw.bound_targets for _, v in k[2:] if isinstance(v, str))
    assert total <= BOUND_TARGET_CHARS
