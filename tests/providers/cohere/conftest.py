"""Fixtures for the Cohere tests: the mock upstream and openai clients aimed at it."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from tests.conftest import PROVIDER_KEY, GatewayFactory
from tests.providers.cohere.mock import MockCohere
from tests.servers import ServerThread

# the chain these tests need, pinned so that work on other middlewares cannot break them
CHAIN = {
    "middleware": [
        {"class": "middleware.logging:LoggingMiddleware"},
        {"class": "middleware.router:RouterMiddleware"},
    ]
}
Mock = tuple[MockCohere, ServerThread]


@pytest.fixture
def mock_cohere() -> Iterator[Mock]:
    mock = MockCohere()
    with ServerThread(mock.app) as server:
        yield mock, server


@pytest.fixture
def cohere_client(
    make_gateway: GatewayFactory, mock_cohere: Mock
) -> tuple[openai.OpenAI, MockCohere]:
    """An openai SDK client talking to the gateway, routed to the Cohere mock."""
    mock, upstream = mock_cohere
    gateway = make_gateway(CHAIN)
    client = openai.OpenAI(
        api_key=PROVIDER_KEY,
        base_url=gateway.url + "/v1",
        default_headers={"x-portkey-provider": "cohere", "x-portkey-custom-host": upstream.url},
        max_retries=0,
    )
    return client, mock
