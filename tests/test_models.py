"""``GET /v1/models``: the provider's own list through the gateway, or the settings catalog.

Each mock's list route is proven with the provider's own SDK first (anthropic, google-genai,
boto3), then read through the gateway with the official openai SDK.
"""

from __future__ import annotations

import anthropic
import boto3
import httpx
import openai
from google import genai
from google.genai import types as gtypes

from tests.conftest import PROVIDER_KEY
from tests.providers.anthropic.mock import MockAnthropic
from tests.providers.bedrock.conftest import KEY_ID, REGION
from tests.providers.bedrock.mock import MockBedrock
from tests.providers.google.mock import MockGemini
from tests.servers import ServerThread


def via_gateway(gw: ServerThread, **headers: str) -> list[str]:
    client = openai.OpenAI(
        api_key=PROVIDER_KEY,
        base_url=gw.url + "/v1",
        default_headers={k.replace("_", "-"): v for k, v in headers.items()},
        max_retries=0,
    )
    return [m.id for m in client.models.list()]


def test_openai_compatible_list_is_relayed(gateway, mock_openai) -> None:
    mock, upstream = mock_openai
    assert [m.id for m in openai.OpenAI(api_key="k", base_url=upstream.url + "/v1").models.list()]
    ids = via_gateway(
        gateway, x_portkey_provider="openai", x_portkey_custom_host=upstream.url + "/v1"
    )
    assert ids == ["gpt-4o-mini", "o3"]
    assert mock.requests[-1]["headers"]["Authorization"] == f"Bearer {PROVIDER_KEY}"


def test_the_list_is_cached_briefly_per_credential(gateway, mock_openai) -> None:
    mock, upstream = mock_openai
    host = upstream.url + "/v1"
    for _ in range(3):
        via_gateway(gateway, x_portkey_provider="openai", x_portkey_custom_host=host)
    assert mock.calls == 1
    client = openai.OpenAI(
        api_key="sk-other-key",
        base_url=gateway.url + "/v1",
        default_headers={"x-portkey-provider": "openai", "x-portkey-custom-host": host},
    )
    list(client.models.list())
    assert mock.calls == 2  # another key, another entry: never one client's list for another


def test_anthropic_list_translated(gateway) -> None:
    mock = MockAnthropic()
    with ServerThread(mock.app) as upstream:
        sdk = anthropic.Anthropic(api_key=PROVIDER_KEY, base_url=upstream.url)
        assert next(m.id for m in sdk.models.list()) == "claude-opus-4-1-20250805"
        ids = via_gateway(
            gateway, x_portkey_provider="anthropic", x_portkey_custom_host=upstream.url + "/v1"
        )
    assert ids == ["claude-opus-4-1-20250805", "claude-sonnet-4-5-20250929"]


def test_gemini_list_translated(gateway) -> None:
    mock = MockGemini()
    with ServerThread(mock.app) as upstream:
        sdk = genai.Client(
            api_key=PROVIDER_KEY, http_options=gtypes.HttpOptions(base_url=upstream.url)
        )
        assert [m.name for m in sdk.models.list()] == [
            "models/gemini-2.5-flash",
            "models/gemini-2.5-pro",
        ]
        ids = via_gateway(gateway, x_portkey_provider="google", x_portkey_custom_host=upstream.url)
    assert ids == ["gemini-2.5-flash", "gemini-2.5-pro"]


def test_bedrock_list_translated_and_signed(gateway) -> None:
    mock = MockBedrock(keys={KEY_ID: (PROVIDER_KEY, None)})
    with ServerThread(mock.app) as upstream:
        sdk = boto3.client(
            "bedrock",
            endpoint_url=upstream.url,
            region_name=REGION,
            aws_access_key_id=KEY_ID,
            aws_secret_access_key=PROVIDER_KEY,
        )
        assert sdk.list_foundation_models()["modelSummaries"][0]["providerName"] == "Anthropic"
        ids = via_gateway(
            gateway,
            x_portkey_provider="bedrock",
            x_portkey_custom_host=upstream.url,
            x_portkey_aws_access_key_id=KEY_ID,
            x_portkey_aws_secret_access_key=PROVIDER_KEY,
            x_portkey_aws_region=REGION,
        )
    assert ids == ["anthropic.claude-3-haiku-20240307-v1:0", "amazon.titan-embed-text-v2:0"]


def test_without_a_provider_the_settings_catalog(make_gateway) -> None:
    gw = make_gateway({"providers": {"p": {"provider": "openai", "models": ["a", "b"]}}})
    r = httpx.get(gw.url + "/v1/models")
    assert r.status_code == 200
    assert [m["id"] for m in r.json()["data"]] == ["@p/a", "@p/b"]


def test_vertex_has_no_list_is_a_clear_400(gateway) -> None:
    r = httpx.get(
        gateway.url + "/v1/models",
        headers={"x-portkey-provider": "vertex-ai", "authorization": "Bearer t"},
    )
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "unsupported_endpoint"
