"""Fixtures for the Bedrock tests: the mock runtime and openai clients aimed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import openai
import pytest

from tests.conftest import PROVIDER_KEY, GatewayFactory
from tests.providers.bedrock.mock import MockBedrock
from tests.servers import ServerThread

KEY_ID = "AKIDEXAMPLEBEDROCK01"
TEMP_KEY_ID = "ASIAEXAMPLEBEDROCK02"
SESSION_TOKEN = "IQoJb3JpZ2luX2VjEXAMPLEsessiontoken0004"
REGION = "eu-west-3"


@pytest.fixture
def mock_bedrock() -> Iterator[tuple[MockBedrock, ServerThread]]:
    mock = MockBedrock(
        keys={KEY_ID: (PROVIDER_KEY, None), TEMP_KEY_ID: (PROVIDER_KEY, SESSION_TOKEN)},
        api_keys=(PROVIDER_KEY,),
    )
    with ServerThread(mock.app) as server:
        yield mock, server


BedrockClient = Callable[..., openai.OpenAI]


@pytest.fixture
def bedrock_client(
    make_gateway: GatewayFactory, mock_bedrock: tuple[MockBedrock, ServerThread]
) -> BedrockClient:
    """``bedrock_client(**headers)``: an openai SDK client via the gateway to the mock.

    SigV4 credentials by default; ``bedrock_client(sigv4=False)`` sends only the API key.
    """
    _, upstream = mock_bedrock
    gateway = make_gateway()

    def make(sigv4: bool = True, **extra: str) -> openai.OpenAI:
        headers = {"x-portkey-provider": "bedrock", "x-portkey-custom-host": upstream.url}
        if sigv4:
            headers |= {
                "x-portkey-aws-access-key-id": KEY_ID,
                "x-portkey-aws-secret-access-key": PROVIDER_KEY,
                "x-portkey-aws-region": REGION,
            }
        headers |= {k.replace("_", "-"): v for k, v in extra.items()}
        return openai.OpenAI(
            api_key=PROVIDER_KEY,
            base_url=gateway.url + "/v1",
            default_headers=headers,
            max_retries=0,
        )

    return make
