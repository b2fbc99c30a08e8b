"""Embeddings through Cohere's Embed API v2 (``POST /v2/embed``).

``{"model", "texts", "input_type", "embedding_types": ["float"], "output_dimension"}`` ->
``{"embeddings": {"float": [[...]]}, "meta": {"billed_units": {"input_tokens"}}}``. At most
96 texts a call (the reference), so a longer input is split into calls the gateway sends
concurrently; their vectors are joined in order. OpenAI's request has no input type, so
texts are embedded as ``search_document`` (what Cohere on Bedrock gets here too), and
``dimensions`` becomes ``output_dimension`` (embed-v4 and newer; Cohere checks the value).
"""

from __future__ import annotations

from collections.abc import Mapping

from msgspec import UNSET

from proxy.providers.base import EmbeddingsInput, UpstreamRequest
from proxy.providers.cohere import api
from proxy.providers.cohere.native import EmbedRequest, embed_decoder, encoder
from proxy.target import Target

MAX_TEXTS = 96
INPUT_TYPE = "search_document"


def embeddings_calls(inp: EmbeddingsInput, target: Target, model: str) -> list[UpstreamRequest]:
    url = api.url(target, api.EMBED)
    dims = inp.dimensions if inp.dimensions is not None else UNSET
    return [
        UpstreamRequest(
            url=url,
            headers=api.headers(target),  # one dict per call: the relay adds trace headers
            body=encoder.encode(
                EmbedRequest(model, inp.texts[i : i + MAX_TEXTS], INPUT_TYPE, ["float"], dims)
            ),
        )
        for i in range(0, len(inp.texts), MAX_TEXTS)
    ]


def parse_embeddings(
    answers: list[tuple[Mapping[str, str], bytes]],
) -> tuple[list[list[float]], int]:
    """Vectors in input order and the billed input tokens; a decode error is the caller's
    502 (``proxy/terminal/embeddings.py`` also checks one vector per text)."""
    vectors: list[list[float]] = []
    tokens = 0
    for _, raw in answers:
        answer = embed_decoder.decode(raw)
        vectors.extend(answer.embeddings.floats)
        billed = answer.meta.billed_units if answer.meta is not None else None
        if billed is not None and billed.input_tokens is not None:
            tokens += int(billed.input_tokens)
    return vectors, tokens
