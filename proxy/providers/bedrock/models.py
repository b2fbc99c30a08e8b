"""``GET /v1/models`` on Bedrock: ListFoundationModels (the control-plane host, SigV4
service ``bedrock``), ``modelSummaries[].modelId`` in OpenAI's shape."""

from __future__ import annotations

import msgspec
from yarl import URL

from proxy.errors import AuthenticationError, UpstreamInvalid
from proxy.providers.base import UpstreamRequest
from proxy.providers.bedrock.api import region_of, sign
from proxy.providers.models_list import openai_list
from proxy.target import Target


class _Summary(msgspec.Struct, rename="camel"):
    model_id: str
    provider_name: str = "bedrock"


class _List(msgspec.Struct, rename="camel"):
    model_summaries: list[_Summary] = msgspec.field(default_factory=list)


_decoder = msgspec.json.Decoder(_List)


def models_request(target: Target) -> UpstreamRequest:
    region = region_of(target)
    if target.custom_host:
        base = target.custom_host.rstrip("/")
    else:
        suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
        base = f"https://bedrock.{region}.{suffix}"
    url = str(URL(f"{base}/foundation-models"))
    key_id, secret = target.text("aws_access_key_id"), target.text("aws_secret_access_key")
    if key_id and secret:
        headers = sign(
            {}, url, b"", key_id, secret, target.text("aws_session_token"), region, "GET"
        )
    elif target.api_key:
        headers = {"Authorization": f"Bearer {target.api_key}"}
    else:
        raise AuthenticationError(
            "no credentials for bedrock: send the AWS key pair or a Bedrock API key",
            code="missing_aws_credentials",
        )
    return UpstreamRequest(method="GET", url=url, headers=headers, body=b"")


def parse_models(raw: bytes) -> bytes:
    try:
        found = _decoder.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise UpstreamInvalid(f"bedrock sent a model list it does not document ({exc})") from None
    return openai_list((m.model_id, 0, m.provider_name.lower()) for m in found.model_summaries)
