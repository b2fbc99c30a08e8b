"""The fake STS answers boto3 as AWS does: boto3's own STS client signs, sends and parses."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import botocore.exceptions
import pytest

from tests.providers.bedrock.fake_aws import FakeAws
from tests.servers import ServerThread

BASE_KEY, BASE_SECRET = "AKIDFAKESTSPROOF0001", "fake-sts-proof-secret-0001"
ROLE = "arn:aws:iam::111122223333:role/bedrock-caller"


@pytest.fixture
def fake() -> Iterator[tuple[FakeAws, ServerThread]]:
    fake = FakeAws({}, known={BASE_KEY: (BASE_SECRET, None)})
    with ServerThread(fake.app) as server:
        yield fake, server


def sts(url: str, key: str = BASE_KEY, secret: str = BASE_SECRET):  # type: ignore[no-untyped-def]
    return boto3.client(
        "sts",
        endpoint_url=url,
        region_name="eu-west-3",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
    )


def test_assume_role_with_boto3(fake) -> None:
    aws, server = fake
    r = sts(server.url).assume_role(RoleArn=ROLE, RoleSessionName="s1", ExternalId="ext-1")
    creds = r["Credentials"]
    assert creds["AccessKeyId"] == aws.issued[0]
    assert aws.bedrock_keys[creds["AccessKeyId"]] == (
        creds["SecretAccessKey"],
        creds["SessionToken"],
    )
    assert r["AssumedRoleUser"]["Arn"] == "arn:aws:sts::111122223333:assumed-role/bedrock-caller/s1"
    call = aws.sts_calls[0]
    assert (call["RoleArn"], call["RoleSessionName"], call["ExternalId"]) == (ROLE, "s1", "ext-1")
    assert call["SignedBy"] == BASE_KEY


def test_a_bad_signature_is_refused(fake) -> None:
    aws, server = fake
    with pytest.raises(botocore.exceptions.ClientError, match="InvalidClientTokenId"):
        sts(server.url, secret="wrong").assume_role(RoleArn=ROLE, RoleSessionName="s2")
    assert not aws.issued


def test_assume_role_with_web_identity_with_boto3(fake) -> None:
    aws, server = fake
    aws.web_token = "eyJ.fake-web-identity.sig"
    r = sts(server.url).assume_role_with_web_identity(
        RoleArn=ROLE, RoleSessionName="irsa", WebIdentityToken=aws.web_token
    )
    assert r["Credentials"]["AccessKeyId"] == aws.issued[0]
    assert r["SubjectFromWebIdentityToken"].startswith("system:serviceaccount:")
    with pytest.raises(botocore.exceptions.ClientError, match="InvalidIdentityToken"):
        sts(server.url).assume_role_with_web_identity(
            RoleArn=ROLE, RoleSessionName="irsa", WebIdentityToken="forged"
        )
