"""Embeddings on Bedrock through InvokeModel, mixed into the Bedrock adapter.

``POST /model/{modelId}/invoke``, signed like Converse (SigV4 or a Bedrock API key), with the
model's own body:

- Amazon Titan Text Embeddings (``amazon.titan-embed-text-v1``/``-v2:0``): one text per call,
  ``{"inputText", "dimensions"}`` (``dimensions`` on v2 only) -> ``{"embedding": [...],
  "inputTextTokenCount"}``; the texts of a request are sent concurrently.
- Cohere Embed (``cohere.embed-*``): ``{"texts": [...], "input_type": "search_document"}``,
  at most 96 texts a call -> ``{"embeddings": [[...]]}``; the token count comes in the
  ``X-Amzn-Bedrock-Input-Token-Count`` header.

The model is recognised by its id (cross-region profiles such as ``us.cohere.embed-...``
too); any other model is a 400 before anything is sent.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from proxy.errors import InvalidRequest
from proxy.providers.base import EmbeddingsInput, UpstreamRequest
from proxy.providers.bedrock.api import auth_headers, endpoint_url
from proxy.target import Target

COHERE_MAX_TEXTS = 96
INPUT_TOKENS_HEADER = "x-amzn-bedrock-input-token-count"


class _TitanRequest(msgspec.Struct, rename="camel", omit_defaults=True):
    input_text: str
    dimensions: int | None = None


class _TitanAnswer(msgspec.Struct, rename="camel"):
    embedding: list[float]
    input_text_token_count: int = 0


class _CohereRequest(msgspec.Struct):
    texts: list[str]
    input_type: str = "search_document"


class _CohereAnswer(msgspec.Struct):
    embeddings: list[list[float]]


_titan_answer = msgspec.json.Decoder(_TitanAnswer)
_cohere_answer = msgspec.json.Decoder(_CohereAnswer)


def family(model: str) -> str:
    """``titan-v1``, ``titan-v2`` or ``cohere``; a 400 for models without a translation."""
    if "amazon.titan-embed-text-v1" in model:
        return "titan-v1"
    if "amazon.titan-embed-text-v2" in model:
        return "titan-v2"
    if "cohere.embed-" in model:
        return "cohere"
    raise InvalidRequest(
        f"bedrock embeddings: no translation for model {model!r}; supported are "
        "amazon.titan-embed-text-v1, amazon.titan-embed-text-v2:0 and cohere.embed-* models",
        param="model",
        code="unsupported_model",
    )


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:  # plain dicts are case-sensitive
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    return value


class BedrockEmbeddings:
    def embeddings_calls(
        self, inp: EmbeddingsInput, target: Target, model: str
    ) -> list[UpstreamRequest]:
        kind = family(model)
        if inp.dimensions is not None and kind != "titan-v2":
            raise InvalidRequest(
                f"bedrock model {model!r} does not take dimensions "
                "(amazon.titan-embed-text-v2:0 does: 256, 512 or 1024)",
                param="dimensions",
                code="unsupported_parameter",
            )
        url = endpoint_url(target, model, False).removesuffix("/converse") + "/invoke"
        if kind == "cohere":
            bodies = [
                msgspec.json.encode(_CohereRequest(inp.texts[i : i + COHERE_MAX_TEXTS]))
                for i in range(0, len(inp.texts), COHERE_MAX_TEXTS)
            ]
        else:
            bodies = [msgspec.json.encode(_TitanRequest(t, inp.dimensions)) for t in inp.texts]
        return [
            UpstreamRequest(url=url, headers=auth_headers(target, url, b), body=b) for b in bodies
        ]

    def parse_embeddings(
        self, answers: list[tuple[Mapping[str, str], bytes]], inp: EmbeddingsInput, model: str
    ) -> tuple[list[list[float]], int]:
        vectors: list[list[float]] = []
        tokens = 0
        cohere = family(model) == "cohere"
        for headers, raw in answers:
            if cohere:
                vectors.extend(_cohere_answer.decode(raw).embeddings)
                count = _header(headers, INPUT_TOKENS_HEADER)
                tokens += int(count) if count and count.isdigit() else 0
            else:
                titan = _titan_answer.decode(raw)
                vectors.append(titan.embedding)
                tokens += titan.input_text_token_count
        return vectors, tokens
