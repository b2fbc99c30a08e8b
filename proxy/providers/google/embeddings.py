"""Embeddings for Gemini (``google``) and Vertex AI, mixed into their adapters.

Gemini API: ``POST .../models/{model}:batchEmbedContents`` (what google-genai sends, one
call for any number of texts) with ``{"requests": [{"model", "content": {"parts": [{"text"}]},
"outputDimensionality"}]}`` -> ``{"embeddings": [{"values": [...]}]}``; no token count comes
back unless Google adds ``usageMetadata``.

Vertex AI: the text embeddings API, ``POST .../publishers/google/models/{model}:predict`` with
``{"instances": [{"content"}], "parameters": {"outputDimensionality"}}`` ->
``{"predictions": [{"embeddings": {"values", "statistics": {"token_count"}}}]}``. Gemini
embedding models take one instance per request there (documented), so they get one call per
text. The URLs are derived from the adapter's own chat URL, so custom hosts, versions,
projects and regions follow the chat rules exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import msgspec

from proxy.providers.base import EmbeddingsInput, UpstreamRequest
from proxy.target import Target

CHAT_ACTION = ":generateContent"


class _Chat(Protocol):
    """What the mixins use of the adapter they are mixed into."""

    def endpoint(self, target: Target, model: str, stream: bool) -> str: ...

    def auth_headers(self, target: Target) -> dict[str, str]: ...


def _url(adapter: _Chat, target: Target, model: str, action: str) -> str:
    return adapter.endpoint(target, model, False).removesuffix(CHAT_ACTION) + action


def _call(adapter: _Chat, target: Target, url: str, body: bytes) -> UpstreamRequest:
    headers = {"Content-Type": "application/json", **adapter.auth_headers(target)}
    return UpstreamRequest(url=url, headers=headers, body=body)


# --- Gemini API wire format


class _Part(msgspec.Struct):
    text: str


class _Content(msgspec.Struct):
    parts: list[_Part]


class _EmbedRequest(msgspec.Struct, rename="camel", omit_defaults=True):
    model: str
    content: _Content
    output_dimensionality: int | None = None


class _BatchRequest(msgspec.Struct):
    requests: list[_EmbedRequest]


class _Values(msgspec.Struct):
    values: list[float]


class _Usage(msgspec.Struct, rename="camel"):
    prompt_token_count: int = 0


class _BatchAnswer(msgspec.Struct, rename="camel"):
    embeddings: list[_Values]
    usage_metadata: _Usage | None = None


_batch_answer = msgspec.json.Decoder(_BatchAnswer)


class GeminiEmbeddings:
    def embeddings_calls(
        self: _Chat, inp: EmbeddingsInput, target: Target, model: str
    ) -> list[UpstreamRequest]:
        name = "models/" + model.removeprefix("models/")
        body = _BatchRequest(
            [_EmbedRequest(name, _Content([_Part(t)]), inp.dimensions) for t in inp.texts]
        )
        url = _url(self, target, model, ":batchEmbedContents")
        return [_call(self, target, url, msgspec.json.encode(body))]

    def parse_embeddings(
        self, answers: list[tuple[Mapping[str, str], bytes]], inp: EmbeddingsInput, model: str
    ) -> tuple[list[list[float]], int]:
        answer = _batch_answer.decode(answers[0][1])
        usage = answer.usage_metadata.prompt_token_count if answer.usage_metadata else 0
        return [e.values for e in answer.embeddings], usage


# --- Vertex AI text embeddings (predict)


class _Instance(msgspec.Struct):
    content: str


class _Parameters(msgspec.Struct, rename="camel", omit_defaults=True):
    output_dimensionality: int | None = None


class _PredictRequest(msgspec.Struct, omit_defaults=True):
    instances: list[_Instance]
    parameters: _Parameters | None = None


class _Statistics(msgspec.Struct):
    token_count: int | float = 0  # proto JSON may send it as 6.0


class _Embeddings(msgspec.Struct):
    values: list[float]
    statistics: _Statistics | None = None


class _Prediction(msgspec.Struct):
    embeddings: _Embeddings


class _PredictAnswer(msgspec.Struct):
    predictions: list[_Prediction]


_predict_answer = msgspec.json.Decoder(_PredictAnswer)


def one_instance_per_call(model: str) -> bool:
    return "gemini" in model.rsplit("/", 1)[-1]


class VertexEmbeddings:
    def embeddings_calls(
        self: _Chat, inp: EmbeddingsInput, target: Target, model: str
    ) -> list[UpstreamRequest]:
        url = _url(self, target, model, ":predict")
        params = _Parameters(inp.dimensions) if inp.dimensions is not None else None
        groups = [[t] for t in inp.texts] if one_instance_per_call(model) else [inp.texts]
        return [
            _call(
                self,
                target,
                url,
                msgspec.json.encode(_PredictRequest([_Instance(t) for t in texts], params)),
            )
            for texts in groups
        ]

    def parse_embeddings(
        self, answers: list[tuple[Mapping[str, str], bytes]], inp: EmbeddingsInput, model: str
    ) -> tuple[list[list[float]], int]:
        vectors: list[list[float]] = []
        tokens = 0
        for _, raw in answers:
            for p in _predict_answer.decode(raw).predictions:
                vectors.append(p.embeddings.values)
                if p.embeddings.statistics is not None:
                    tokens += int(p.embeddings.statistics.token_count)
        return vectors, tokens
