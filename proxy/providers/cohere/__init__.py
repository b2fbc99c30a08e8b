"""Cohere: the Chat API v2 (``POST /v2/chat``) and the Embed API v2 (``POST /v2/embed``).

Request shaping in ``request.py``, answers in ``response.py``, streams in ``stream.py``,
errors in ``errors.py``, embeddings in ``embeddings.py``; the wire format's Structs in
``native.py``. What translates and what does not: docs/providers/cohere.md.
"""

from __future__ import annotations

from collections.abc import Mapping

from proxy.body import RequestBody
from proxy.errors import GatewayError
from proxy.providers.base import EmbeddingsInput, UpstreamRequest
from proxy.providers.cohere import api, embeddings
from proxy.providers.cohere.errors import parse_error
from proxy.providers.cohere.native import encoder
from proxy.providers.cohere.request import build_body
from proxy.providers.cohere.response import parse_response
from proxy.providers.cohere.stream import CohereStream
from proxy.providers.fields import FieldSpec
from proxy.reply import Completion
from proxy.target import Target


class CohereAdapter:
    name = "cohere"

    def build_request(self, body: RequestBody, target: Target, model: str) -> UpstreamRequest:
        stream = body.head.stream
        return UpstreamRequest(
            url=api.url(target, api.CHAT),
            headers=api.headers(target, stream),
            body=encoder.encode(build_body(body, model)),
            stream=stream,
        )

    def parse_response(
        self, status: int, headers: Mapping[str, str], raw: bytes, model: str
    ) -> Completion:
        return parse_response(status, headers, raw, model)

    def parse_error(self, status: int, headers: Mapping[str, str], raw: bytes) -> GatewayError:
        return parse_error(status, headers, raw)

    def stream_translator(self, model: str, include_usage: bool) -> CohereStream:
        return CohereStream(model, include_usage)

    def embeddings_calls(
        self, inp: EmbeddingsInput, target: Target, model: str
    ) -> list[UpstreamRequest]:
        return embeddings.embeddings_calls(inp, target, model)

    def parse_embeddings(
        self, answers: list[tuple[Mapping[str, str], bytes]], inp: EmbeddingsInput, model: str
    ) -> tuple[list[list[float]], int]:
        return embeddings.parse_embeddings(answers)


FIELDS: tuple[FieldSpec, ...] = ()  # the core's api_key and custom_host are all it reads
ADAPTERS = (CohereAdapter(),)

__all__ = ["ADAPTERS", "FIELDS", "CohereAdapter"]
