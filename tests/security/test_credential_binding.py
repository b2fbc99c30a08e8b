"""Threat: a client sends the gateway's own provider keys to a host it chooses.

Every way a settings credential can be selected (a slug in the model, a virtual key in an
inline config, a settings config id, the default config) is combined with every way a client
can move the destination (custom host header or config field, Azure resource name), on every
endpoint, streamed or not. Each is the attacker's request; the attacker's sink must stay
silent and the answer must be a 403 ``permission_error``.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

SETTINGS_KEY = "sk-settings-key-0003"
AZURE_KEY = "sk-settings-azure-0004"
MSG = [{"role": "user", "content": "hi"}]


def settings(legit: str, default_config: dict[str, Any] | None = None) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "providers": {
            "prod": {"provider": "openai", "api_key": SETTINGS_KEY, "custom_host": legit + "/v1"},
            "plain": {"provider": "openai", "api_key": SETTINGS_KEY},
            "azure": {"provider": "azure-openai", "api_key": AZURE_KEY, "resource_name": "ours"},
        },
        "configs": {"ops": {"virtual_key": "plain"}, "ops-az": {"virtual_key": "azure"}},
    }
    if default_config is not None:
        raw["default_config"] = default_config
    return raw


def send(gw: Any, path: str, headers: dict[str, str], body: dict[str, Any]) -> httpx.Response:
    return httpx.post(gw.url + path, headers=headers, json=body, timeout=10)


def body_for(path: str, model: str, stream: bool) -> dict[str, Any]:
    if path == "/v1/embeddings":
        return {"model": model, "input": "hi"}
    if path.startswith("/v1/messages"):
        return {"model": model, "messages": MSG, "stream": stream, "max_tokens": 8}
    return {"model": model, "messages": MSG, "stream": stream}


ENDPOINTS = [
    ("/v1/chat/completions", False),
    ("/v1/chat/completions", True),
    ("/v1/embeddings", False),
    ("/v1/messages", False),
    ("/v1/messages", True),
    ("/v1/messages/count_tokens", False),
]


def vectors(sink_url: str) -> list[tuple[str, str, dict[str, str], dict[str, Any] | None]]:
    """(name, model, headers, default_config) of each way to combine the two."""
    host = {"x-portkey-custom-host": sink_url + "/v1"}
    return [
        ("slug+header-host", "@plain/gpt-4o", host, None),
        ("slug-with-host+header-host", "@prod/gpt-4o", host, None),
        ("settings-config-id+header-host", "gpt-4o", {**host, "x-portkey-config": "ops"}, None),
        ("default-config+header-host", "gpt-4o", host, {"virtual_key": "plain"}),
        (
            "inline-virtual-key+header-host",
            "gpt-4o",
            {**host, "x-portkey-config": json.dumps({"virtual_key": "plain"})},
            None,
        ),
        (
            "inline-virtual-key+config-host",
            "gpt-4o",
            {"x-portkey-config": json.dumps({"virtual_key": "plain", "custom_host": sink_url})},
            None,
        ),
        (
            "inline-nested-override-model+parent-host",
            "gpt-4o",
            {
                "x-portkey-config": json.dumps(
                    {
                        "custom_host": sink_url + "/v1",
                        "targets": [{"override_params": {"model": "@plain/gpt-4o"}}],
                    }
                )
            },
            None,
        ),
        (
            "fallback-second-target",
            "gpt-4o",
            {
                **host,
                "x-portkey-config": json.dumps(
                    {
                        "strategy": {"mode": "fallback"},
                        "targets": [
                            {
                                "provider": "openai",
                                "api_key": "sk-client",
                                "custom_host": "http://127.0.0.1:9/v1",
                            },
                            {"virtual_key": "plain"},
                        ],
                    }
                ),
            },
            None,
        ),
        ("azure-slug+header-host", "@azure/gpt-4o", host, None),
        ("azure-config-id+header-host", "gpt-4o", {**host, "x-portkey-config": "ops-az"}, None),
    ]


@pytest.mark.parametrize(("path", "stream"), ENDPOINTS)
def test_settings_credentials_never_reach_a_client_chosen_host(
    make_gateway, mock_openai, sink, path, stream
) -> None:
    mock, legit = mock_openai
    attacker, sink_server = sink
    for name, model, headers, default_config in vectors(sink_server.url):
        if name == "fallback-second-target" and path == "/v1/embeddings":
            continue  # embeddings take the first target only: nothing to fall back to
        if name == "fallback-second-target" and path.endswith("/count_tokens"):
            continue  # the first target (openai) is counted by the gateway: no fallback
        gw = make_gateway(settings(legit.url, default_config))
        r = send(gw, path, headers, body_for(path, model, stream))
        assert r.status_code == 403, (name, r.status_code, r.text)
        err = r.json()["error"]
        assert err["type"] == "permission_error", name
        assert SETTINGS_KEY not in r.text and AZURE_KEY not in r.text
    assert attacker.hits == [], [h["path"] for h in attacker.hits]
    assert mock.calls == 0


def test_azure_resource_name_from_client_cannot_move_a_settings_key(make_gateway, mock_openai):
    _, legit = mock_openai
    gw = make_gateway(settings(legit.url))
    for model, headers in (
        ("@azure/gpt-4o", {"x-portkey-azure-resource-name": "attacker"}),
        (
            "gpt-4o",
            {"x-portkey-config": json.dumps({"virtual_key": "azure", "resource_name": "attacker"})},
        ),
        ("gpt-4o", {"x-portkey-config": "ops-az", "x-portkey-azure-resource-name": "attacker"}),
    ):
        r = send(gw, "/v1/chat/completions", headers, body_for("", model, False))
        assert r.status_code == 403, (headers, r.text)
        assert r.json()["error"]["code"] == "credential_binding"


@pytest.mark.parametrize("field", ["openai-organization", "openai-project"])
def test_client_cannot_rescope_a_settings_key(make_gateway, mock_openai, field) -> None:
    """Picking the organization or project bills another account with the company's key."""
    mock, legit = mock_openai
    gw = make_gateway(settings(legit.url))
    for headers in (
        {f"x-portkey-{field}": "org-attacker"},
        {field: "org-attacker", "x-portkey-forward-headers": field},
    ):
        r = send(gw, "/v1/chat/completions", headers, body_for("", "@prod/gpt-4o", False))
        if r.status_code == 200:  # forwarded headers that could rescope are dropped instead
            assert all(field not in {k.lower() for k in x["headers"]} for x in mock.requests)
        else:
            assert r.status_code == 403, r.text
            assert r.json()["error"]["code"] == "credential_binding"


def test_gateway_credentials_still_go_where_settings_send_them(make_gateway, mock_openai):
    mock, legit = mock_openai
    gw = make_gateway(settings(legit.url))
    headers = {"x-portkey-request-timeout": "5000", "x-portkey-trace-id": "t-1"}
    r = send(gw, "/v1/chat/completions", headers, body_for("", "@prod/gpt-4o", False))
    assert r.status_code == 200, r.text
    assert mock.requests[-1]["headers"]["Authorization"] == f"Bearer {SETTINGS_KEY}"


def test_client_key_may_go_to_a_client_host(make_gateway, mock_openai) -> None:
    """The other half of the rule: the client's own key goes where the client says."""
    mock, legit = mock_openai
    gw = make_gateway(settings(legit.url))
    headers = {
        "x-portkey-provider": "openai",
        "x-portkey-custom-host": legit.url + "/v1",
        "authorization": "Bearer sk-test-provider-key-0001",
    }
    r = send(gw, "/v1/chat/completions", headers, body_for("", "gpt-4o", False))
    assert r.status_code == 200, r.text
    assert mock.requests[-1]["headers"]["Authorization"] == "Bearer sk-test-provider-key-0001"


def test_client_host_outside_the_allowlist_is_refused(make_gateway, sink) -> None:
    attacker, sink_server = sink
    gw = make_gateway({"custom_hosts": {"allow": ["api.internal.example"]}})
    headers = {
        "x-portkey-provider": "openai",
        "x-portkey-custom-host": sink_server.url + "/v1",
        "authorization": "Bearer sk-test-provider-key-0001",
    }
    for path, stream in ENDPOINTS:
        r = send(gw, path, headers, body_for(path, "gpt-4o", stream))
        assert r.status_code == 403, r.text
    assert attacker.hits == []


def test_unauthenticated_caller_learns_nothing_about_configs(make_gateway) -> None:
    """Auth runs before a config id is looked up: 401, never ``unknown_config``."""
    gw = make_gateway(
        {
            "middleware": [
                {"class": "middleware.auth:AuthMiddleware", "options": {"keys": ["k1"]}},
                {"class": "middleware.router:RouterMiddleware"},
            ],
            "configs": {"ops": {"provider": "openai"}},
        }
    )
    for config in ("ops", "no-such-config", '{"bad json'):
        r = send(gw, "/v1/chat/completions", {"x-portkey-config": config}, body_for("", "m", False))
        assert r.status_code == 401, (config, r.text)
        assert r.json()["error"]["type"] == "authentication_error"
