"""Keys held by the gateway (settings providers) never go to a host a client chose."""

from __future__ import annotations

import json

import openai
import pytest

SETTINGS_KEY = "sk-settings-key-0003"
MSG = [{"role": "user", "content": "hi"}]


def settings(upstream_url: str) -> dict:
    return {
        "providers": {
            "prod": {
                "provider": "openai",
                "api_key": SETTINGS_KEY,
                "custom_host": upstream_url + "/v1",
            },
            "azure": {"provider": "azure-openai", "api_key": SETTINGS_KEY, "resource_name": "ours"},
        },
        "configs": {
            # the operator may point its own config anywhere
            "ops": {"virtual_key": "prod", "custom_host": upstream_url + "/v1"},
        },
    }


def client(gw, config: object | None = None) -> openai.OpenAI:
    headers = {}
    if config is not None:
        headers["x-portkey-config"] = config if isinstance(config, str) else json.dumps(config)
    return openai.OpenAI(
        api_key="unused", base_url=gw.url + "/v1", default_headers=headers, max_retries=0
    )


@pytest.mark.parametrize(
    "config",
    [
        {"virtual_key": "prod", "custom_host": "http://127.0.0.1:9/v1"},
        {"targets": [{"virtual_key": "prod"}], "custom_host": "http://127.0.0.1:9/v1"},
        {
            "override_params": {"model": "@prod/gpt-4o"},
            "custom_host": "http://127.0.0.1:9/v1",
        },
        {"virtual_key": "azure", "resource_name": "attacker"},
    ],
)
def test_inline_config_cannot_redirect_gateway_credentials(
    make_gateway, mock_openai, config
) -> None:
    mock, upstream = mock_openai
    gw = make_gateway(settings(upstream.url))
    with pytest.raises(openai.PermissionDeniedError) as info:
        client(gw, config).chat.completions.create(model="gpt-4o", messages=MSG)
    assert info.value.body["code"] == "credential_binding"
    assert SETTINGS_KEY not in str(info.value.body)
    assert mock.calls == 0


def test_gateway_credentials_still_work_where_they_belong(make_gateway, mock_openai) -> None:
    mock, upstream = mock_openai
    gw = make_gateway(settings(upstream.url))
    for config in ({"virtual_key": "prod"}, "ops"):
        r = client(gw, config).chat.completions.create(model="gpt-4o", messages=MSG)
        assert r.choices[0].message.content == "echo: hi"
    assert [x["headers"]["Authorization"] for x in mock.requests] == [f"Bearer {SETTINGS_KEY}"] * 2
