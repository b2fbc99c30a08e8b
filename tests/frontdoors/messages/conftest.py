"""Fixtures for ``/v1/messages``: every mock upstream, and anthropic SDK clients aimed at the
real gateway with the headers that route to one of them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import pytest

from tests.conftest import PROVIDER_KEY, GatewayFactory
from tests.providers.anthropic.mock import MockAnthropic
from tests.providers.bedrock.conftest import KEY_ID, REGION
from tests.providers.bedrock.mock import MockBedrock
from tests.providers.google.mock import MockGemini
from tests.servers import ServerThread

Mock = tuple[Any, ServerThread]


@pytest.fixture
def mock_anthropic() -> Iterator[tuple[MockAnthropic, ServerThread]]:
    mock = MockAnthropic()
    with ServerThread(mock.app) as server:
        yield mock, server


@pytest.fixture
def mock_gemini() -> Iterator[tuple[MockGemini, ServerThread]]:
    mock = MockGemini()
    with ServerThread(mock.app) as server:
        yield mock, server


@pytest.fixture
def mock_bedrock() -> Iterator[tuple[MockBedrock, ServerThread]]:
    mock = MockBedrock(keys={KEY_ID: (PROVIDER_KEY, None)}, api_keys=(PROVIDER_KEY,))
    with ServerThread(mock.app) as server:
        yield mock, server


def route(provider: str, upstream: ServerThread) -> dict[str, str]:
    """The x-portkey-* headers that send a request to ``provider`` at the mock."""
    if provider in ("openai", "anthropic"):
        return {"x-portkey-provider": provider, "x-portkey-custom-host": upstream.url + "/v1"}
    if provider == "google":
        return {"x-portkey-provider": "google", "x-portkey-custom-host": upstream.url}
    if provider == "vertex-ai":
        return {
            "x-portkey-provider": "vertex-ai",
            "x-portkey-custom-host": upstream.url,
            "x-portkey-vertex-project-id": "proj-mock",
            "x-portkey-vertex-region": "us-east5",
        }
    assert provider == "bedrock"
    return {
        "x-portkey-provider": "bedrock",
        "x-portkey-custom-host": upstream.url,
        "x-portkey-aws-access-key-id": KEY_ID,
        "x-portkey-aws-secret-access-key": PROVIDER_KEY,
        "x-portkey-aws-region": REGION,
    }


Client = Callable[..., anthropic.Anthropic]


@pytest.fixture
def client(make_gateway: GatewayFactory) -> Client:
    """``client(provider, upstream, settings=None, **headers)``: an anthropic SDK client
    talking to a fresh gateway, routed to ``provider`` at the ``upstream`` mock."""

    def make(
        provider: str,
        upstream: ServerThread,
        settings: dict[str, Any] | None = None,
        **headers: str,
    ) -> anthropic.Anthropic:
        gw = make_gateway(settings)
        extra = {k.replace("_", "-"): v for k, v in headers.items()}
        return anthropic.Anthropic(
            api_key=PROVIDER_KEY,
            base_url=gw.url,
            default_headers={**route(provider, upstream), **extra},
            max_retries=0,
        )

    return make
