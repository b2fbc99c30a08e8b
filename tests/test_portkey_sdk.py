"""The official portkey-ai SDK works against the gateway unchanged (Portkey's contract)."""

from __future__ import annotations

from portkey_ai import AsyncPortkey, Portkey

from tests.conftest import PROVIDER_KEY

MSG = [{"role": "user", "content": "hello portkey"}]


def test_portkey_sdk_provider_and_key(gateway, mock_openai) -> None:
    mock, upstream = mock_openai
    client = Portkey(
        base_url=gateway.url + "/v1",
        provider="openai",
        Authorization=f"Bearer {PROVIDER_KEY}",
        custom_host=upstream.url + "/v1",
        trace_id="pk-trace-1",
        metadata={"team": "search"},
        max_retries=0,
    )
    r = client.chat.completions.create(model="gpt-4o-mini", messages=MSG)
    assert r.choices[0].message.content == "echo: hello portkey"
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=MSG, stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "echo: hello portkey"
    sent = mock.requests[0]
    assert sent["headers"]["Authorization"] == f"Bearer {PROVIDER_KEY}"
    assert sent["json"]["messages"] == MSG


def test_portkey_sdk_with_config(gateway, mock_openai) -> None:
    mock, upstream = mock_openai
    config = {
        "strategy": {"mode": "fallback"},
        "targets": [
            {
                "provider": "openai",
                "api_key": PROVIDER_KEY,
                "custom_host": upstream.url + "/v1",
                "override_params": {"model": "error-503"},
            },
            {"provider": "openai", "api_key": PROVIDER_KEY, "custom_host": upstream.url + "/v1"},
        ],
    }
    client = Portkey(base_url=gateway.url + "/v1", config=config, max_retries=0)
    r = client.chat.completions.create(model="gpt-4o-mini", messages=MSG)
    assert r.choices[0].message.content == "echo: hello portkey"
    headers = r.get_headers() or {}  # the SDK reads our x-portkey-* headers, prefix removed
    assert headers["last-used-option-index"] == "config.targets[1]"
    assert headers["provider"] == "openai" and headers["trace-id"]
    assert [r["json"]["model"] for r in mock.requests] == ["error-503", "gpt-4o-mini"]


async def test_async_portkey_sdk(gateway, mock_openai) -> None:
    _, upstream = mock_openai
    client = AsyncPortkey(
        base_url=gateway.url + "/v1",
        provider="openai",
        Authorization=f"Bearer {PROVIDER_KEY}",
        custom_host=upstream.url + "/v1",
        max_retries=0,
    )
    r = await client.chat.completions.create(model="gpt-4o-mini", messages=MSG)
    assert r.choices[0].message.content == "echo: hello portkey"
