"""Images by URL for providers that need bytes: the gateway fetches them (Bedrock by
default; Gemini when settings ask) and the provider gets the exact bytes as inline data."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import PROVIDER_KEY, GatewayFactory
from tests.providers.bedrock.conftest import KEY_ID, REGION
from tests.providers.bedrock.mock import MockBedrock
from tests.providers.google.mock import MockGemini
from tests.security.images import JPEG, PNG, ImageHost, parts
from tests.servers import ServerThread

MODEL = "amazon.nova-pro-v1:0"
B64 = base64.b64encode(PNG).decode()


@pytest.fixture
def mock_bedrock() -> Iterator[tuple[MockBedrock, ServerThread]]:
    mock = MockBedrock(keys={KEY_ID: (PROVIDER_KEY, None)})
    with ServerThread(mock.app) as server:
        yield mock, server


@pytest.fixture
def images() -> Iterator[tuple[ImageHost, ServerThread]]:
    host = ImageHost()
    with ServerThread(host.app) as server:
        yield host, server


def bedrock(gw: Any, upstream: ServerThread) -> openai.OpenAI:
    headers = {
        "x-portkey-provider": "bedrock",
        "x-portkey-custom-host": upstream.url,
        "x-portkey-aws-access-key-id": KEY_ID,
        "x-portkey-aws-secret-access-key": PROVIDER_KEY,
        "x-portkey-aws-region": REGION,
    }
    return openai.OpenAI(
        api_key=PROVIDER_KEY, base_url=gw.url + "/v1", default_headers=headers, max_retries=0
    )


@pytest.mark.parametrize("stream", [False, True])
def test_bedrock_gets_the_image_bytes(
    make_gateway: GatewayFactory, mock_bedrock: tuple[MockBedrock, ServerThread], images, stream
) -> None:
    mock, upstream = mock_bedrock
    host, server = images
    content = parts([server.url + "/cat.png", server.url + "/photo.jpg", server.url + "/cat.png"])
    r = bedrock(make_gateway(), upstream).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": content}], stream=stream
    )
    text = (
        "".join(c.choices[0].delta.content or "" for c in r if c.choices)
        if stream
        else (
            r.choices[0].message.content  # type: ignore[union-attr]
        )
    )
    assert text == "echo: what is this? [3 image(s)]"
    blocks = mock.last["messages"][0]["content"]
    assert blocks[1] == {"image": {"format": "png", "source": {"bytes": B64}}}
    assert blocks[2] == {
        "image": {"format": "jpeg", "source": {"bytes": base64.b64encode(JPEG).decode()}}
    }
    assert blocks[3] == blocks[1]
    assert host.hits["cat.png"] == 1  # the same URL twice: fetched once


def test_the_messages_door_to_a_converse_model(
    make_gateway: GatewayFactory, mock_bedrock: tuple[MockBedrock, ServerThread], images
) -> None:
    """/v1/messages with an image URL source, translated to Converse: fetched too."""
    mock, upstream = mock_bedrock
    _, server = images
    gw = make_gateway()
    body = {
        "model": MODEL,
        "max_tokens": 16,
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "see"},
                    {"type": "image", "source": {"type": "url", "url": server.url + "/cat.png"}},
                ],
            }
        ],
    }
    headers = {
        "x-api-key": PROVIDER_KEY,
        "anthropic-version": "2023-06-01",
        "x-portkey-provider": "bedrock",
        "x-portkey-custom-host": upstream.url,
        "x-portkey-aws-access-key-id": KEY_ID,
        "x-portkey-aws-secret-access-key": PROVIDER_KEY,
    }
    r = httpx.post(gw.url + "/v1/messages", json=body, headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    assert mock.last["messages"][0]["content"][1]["image"]["source"]["bytes"] == B64


@pytest.fixture
def gemini_mock() -> Iterator[tuple[MockGemini, ServerThread]]:
    mock = MockGemini()
    with ServerThread(mock.app) as server:
        yield mock, server


@pytest.mark.parametrize("inline", [False, True])
def test_gemini_takes_the_url_unless_settings_ask_for_bytes(
    make_gateway: GatewayFactory, gemini_mock, images, inline: bool
) -> None:
    mock, upstream = gemini_mock
    host, server = images
    settings = {"image_fetch": {"providers": ["google", "vertex-ai"]}} if inline else {}
    client = openai.OpenAI(
        api_key=PROVIDER_KEY,
        base_url=make_gateway(settings).url + "/v1",
        default_headers={"x-portkey-provider": "google", "x-portkey-custom-host": upstream.url},
        max_retries=0,
    )
    url = server.url + "/cat.png"
    client.chat.completions.create(
        model="gemini-2.5-flash", messages=[{"role": "user", "content": parts([url])}]
    )
    part = mock.last["json"]["contents"][0]["parts"][1]
    if inline:
        assert part == {"inlineData": {"mimeType": "image/png", "data": B64}}
        assert host.hits["cat.png"] == 1
    else:
        assert part == {"fileData": {"fileUri": url, "mimeType": "image/png"}}
        assert host.hits["cat.png"] == 0  # Gemini fetches URLs itself


def test_fetches_run_concurrently_within_the_per_request_bound(
    make_gateway: GatewayFactory, mock_bedrock: tuple[MockBedrock, ServerThread], images
) -> None:
    _mock, upstream = mock_bedrock
    host, server = images
    gw = make_gateway({"image_fetch": {"concurrency": 3}})
    urls = [f"{server.url}/slow-cat.png?n={i}" for i in range(9)]
    r = bedrock(gw, upstream).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": parts(urls)}]
    )
    assert r.choices[0].message.content == "echo: what is this? [9 image(s)]"
    assert host.most == 3
