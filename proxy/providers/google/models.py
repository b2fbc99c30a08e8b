"""``GET /v1/models`` on the Gemini API: ``models[].name`` ("models/x") in OpenAI's shape."""

from __future__ import annotations

import msgspec

from proxy.errors import UpstreamInvalid
from proxy.providers.models_list import openai_list


class _Model(msgspec.Struct):
    name: str


class _List(msgspec.Struct):
    models: list[_Model] = msgspec.field(default_factory=list)


_decoder = msgspec.json.Decoder(_List)


def parse_models(raw: bytes, provider: str) -> bytes:
    try:
        found = _decoder.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise UpstreamInvalid(
            f"{provider} sent a model list it does not document ({exc})"
        ) from None
    return openai_list((m.name.removeprefix("models/"), 0, "google") for m in found.models)
