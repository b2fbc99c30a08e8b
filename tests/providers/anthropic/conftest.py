"""Fixtures for the Anthropic tests: the mock upstream and openai clients aimed at it."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from tests.conftest import PROVIDER_KEY, GatewayFactory
from tests.providers.anthropic.mock import MockAnthropic
from tests.servers import ServerThread

# the chain these tests need, pinned so that work on other middlewares cannot break them
CHAIN = {
    "middleware": [
        {"class": "middleware.logging:LoggingMiddleware"},
        {"class": "middleware.router:RouterMiddleware"},
    ]
}


@pytest.fixture
def mock_anthropic() -> Iterator[tuple[MockAnthropic, ServerThread]]:
    mock = MockAnthropic()
    with ServerThread(mock.app) as server:
        yield mock, server


@pytest.fixture
def claude(
    make_gateway: GatewayFactory, mock_anthropic: tuple[MockAnthropic, ServerThread]
) -> tuple[openai.OpenAI, MockAnthropic]:
    """An openai SDK client talking to the gateway, routed to the Anthropic mock."""
    mock, upstream = mock_anthropic
    gateway = make_gateway(CHAIN)
    client = openai.OpenAI(
        api_key=PROVIDER_KEY,
        base_url=gateway.url + "/v1",
        default_headers={
            "x-portkey-provider": "anthropic",
            "x-portkey-custom-host": upstream.url + "/v1",
        },
        max_retries=0,
    )
    return client, mock
