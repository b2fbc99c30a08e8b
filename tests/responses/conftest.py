"""Fixtures for the Responses API tests: the real gateway in front of the mocks, and the
official openai SDK aimed at it (natively to the Responses mock, translated to Claude and
Gemini)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import openai
import pytest

from tests.conftest import PROVIDER_KEY, GatewayFactory
from tests.mock_openai_responses import MockResponses
from tests.providers.anthropic.mock import MockAnthropic
from tests.providers.google.mock import MockGemini
from tests.servers import ServerThread

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


@pytest.fixture
def mock_responses() -> Iterator[tuple[MockResponses, ServerThread]]:
    mock = MockResponses()
    with ServerThread(mock.app) as server:
        yield mock, server


@pytest.fixture
def mock_claude() -> Iterator[tuple[MockAnthropic, ServerThread]]:
    mock = MockAnthropic()
    with ServerThread(mock.app) as server:
        yield mock, server


@pytest.fixture
def mock_gemini() -> Iterator[tuple[MockGemini, ServerThread]]:
    mock = MockGemini()
    with ServerThread(mock.app) as server:
        yield mock, server


def client(gateway: ServerThread, key: str = PROVIDER_KEY, **headers: str) -> openai.OpenAI:
    return openai.OpenAI(
        api_key=key, base_url=gateway.url + "/v1", default_headers=headers, max_retries=0
    )


Clients = Callable[..., openai.OpenAI]


@pytest.fixture
def via(
    make_gateway: GatewayFactory,
    mock_responses: tuple[MockResponses, ServerThread],
    mock_claude: tuple[MockAnthropic, ServerThread],
    mock_gemini: tuple[MockGemini, ServerThread],
) -> Iterator[Callable[..., tuple[openai.OpenAI, Any, ServerThread]]]:
    """``via("openai" | "anthropic" | "google", settings=None, key=...)``: a client through
    one gateway (started once per settings) to that provider's mock, the mock, the gateway."""
    gateways: dict[str, ServerThread] = {}
    hosts = {
        "openai": (mock_responses, "/v1"),
        "anthropic": (mock_claude, "/v1"),
        "google": (mock_gemini, ""),
    }

    def make(
        provider: str, settings: dict[str, Any] | None = None, key: str = PROVIDER_KEY, **h: str
    ) -> tuple[openai.OpenAI, Any, ServerThread]:
        name = repr(settings)
        if name not in gateways:
            gateways[name] = make_gateway(settings)
        (mock, upstream), path = hosts[provider]
        headers = {"x-portkey-provider": provider, "x-portkey-custom-host": upstream.url + path}
        headers.update(h)
        return client(gateways[name], key, **headers), mock, gateways[name]

    yield make
