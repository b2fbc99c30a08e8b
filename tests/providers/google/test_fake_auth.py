"""The fake token endpoint and metadata server answer google-auth as Google does: google-auth
itself (its requests transport) gets tokens from them, and refuses what Google would."""

from __future__ import annotations

import pytest
from google.auth import exceptions
from google.auth.transport.requests import Request
from google.oauth2 import service_account

from tests.providers.google.fake_auth import CLOUD_PLATFORM, FakeGoogle
from tests.providers.google.fake_auth import service_account as sa
from tests.servers import ServerThread


@pytest.fixture
def fake() -> tuple[FakeGoogle, ServerThread]:
    fake = FakeGoogle()
    with ServerThread(fake.app) as server:
        yield fake, server


def test_service_account_flow_with_google_auth(fake) -> None:
    google, server = fake
    info = sa(server.url + "/token")
    google.register(info["client_email"])
    creds = service_account.Credentials.from_service_account_info(info, scopes=[CLOUD_PLATFORM])
    creds.refresh(Request())
    assert creds.token in google.issued
    assert creds.valid
    claims = google.token_requests[-1]
    assert claims["iss"] == info["client_email"]
    assert claims["aud"] == "https://oauth2.googleapis.com/token"


def test_a_key_the_endpoint_does_not_know_is_refused(fake) -> None:
    google, server = fake
    info = sa(server.url + "/token", n=1)  # registered below with another key
    google.register(info["client_email"], n=0)
    creds = service_account.Credentials.from_service_account_info(info, scopes=[CLOUD_PLATFORM])
    with pytest.raises(exceptions.RefreshError, match="invalid_grant"):
        creds.refresh(Request())
    assert not google.issued


def test_metadata_server_needs_the_flavor_header(fake) -> None:
    _, server = fake
    plain = Request()(server.url + "/computeMetadata/v1/project/project-id")
    assert plain.status == 403
    flavored = Request()(
        server.url + "/computeMetadata/v1/instance/service-accounts/default/token",
        headers={"Metadata-Flavor": "Google"},
    )
    assert flavored.status == 200
    assert flavored.headers["metadata-flavor"] == "Google"
