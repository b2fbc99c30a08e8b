"""Bedrock reached with the gateway's own AWS identity, each source of botocore's chain and
STS AssumeRole, against local fakes (no real cloud).

The Bedrock mock verifies every SigV4 signature in full against the keys it knows: the
environment's, a profile's, or the temporary keys the fake STS / container endpoint / IMDS
handed out (``FakeAws`` gives them to it). The gateway runs in this process; the AWS
environment is set around it with monkeypatch (botocore reads it when a source is first
used) and every other source is switched off, so only the one under test can answer.
"""

from __future__ import annotations

import os
import pathlib
import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.conftest import PROVIDER_KEY, GatewayFactory
from tests.providers.bedrock.conftest import REGION
from tests.providers.bedrock.fake_aws import FakeAws
from tests.providers.bedrock.mock import MockBedrock
from tests.servers import ServerThread

BASE_KEY, BASE_SECRET = "AKIDGATEWAYBASE00001", "gateway-base-secret-0005"  # in SECRETS
PROFILE_KEY, PROFILE_SECRET = "AKIDGATEWAYPROFILE02", "gateway-profile-secret-0006"
ROLE = "arn:aws:iam::111122223333:role/bedrock-caller"
MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"
MSG = [{"role": "user", "content": "hi"}]
Fake = tuple[FakeAws, ServerThread]
Mock = tuple[MockBedrock, ServerThread]


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> pytest.MonkeyPatch:
    """No AWS source at all until a test adds one (no files, no IMDS, no variables)."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return monkeypatch


@pytest.fixture
def fake_aws(mock_bedrock: Mock) -> Iterator[Fake]:
    mock, _ = mock_bedrock
    mock.keys[BASE_KEY] = (BASE_SECRET, None)
    mock.keys[PROFILE_KEY] = (PROFILE_SECRET, None)
    fake = FakeAws(mock.keys, known={BASE_KEY: (BASE_SECRET, None)})
    with ServerThread(fake.app) as server:
        yield fake, server


def gateway(make_gateway: GatewayFactory, upstream: ServerThread, **fields: str) -> Any:
    entry = {"provider": "bedrock", "aws_region": REGION, "custom_host": upstream.url, **fields}
    return make_gateway({"providers": {"aws": entry}})


def ask(gw: Any, stream: bool = False) -> str:
    c = openai.OpenAI(api_key=PROVIDER_KEY, base_url=gw.url + "/v1", max_retries=0)
    if stream:
        chunks = c.chat.completions.create(model=f"@aws/{MODEL}", messages=MSG, stream=True)
        return "".join(x.choices[0].delta.content or "" for x in chunks if x.choices)
    r = c.chat.completions.create(model=f"@aws/{MODEL}", messages=MSG)
    return r.choices[0].message.content or ""


def signed_by(mock: MockBedrock) -> str:
    auth = mock.requests[-1]["headers"]["Authorization"]
    return str(auth.split("Credential=", 1)[1].split("/", 1)[0])


def test_environment_variables(make_gateway, mock_bedrock, aws_env) -> None:
    mock, upstream = mock_bedrock
    aws_env.setenv("AWS_ACCESS_KEY_ID", BASE_KEY)
    aws_env.setenv("AWS_SECRET_ACCESS_KEY", BASE_SECRET)
    gw = gateway(make_gateway, upstream, aws_auth="chain")
    mock.keys[BASE_KEY] = (BASE_SECRET, None)
    assert ask(gw) == "echo: hi"
    assert signed_by(mock) == BASE_KEY
    assert "X-Amz-Security-Token" not in mock.requests[-1]["headers"]


def test_a_profile_from_the_shared_files(
    make_gateway, mock_bedrock, fake_aws, aws_env, tmp_path
) -> None:
    mock, upstream = mock_bedrock
    creds = tmp_path / "credentials"
    creds.write_text(
        f"[default]\naws_access_key_id = {BASE_KEY}\naws_secret_access_key = {BASE_SECRET}\n"
        f"[ops]\naws_access_key_id = {PROFILE_KEY}\naws_secret_access_key = {PROFILE_SECRET}\n"
    )
    aws_env.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    gw = gateway(make_gateway, upstream, aws_profile="ops")  # a profile implies the chain
    assert ask(gw) == "echo: hi"
    assert signed_by(mock) == PROFILE_KEY


def test_the_container_credentials_endpoint(make_gateway, mock_bedrock, fake_aws, aws_env) -> None:
    """ECS task roles and EKS Pod Identity: AWS_CONTAINER_CREDENTIALS_FULL_URI."""
    mock, upstream = mock_bedrock
    aws, server = fake_aws
    aws.container_token = "container-auth-token-0007"
    aws_env.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", server.url + "/ecs/credentials")
    aws_env.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", aws.container_token)
    gw = gateway(make_gateway, upstream, aws_auth="chain")
    assert ask(gw) == "echo: hi" and ask(gw, stream=True) == "echo: hi"
    assert aws.container_hits == 1  # fetched once, cached
    assert signed_by(mock) == aws.issued[0]
    assert mock.requests[-1]["headers"]["X-Amz-Security-Token"] == mock.keys[aws.issued[0]][1]


def test_the_instance_metadata_service_v2(make_gateway, mock_bedrock, fake_aws, aws_env) -> None:
    mock, upstream = mock_bedrock
    aws, server = fake_aws
    aws_env.delenv("AWS_EC2_METADATA_DISABLED")
    aws_env.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", server.url + "/")
    gw = gateway(make_gateway, upstream, aws_auth="chain")
    assert ask(gw) == "echo: hi"
    assert aws.imds_hits[0] == "PUT /latest/api/token"  # v2: a session token first
    assert signed_by(mock) == aws.issued[0]


def test_web_identity_irsa(make_gateway, mock_bedrock, fake_aws, aws_env, tmp_path) -> None:
    """EKS IRSA: AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE, AssumeRoleWithWebIdentity."""
    mock, upstream = mock_bedrock
    aws, server = fake_aws
    aws.web_token = "eyJhbGciOiJSUzI1NiJ9.fake-projected-token.sig"
    token_file = tmp_path / "token"
    token_file.write_text(aws.web_token)
    aws_env.setenv("AWS_ROLE_ARN", ROLE)
    aws_env.setenv("AWS_ROLE_SESSION_NAME", "irsa-session")
    aws_env.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(token_file))
    aws_env.setenv("AWS_ENDPOINT_URL_STS", server.url)
    aws_env.setenv("AWS_REGION", REGION)
    gw = gateway(make_gateway, upstream, aws_auth="chain")
    assert ask(gw) == "echo: hi"
    call = aws.sts_calls[0]
    assert call["Action"] == "AssumeRoleWithWebIdentity"
    assert (call["RoleArn"], call["RoleSessionName"]) == (ROLE, "irsa-session")
    assert signed_by(mock) == aws.issued[0]


@pytest.mark.parametrize("source", ["chain", "settings-keys"])
def test_assume_role_with_external_id_and_session_name(
    make_gateway, mock_bedrock, fake_aws, aws_env, source
) -> None:
    mock, upstream = mock_bedrock
    aws, server = fake_aws
    aws_env.setenv("AWS_ENDPOINT_URL_STS", server.url)
    role = {"aws_role_arn": ROLE, "aws_external_id": "ext-77", "aws_role_session_name": "gw-1"}
    if source == "chain":
        aws_env.setenv("AWS_ACCESS_KEY_ID", BASE_KEY)
        aws_env.setenv("AWS_SECRET_ACCESS_KEY", BASE_SECRET)
        gw = gateway(make_gateway, upstream, **role)
    else:
        keys = {"aws_access_key_id": BASE_KEY, "aws_secret_access_key": BASE_SECRET}
        gw = gateway(make_gateway, upstream, **role, **keys)
    for stream in (False, True, False):
        assert ask(gw, stream) == "echo: hi"
    assert len(aws.sts_calls) == 1  # one AssumeRole, cached
    call = aws.sts_calls[0]
    assert call["Action"] == "AssumeRole" and call["SignedBy"] == BASE_KEY
    assert (call["RoleArn"], call["ExternalId"], call["RoleSessionName"]) == (
        ROLE,
        "ext-77",
        "gw-1",
    )
    assert signed_by(mock) == aws.issued[0]  # Bedrock saw the role's keys, not the base pair


def test_assumed_role_keys_are_renewed_before_they_expire(
    make_gateway, mock_bedrock, fake_aws, aws_env
) -> None:
    """Lifetime 4 s: renewed in the background at 80%, before expiry; requests keep signing
    with valid keys and never wait for STS."""
    mock, upstream = mock_bedrock
    aws, server = fake_aws
    aws.lifetime = 4
    aws_env.setenv("AWS_ENDPOINT_URL_STS", server.url)
    keys = {"aws_access_key_id": BASE_KEY, "aws_secret_access_key": BASE_SECRET}
    gw = gateway(make_gateway, upstream, aws_role_arn=ROLE, **keys)
    t0 = time.monotonic()
    ask(gw)
    ask(gw)
    while len(aws.sts_calls) < 2 and time.monotonic() - t0 < 6:
        time.sleep(0.05)
    assert len(aws.sts_calls) == 2
    assert 2.5 < time.monotonic() - t0 < 4.0
    ask(gw)
    assert signed_by(mock) == aws.issued[1] and len(aws.sts_calls) == 2


def test_no_credentials_in_the_chain_is_a_503_naming_no_detail(
    make_gateway, mock_bedrock, aws_env
) -> None:
    mock, upstream = mock_bedrock
    gw = gateway(make_gateway, upstream, aws_auth="chain")
    with pytest.raises(openai.InternalServerError) as info:
        ask(gw)
    assert info.value.status_code == 503
    assert info.value.body["code"] == "credentials_unavailable"  # type: ignore[index]
    assert not mock.requests


def test_every_endpoint_signs_with_the_gateways_identity(
    make_gateway, mock_bedrock, fake_aws, aws_env
) -> None:
    """The terminal obtains credentials for every door: /v1/messages (Claude through
    InvokeModel), /v1/embeddings (Titan) and GET /v1/models sign with the assumed role."""
    import httpx

    mock, upstream = mock_bedrock
    aws, server = fake_aws
    aws_env.setenv("AWS_ENDPOINT_URL_STS", server.url)
    keys = {"aws_access_key_id": BASE_KEY, "aws_secret_access_key": BASE_SECRET}
    gw = gateway(make_gateway, upstream, aws_role_arn=ROLE, **keys)
    messages = {"model": f"@aws/{MODEL}", "max_tokens": 8, "messages": MSG}
    r = httpx.post(gw.url + "/v1/messages", json=messages, timeout=10)
    assert r.status_code == 200 and mock.requests[-1].get("invoke"), r.text
    assert signed_by(mock) == aws.issued[0]
    body = {"model": "@aws/amazon.titan-embed-text-v2:0", "input": "hello"}
    r = httpx.post(gw.url + "/v1/embeddings", json=body, timeout=10)
    assert r.status_code == 200, r.text
    assert signed_by(mock) == aws.issued[0]
    config = {"x-portkey-config": '{"virtual_key": "aws"}'}
    r = httpx.get(gw.url + "/v1/models", headers=config, timeout=10)
    assert r.status_code == 200, r.text
    assert signed_by(mock) == aws.issued[0]
    assert len(aws.sts_calls) == 1
