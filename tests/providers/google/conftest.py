"""Fixtures for the Gemini tests: the mock upstream and openai clients aimed at it."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from tests.conftest import PROVIDER_KEY, GatewayFactory
from tests.providers.google.mock import MockGemini
from tests.servers import ServerThread

PROJECT = "proj-mock"
REGION = "europe-west4"


@pytest.fixture
def mock_gemini() -> Iterator[tuple[MockGemini, ServerThread]]:
    mock = MockGemini()
    with ServerThread(mock.app) as server:
        yield mock, server


def client_for(gateway: ServerThread, headers: dict[str, str]) -> openai.OpenAI:
    return openai.OpenAI(
        api_key=PROVIDER_KEY, base_url=gateway.url + "/v1", default_headers=headers, max_retries=0
    )


@pytest.fixture
def gemini(
    make_gateway: GatewayFactory, mock_gemini: tuple[MockGemini, ServerThread]
) -> tuple[openai.OpenAI, MockGemini]:
    """An openai SDK client talking to the gateway, routed to the mock as ``google``."""
    mock, upstream = mock_gemini
    headers = {"x-portkey-provider": "google", "x-portkey-custom-host": upstream.url}
    return client_for(make_gateway(), headers), mock


@pytest.fixture
def vertex(
    make_gateway: GatewayFactory, mock_gemini: tuple[MockGemini, ServerThread]
) -> tuple[openai.OpenAI, MockGemini]:
    """The same, routed as ``vertex-ai`` (project and region from headers)."""
    mock, upstream = mock_gemini
    headers = {
        "x-portkey-provider": "vertex-ai",
        "x-portkey-custom-host": upstream.url,
        "x-portkey-vertex-project-id": PROJECT,
        "x-portkey-vertex-region": REGION,
    }
    return client_for(make_gateway(), headers), mock


@pytest.fixture(params=["google", "vertex-ai"])
def any_gemini(request: pytest.FixtureRequest) -> tuple[openai.OpenAI, MockGemini]:
    """Both providers: every end-to-end row runs through each (one gateway per run)."""
    name = "gemini" if request.param == "google" else "vertex"
    client: tuple[openai.OpenAI, MockGemini] = request.getfixturevalue(name)
    return client
