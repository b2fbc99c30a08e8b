"""Where Bedrock lives and how a request is authenticated.

URL: ``https://bedrock-runtime.{region}.amazonaws.com/model/{modelId}/converse[-stream]``;
a custom host replaces scheme and host (the ``/model/...`` path is appended to it).

Auth, first that applies: SigV4 (service ``bedrock``) from an access key pair (+ optional
session token), signed with botocore; else a Bedrock API key as ``Authorization: Bearer``.
botocore is imported on first use so the gateway starts fast when Bedrock is unused.
"""

from __future__ import annotations

import logging
import re
from functools import cache
from typing import Any
from urllib.parse import quote

from yarl import URL

from proxy.errors import AuthenticationError, InvalidRequest
from proxy.target import Target

DEFAULT_REGION = "us-east-1"
SERVICE = "bedrock"
# the region becomes part of a host name: only real region shapes (us-east-1, us-gov-west-1)
_REGION = re.compile(r"^[a-z]{2}(-[a-z0-9]+){1,3}-\d{1,2}$")


def region_of(target: Target) -> str:
    region = (target.text("aws_region") or DEFAULT_REGION).strip().lower()
    if not _REGION.match(region):
        raise InvalidRequest(
            f"invalid AWS region {region!r}",
            param="x-portkey-aws-region",
            code="invalid_aws_region",
        )
    return region


def endpoint_url(target: Target, model: str, stream: bool) -> str:
    """The Converse(Stream) URL in the exact form that goes on the wire."""
    return model_url(target, model, "converse-stream" if stream else "converse")


def model_url(target: Target, model: str, op: str) -> str:
    """``{base}/model/{modelId}/{op}`` in the exact form that goes on the wire.

    aiohttp (yarl) re-quotes URLs, turning ``%3A`` back into ``:``; SigV4 signs the path
    byte for byte, so the URL is normalised the same way before it is signed.
    """
    if model.strip(".") == "":
        raise InvalidRequest("invalid Bedrock model id", param="model", code="invalid_model")
    if target.custom_host:
        base = target.custom_host.rstrip("/")
    else:
        region = region_of(target)
        suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
        base = f"https://bedrock-runtime.{region}.{suffix}"
    return str(URL(f"{base}/model/{quote(model, safe='')}/{op}"))


def auth_headers(target: Target, url: str, body: bytes) -> dict[str, str]:
    """Request headers with credentials: SigV4-signed, or a bearer API key."""
    headers = {"Content-Type": "application/json"}
    key_id, secret = target.text("aws_access_key_id"), target.text("aws_secret_access_key")
    if key_id or secret:
        if not (key_id and secret):
            missing = "x-portkey-aws-secret-access-key" if key_id else "x-portkey-aws-access-key-id"
            raise AuthenticationError(
                f"bedrock SigV4 needs both an access key id and a secret key: {missing} is missing",
                code="missing_aws_credentials",
            )
        return sign(
            headers, url, body, key_id, secret, target.text("aws_session_token"), region_of(target)
        )
    if target.api_key:
        headers["Authorization"] = f"Bearer {target.api_key}"
        return headers
    raise AuthenticationError(
        "no credentials for bedrock: send x-portkey-aws-access-key-id and "
        "x-portkey-aws-secret-access-key (+ x-portkey-aws-session-token), or a Bedrock API key "
        "as Authorization: Bearer / x-portkey-api-key, or configure the provider in settings",
        code="missing_aws_credentials",
    )


def sign(
    headers: dict[str, str],
    url: str,
    body: bytes,
    key_id: str,
    secret: str,
    token: str | None,
    region: str,
    method: str = "POST",
) -> dict[str, str]:
    """SigV4-sign a request; returns the headers to send (Authorization, X-Amz-Date, ...)."""
    SigV4Auth, AWSRequest, Credentials = _botocore()
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    SigV4Auth(Credentials(key_id, secret, token), SERVICE, region).add_auth(request)
    return {str(k): str(v) for k, v in request.headers.items()}


@cache
def _botocore() -> tuple[Any, Any, Any]:
    from botocore.auth import SigV4Auth  # type: ignore[import-untyped]
    from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]
    from botocore.credentials import Credentials  # type: ignore[import-untyped]

    # botocore's signer logs the canonical request (session token included) at DEBUG
    logging.getLogger("botocore.auth").setLevel(logging.INFO)
    return SigV4Auth, AWSRequest, Credentials
