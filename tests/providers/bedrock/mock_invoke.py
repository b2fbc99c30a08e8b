"""InvokeModel answers of the mock Bedrock runtime for the embedding models, as documented.

- ``amazon.titan-embed-text-v2:0``: ``{"inputText", "dimensions" (256|512|1024, default 1024),
  "normalize", "embeddingTypes"}`` -> ``{"embedding", "embeddingsByType", "inputTextTokenCount"}``
- ``amazon.titan-embed-text-v1``: ``{"inputText"}`` -> 1536 values
- ``cohere.embed-*``: ``{"texts" (1..96), "input_type" (required), "truncate",
  "embedding_types"}`` -> ``{"id", "embeddings", "response_type": "embeddings_floats",
  "texts"}``, 1024 values each, the token count in ``X-Amzn-Bedrock-Input-Token-Count``

Anything else is a ``ValidationException``. Vectors are deterministic per text
(``vector(text, n)``), so tests can check what comes back. A Titan ``inputText`` starting
with ``error-<status>`` fails that one call with that status.
"""

from __future__ import annotations

import hashlib
from typing import Any

from aiohttp import web

TITAN_V2_KEYS = {"inputText", "dimensions", "normalize", "embeddingTypes"}
COHERE_KEYS = {"texts", "input_type", "truncate", "embedding_types"}
INPUT_TYPES = {"search_document", "search_query", "classification", "clustering"}


def vector(text: str, n: int) -> list[float]:
    out: list[float] = []
    block = 0
    while len(out) < n:
        digest = hashlib.sha256(f"{block}:{text}".encode()).digest()
        out.extend((b - 127.5) / 127.5 for b in digest)
        block += 1
    return out[:n]


def tokens(text: str) -> int:
    return len(text.split())


def _invalid(message: str) -> web.Response:
    from tests.providers.bedrock.mock import error_response

    return error_response(400, message)


def invoke_embeddings(model: str, body: Any) -> web.Response:
    if not isinstance(body, dict):
        return _invalid("Malformed input request, please reformat your input")
    if "amazon.titan-embed-text" in model:
        allowed = TITAN_V2_KEYS if "-v2" in model else {"inputText"}
        extra = set(body) - allowed
        text = body.get("inputText")
        if extra or not isinstance(text, str) or not text:
            return _invalid(
                f"Malformed input request: extraneous key {sorted(extra)} or no inputText"
            )
        if text.startswith("error-"):
            from tests.providers.bedrock.mock import error_response

            status = int(text[6:9])
            return error_response(status, f"mock failure {status}")
        dims = body.get("dimensions", 1024) if "-v2" in model else 1536
        if "-v2" in model and dims not in (256, 512, 1024):
            return _invalid("Malformed input request: dimensions must be 256, 512 or 1024")
        values = vector(text, dims)
        answer = {"embedding": values, "inputTextTokenCount": tokens(text)}
        if "-v2" in model:
            answer["embeddingsByType"] = {"float": values}
        return web.json_response(answer)
    if "cohere.embed-" in model:
        texts = body.get("texts")
        if set(body) - COHERE_KEYS or body.get("input_type") not in INPUT_TYPES:
            return _invalid("Malformed input request: input_type is required")
        if not isinstance(texts, list) or not 0 < len(texts) <= 96:
            return _invalid("Malformed input request: texts must hold 1 to 96 strings")
        answer = {
            "id": "mock-cohere-embed-1",
            "embeddings": [vector(t, 1024) for t in texts],
            "response_type": "embeddings_floats",
            "texts": texts,
        }
        count = str(sum(tokens(t) for t in texts))
        return web.json_response(answer, headers={"X-Amzn-Bedrock-Input-Token-Count": count})
    return _invalid(f"The provided model identifier is invalid: {model}")
