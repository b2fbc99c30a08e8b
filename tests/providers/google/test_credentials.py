"""Vertex AI reached with each credential source, against local fakes (no real cloud).

The Vertex mock accepts only tokens the fake token endpoint or metadata server issued, and
the token endpoint verifies each JWT's signature with the service account's public key, so
a success proves the whole chain: key -> signed JWT -> token -> bearer on the Vertex call.
"""

from __future__ import annotations

import json
import pathlib
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import openai
import pytest

from proxy.app import GATEWAY
from tests.conftest import PROVIDER_KEY, GatewayFactory
from tests.providers.google.conftest import REGION
from tests.providers.google.fake_auth import MDS_PROJECT, PROJECT, FakeGoogle, service_account
from tests.providers.google.mock import MockGemini
from tests.security.conftest import GatewayProcess
from tests.servers import ServerThread

Fake = tuple[FakeGoogle, ServerThread]
Mock = tuple[MockGemini, ServerThread]
MSG = [{"role": "user", "content": "hi vertex"}]


@pytest.fixture
def google_fake() -> Iterator[Fake]:
    fake = FakeGoogle()
    with ServerThread(fake.app) as server:
        yield fake, server


@pytest.fixture
def vertex_mock(google_fake: Fake) -> Iterator[Mock]:
    mock = MockGemini(tokens=google_fake[0].issued)  # only what the fakes issued
    with ServerThread(mock.app) as server:
        yield mock, server


def key_json(fake: Fake, email: str = "sa@proj.iam.gserviceaccount.com") -> str:
    google, server = fake
    google.register(email)
    return json.dumps(service_account(server.url + "/token", email))


def slug(upstream: ServerThread, **fields: Any) -> dict[str, Any]:
    entry = {"provider": "vertex-ai", "vertex_region": REGION, "custom_host": upstream.url}
    return {**entry, **fields}


def client(gw: Any, headers: dict[str, str] | None = None) -> openai.OpenAI:
    return openai.OpenAI(
        api_key=PROVIDER_KEY, base_url=gw.url + "/v1", default_headers=headers, max_retries=0
    )


def ask(gw: Any, model: str = "@vx/gemini-2.5-flash", **headers: str) -> str:
    r = client(gw, headers).chat.completions.create(model=model, messages=MSG)
    return r.choices[0].message.content or ""


def test_settings_service_account(
    make_gateway: GatewayFactory, google_fake: Fake, vertex_mock: Mock
) -> None:
    google, _ = google_fake
    mock, upstream = vertex_mock
    entry = slug(
        upstream, vertex_project_id="ops", vertex_service_account_json=key_json(google_fake)
    )
    gw = make_gateway({"providers": {"vx": entry}})
    assert ask(gw) == "echo: hi vertex"
    stream = client(gw).chat.completions.create(
        model="@vx/gemini-2.5-flash", messages=MSG, stream=True
    )
    assert (
        "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "echo: hi vertex"
    )
    assert ask(gw) == "echo: hi vertex"
    assert len(google.token_requests) == 1  # one token, cached
    assert len(set(mock.bearers)) == 1 and mock.bearers[0] in google.issued
    assert mock.last["path"].startswith(f"/v1/projects/ops/locations/{REGION}/")


def test_client_service_account_header(
    make_gateway: GatewayFactory, google_fake: Fake, vertex_mock: Mock
) -> None:
    """The client's own key; no project given: the key's project_id is used."""
    google, fake = google_fake
    mock, upstream = vertex_mock
    gw = make_gateway({"credentials": {"google_token_uris": [fake.url + "/token"]}})
    headers = {
        "x-portkey-provider": "vertex-ai",
        "x-portkey-custom-host": upstream.url,
        "x-portkey-vertex-region": REGION,
        "x-portkey-vertex-service-account-json": key_json(google_fake),
    }
    assert ask(gw, "gemini-2.5-flash", **headers) == "echo: hi vertex"
    assert mock.bearers[-1] in google.issued and mock.bearers[-1] != PROVIDER_KEY
    assert mock.last["path"].startswith(f"/v1/projects/{PROJECT}/locations/{REGION}/")


def test_adc_from_a_key_file(
    make_gateway: GatewayFactory,
    google_fake: Fake,
    vertex_mock: Mock,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: pathlib.Path,
) -> None:
    """vertex_auth: adc with GOOGLE_APPLICATION_CREDENTIALS naming a key file."""
    google, _ = google_fake
    mock, upstream = vertex_mock
    path = tmp_path / "adc.json"
    path.write_text(key_json(google_fake, "adc@proj.iam.gserviceaccount.com"))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path))
    gw = make_gateway({"providers": {"vx": slug(upstream, vertex_auth="adc")}})
    assert ask(gw) == "echo: hi vertex"
    assert google.token_requests[-1]["iss"] == "adc@proj.iam.gserviceaccount.com"
    assert mock.bearers[-1] in google.issued
    assert mock.last["path"].startswith(f"/v1/projects/{PROJECT}/")  # ADC's project


def test_adc_from_the_metadata_server(
    google_fake: Fake,
    vertex_mock: Mock,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: pathlib.Path,
) -> None:
    """GCE / GKE workload identity: google-auth finds the (fake) metadata server through
    GCE_METADATA_HOST / GCE_METADATA_IP, read at import: the gateway runs as a process."""
    google, fake = google_fake
    mock, upstream = vertex_mock
    host = fake.url.removeprefix("http://")
    for name in ("GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CLOUD_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GCE_METADATA_HOST", host)
    monkeypatch.setenv("GCE_METADATA_IP", host)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path))
    gw = GatewayProcess({"providers": {"vx": slug(upstream, vertex_auth="adc")}}, tmp_path)
    try:
        headers = {"authorization": "Bearer unused"}
        body = {"model": "@vx/gemini-2.5-flash", "messages": MSG}
        for _ in range(3):
            status, answer, _ = gw.post(body, headers)
            assert status == 200, answer
        token = "/computeMetadata/v1/instance/service-accounts/default/token"
        assert sum(p.startswith(token) for p in google.metadata_requests) == 1
        assert set(mock.bearers) <= google.issued and len(set(mock.bearers)) == 1
        assert mock.last["path"].startswith(f"/v1/projects/{MDS_PROJECT}/")  # the MDS's
        logged = gw.log.read_text()
        assert not [t for t in google.issued if t in logged]
    finally:
        gw.stop()


def test_concurrent_first_requests_share_one_fetch(
    make_gateway: GatewayFactory, google_fake: Fake, vertex_mock: Mock
) -> None:
    google, _ = google_fake
    _, upstream = vertex_mock
    entry = slug(
        upstream, vertex_project_id="ops", vertex_service_account_json=key_json(google_fake)
    )
    gw = make_gateway({"providers": {"vx": entry}})
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda _: ask(gw), range(16)))
    assert answers == ["echo: hi vertex"] * 16
    assert len(google.token_requests) == 1


def test_a_token_in_use_is_refreshed_before_it_expires(
    make_gateway: GatewayFactory, google_fake: Fake, vertex_mock: Mock
) -> None:
    """Lifetime 4 s: refreshed in the background at 80% (3.2 s), before it expires, with
    no request waiting; the next request gets the new token without a fetch of its own."""
    google, _ = google_fake
    mock, upstream = vertex_mock
    google.lifetime = 4
    entry = slug(
        upstream, vertex_project_id="ops", vertex_service_account_json=key_json(google_fake)
    )
    gw = make_gateway({"providers": {"vx": entry}})
    t0 = time.monotonic()
    ask(gw)
    ask(gw)  # used since the fetch: worth renewing
    while len(google.token_requests) < 2 and time.monotonic() - t0 < 6:
        time.sleep(0.05)
    renewed = time.monotonic() - t0
    assert len(google.token_requests) == 2
    assert 2.5 < renewed < 4.0, renewed
    first = mock.bearers[-1]
    ask(gw)
    assert mock.bearers[-1] != first and mock.bearers[-1] in google.issued
    assert len(google.token_requests) == 2  # that request did not fetch


def test_client_keys_are_cached_by_the_whole_key_and_bounded(
    make_gateway: GatewayFactory, google_fake: Fake, vertex_mock: Mock
) -> None:
    google, fake = google_fake
    _, upstream = vertex_mock
    settings = {
        "credentials": {"google_token_uris": [fake.url + "/token"], "max_client_sources": 2}
    }
    gw = make_gateway(settings)
    keys = [key_json(google_fake, f"sa{i}@proj.iam.gserviceaccount.com") for i in range(3)]

    def with_key(key: str) -> str:
        headers = {
            "x-portkey-provider": "vertex-ai",
            "x-portkey-custom-host": upstream.url,
            "x-portkey-vertex-service-account-json": key,
        }
        return ask(gw, "gemini-2.5-flash", **headers)

    for key in [*keys, keys[2]]:
        with_key(key)
    assert len(google.token_requests) == 3  # the last one was cached
    with_key(keys[0])  # evicted by the third: fetched again
    assert len(google.token_requests) == 4
    assert len(gw.app[GATEWAY].credentials.client) == 2  # type: ignore[index]


def test_embeddings_use_the_token_too(
    make_gateway: GatewayFactory, google_fake: Fake, vertex_mock: Mock
) -> None:
    google, _ = google_fake
    mock, upstream = vertex_mock
    entry = slug(
        upstream, vertex_project_id="ops", vertex_service_account_json=key_json(google_fake)
    )
    gw = make_gateway({"providers": {"vx": entry}})
    r = client(gw).embeddings.create(model="@vx/text-embedding-005", input=["a", "b"])
    assert len(r.data) == 2
    assert mock.bearers[-1] in google.issued
    assert mock.last["method"] == "predict"
