"""``GET /v1/models`` on Anthropic: its list (``data[].id``, ``created_at``) in OpenAI's shape."""

from __future__ import annotations

import msgspec

from proxy.errors import UpstreamInvalid
from proxy.providers.anthropic import api
from proxy.providers.base import UpstreamRequest
from proxy.providers.models_list import epoch, openai_list
from proxy.target import Target


class _Model(msgspec.Struct):
    id: str
    created_at: str | None = None


class _List(msgspec.Struct):
    data: list[_Model]


_decoder = msgspec.json.Decoder(_List)


def models_request(target: Target) -> UpstreamRequest:
    headers = {k: v for k, v in api.headers(target).items() if k != "Content-Type"}
    base = (target.custom_host or api.BASE_URL).rstrip("/")
    return UpstreamRequest(method="GET", url=f"{base}/models?limit=1000", headers=headers, body=b"")


def parse_models(raw: bytes) -> bytes:
    try:
        found = _decoder.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise UpstreamInvalid(f"anthropic sent a model list it does not document ({exc})") from None
    return openai_list((m.id, epoch(m.created_at), "anthropic") for m in found.data)
