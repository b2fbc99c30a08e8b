"""Gateway API keys: off by default; when on, no valid key means 401."""

from __future__ import annotations

import hashlib
import urllib.request

import openai
import pytest

from tests.conftest import PROVIDER_KEY

GW_KEY = "gw-test-key-0002"
MSG = [{"role": "user", "content": "hi"}]


def auth_settings(upstream_url: str, keys: list) -> dict:
    return {
        "middleware": [
            {"class": "middleware.auth:AuthMiddleware", "options": {"keys": keys}},
            {"class": "middleware.logging:LoggingMiddleware"},
            {"class": "middleware.router:RouterMiddleware"},
        ],
        "providers": {
            "main": {
                "provider": "openai",
                "api_key": "sk-settings-key-0003",
                "custom_host": upstream_url + "/v1",
                "models": ["gpt-4o"],
            }
        },
    }


@pytest.mark.parametrize("form", ["plain", "sha256", "named"])
def test_gateway_key_forms(make_gateway, mock_openai, form, logs) -> None:
    mock, upstream = mock_openai
    key = {
        "plain": GW_KEY,
        "sha256": "sha256:" + hashlib.sha256(GW_KEY.encode()).hexdigest(),
        "named": {"key": GW_KEY, "name": "team-a"},
    }[form]
    gw = make_gateway(auth_settings(upstream.url, [key]))
    # the openai SDK sends its api_key as Authorization: Bearer -> the gateway key
    client = openai.OpenAI(api_key=GW_KEY, base_url=gw.url + "/v1", max_retries=0)
    r = client.chat.completions.create(model="@main/gpt-4o", messages=MSG)
    assert r.choices[0].message.content == "echo: hi"
    # the gateway key never reaches the provider: the settings key does
    assert mock.requests[0]["headers"]["Authorization"] == "Bearer sk-settings-key-0003"
    line = next(x for x in logs() if x.get("event") == "request")
    assert line["principal"] == ("team-a" if form == "named" else "key0")


def test_missing_or_wrong_key_is_401(make_gateway, mock_openai) -> None:
    mock, upstream = mock_openai
    gw = make_gateway(auth_settings(upstream.url, [GW_KEY]))
    for key in ("", "wrong-key"):
        client = openai.OpenAI(api_key=key or "x", base_url=gw.url + "/v1", max_retries=0)
        if not key:
            client = client.with_options(default_headers={"Authorization": ""})
        with pytest.raises(openai.AuthenticationError) as info:
            client.chat.completions.create(model="@main/gpt-4o", messages=MSG)
        assert info.value.status_code == 401
        assert GW_KEY not in str(info.value.body)
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(api_key="wrong", base_url=gw.url + "/v1", max_retries=0).models.list()
    assert mock.calls == 0


def test_portkey_header_carries_gateway_key_and_bearer_the_provider_key(
    make_gateway, mock_openai
) -> None:
    mock, upstream = mock_openai
    gw = make_gateway(auth_settings(upstream.url, [GW_KEY]))
    client = openai.OpenAI(
        api_key=PROVIDER_KEY,
        base_url=gw.url + "/v1",
        max_retries=0,
        default_headers={
            "x-portkey-api-key": GW_KEY,
            "x-portkey-provider": "openai",
            "x-portkey-custom-host": upstream.url + "/v1",
        },
    )
    client.chat.completions.create(model="gpt-4o", messages=MSG)
    assert mock.requests[0]["headers"]["Authorization"] == f"Bearer {PROVIDER_KEY}"


def test_keys_from_environment(make_gateway, mock_openai, monkeypatch) -> None:
    _, upstream = mock_openai
    monkeypatch.setenv("GATEWAY_API_KEYS", f" {GW_KEY} ,other")
    gw = make_gateway(auth_settings(upstream.url, []))
    ok = openai.OpenAI(api_key=GW_KEY, base_url=gw.url + "/v1", max_retries=0)
    assert ok.chat.completions.create(model="@main/gpt-4o", messages=MSG).choices
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(
            api_key="nope", base_url=gw.url + "/v1", max_retries=0
        ).chat.completions.create(model="@main/gpt-4o", messages=MSG)


def test_refused_request_is_logged_and_counted_with_the_default_chain(
    make_gateway, monkeypatch, logs
) -> None:
    monkeypatch.setenv("GATEWAY_API_KEYS", GW_KEY)
    gw = make_gateway()  # the default chain: logging and observability outside auth
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(
            api_key="nope", base_url=gw.url + "/v1", max_retries=0
        ).chat.completions.create(model="gpt-4o", messages=MSG)
    lines = [x for x in logs() if x.get("event") == "request"]
    assert len(lines) == 1 and lines[0]["status"] == 401
    assert lines[0]["error_type"] == "authentication_error"
    with urllib.request.urlopen(gw.url + "/metrics") as r:  # noqa: S310 - loopback test server
        metrics = r.read().decode()
    assert 'status="401"' in metrics
