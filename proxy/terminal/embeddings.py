"""The upstream side of embeddings: pass-through calls and native embeddings APIs.

OpenAI-compatible providers and Azure get OpenAI's request as sent and their answer is
relayed (checked to be JSON with a data list). For providers with their own embeddings API
(Gemini, Vertex AI, Bedrock) OpenAI's request is checked here (text input only,
``dimensions``, ``encoding_format``), the adapter plans the native call(s), the calls run
concurrently on the gateway's session (a bounded number at a time: Titan takes one text per
call) and the vectors come back in OpenAI's answer shape, ``base64`` being little-endian
float32 as OpenAI sends it. ``embed_texts`` serves the semantic cache with the same code.
"""

from __future__ import annotations

import asyncio
import base64
import struct
from collections.abc import Coroutine, Mapping
from typing import TYPE_CHECKING, Any, Literal, cast

import msgspec

from proxy.credentials import with_credentials
from proxy.errors import GatewayError, InvalidRequest, UpstreamInvalid
from proxy.providers import get_adapter
from proxy.providers.base import (
    EmbeddingsAdapter,
    EmbeddingsInput,
    NativeEmbeddingsAdapter,
    UpstreamRequest,
    implements,
)
from proxy.schema import Usage, encoder
from proxy.target import Target
from proxy.terminal.relay import check_json_type, passed_headers, read_within
from proxy.upstream import open_upstream

if TYPE_CHECKING:
    from proxy.gateway import Gateway

MAX_INPUTS = 2048  # OpenAI's own limit per request
ERROR_BODY_LIMIT = 1024 * 1024
AnyEmbeddings = EmbeddingsAdapter | NativeEmbeddingsAdapter
CONCURRENT_CALLS = 8  # per request, for models that take one text per call


class _Request(msgspec.Struct):
    input: str | list[Any]
    dimensions: int | None = None
    encoding_format: Literal["float", "base64"] = "float"


class _Item(msgspec.Struct):
    index: int
    embedding: list[float] | str
    object: str = "embedding"


class _Usage(msgspec.Struct):
    prompt_tokens: int
    total_tokens: int


class _Answer(msgspec.Struct):
    data: list[_Item]
    model: str
    usage: _Usage
    object: str = "list"


_decoder = msgspec.json.Decoder(_Request)


def unreadable_answer(provider: str, exc: Exception) -> GatewayError:
    return UpstreamInvalid(f"{provider} sent an embeddings answer the gateway cannot read: {exc}")


def check_count(provider: str, got: int, wanted: int) -> None:
    """One vector per input text, or the answer is unusable (502)."""
    if got != wanted:
        raise UpstreamInvalid(f"{provider} returned {got} embeddings for {wanted} inputs")


def parse_input(raw: bytes) -> tuple[EmbeddingsInput, bool]:
    """The texts and dimensions asked for, and whether base64 was asked for; 400 otherwise."""
    try:
        req = _decoder.decode(raw)
    except msgspec.ValidationError as exc:
        text = str(exc)
        param = next((p for p in ("dimensions", "encoding_format") if p in text), "input")
        raise InvalidRequest(f"{param}: {text}", param=param, code="invalid_value") from None
    except msgspec.DecodeError as exc:
        raise InvalidRequest(
            f"request body is not valid JSON: {exc}", code="invalid_json"
        ) from None
    texts = [req.input] if isinstance(req.input, str) else req.input
    if not texts or not all(isinstance(t, str) for t in texts):
        raise InvalidRequest(
            "input must be a string or a non-empty list of strings for this provider "
            "(token-id input is only accepted by OpenAI-compatible providers)",
            param="input",
            code="invalid_value",
        )
    if len(texts) > MAX_INPUTS:
        raise InvalidRequest(
            f"input holds {len(texts)} texts; at most {MAX_INPUTS} per request",
            param="input",
            code="invalid_value",
        )
    if req.dimensions is not None and req.dimensions < 1:
        raise InvalidRequest("dimensions must be at least 1", param="dimensions")
    return EmbeddingsInput(texts, req.dimensions), req.encoding_format == "base64"


async def embed(
    gw: Gateway,
    adapter: NativeEmbeddingsAdapter,
    inp: EmbeddingsInput,
    target: Target,
    model: str,
    limit_s: float | None,
) -> tuple[list[list[float]], int, dict[str, str]]:
    """Vectors (one per text, in order), prompt tokens and the headers worth passing on."""
    calls = adapter.embeddings_calls(inp, target, model)
    gate = asyncio.Semaphore(CONCURRENT_CALLS)

    async def one(up: UpstreamRequest) -> tuple[bytes, dict[str, str]]:
        async with gate:
            return await send(gw, adapter, up, limit_s, all_headers=True)

    if len(calls) == 1:
        results = [await one(calls[0])]
    else:
        results = await _all_or_nothing([one(up) for up in calls])
    answers: list[tuple[Mapping[str, str], bytes]] = [(h, raw) for raw, h in results]
    try:
        vectors, tokens = adapter.parse_embeddings(answers, inp, model)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise unreadable_answer(adapter.name, exc) from None
    check_count(adapter.name, len(vectors), len(inp.texts))
    return vectors, tokens, passed_headers(results[0][1])


_Result = tuple[bytes, dict[str, str]]


async def _all_or_nothing(coros: list[Coroutine[Any, Any, _Result]]) -> list[_Result]:
    """All results, or the first error with the remaining calls cancelled."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        return list(await asyncio.gather(*tasks))
    finally:
        for t in tasks:
            t.cancel()


def render(vectors: list[list[float]], tokens: int, model: str, as_base64: bool) -> bytes:
    """OpenAI's embeddings answer."""
    data = [_Item(i, _b64(v) if as_base64 else v) for i, v in enumerate(vectors)]
    return encoder.encode(_Answer(data, model, _Usage(tokens, tokens)))


def _b64(vector: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


class _AnswerShape(msgspec.Struct):
    """What a relayed embeddings answer must be; the rest is the provider's, untouched."""

    data: list[msgspec.Raw]
    usage: Usage | None = None


class _Embedding(msgspec.Struct):
    embedding: list[float]
    index: int = 0


class _EmbeddingList(msgspec.Struct):
    data: list[_Embedding]


_answer_decoder = msgspec.json.Decoder(_AnswerShape)
_list_decoder = msgspec.json.Decoder(_EmbeddingList)


def checked_answer(raw: bytes, provider: str) -> Usage | None:
    """A relayed answer is JSON with a data list (502 otherwise); its usage."""
    try:
        return _answer_decoder.decode(raw).usage
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise unreadable_answer(provider, exc) from None


def embeddings_adapter(provider: str) -> AnyEmbeddings:
    adapter = get_adapter(provider)
    if not (implements(adapter, EmbeddingsAdapter) or implements(adapter, NativeEmbeddingsAdapter)):
        raise InvalidRequest(
            f"provider {adapter.name!r} has no embeddings endpoint on this gateway",
            param="x-portkey-provider",
            code="unsupported_endpoint",
        )
    return cast(AnyEmbeddings, adapter)


async def send(
    gw: Gateway,
    adapter: AnyEmbeddings,
    up: UpstreamRequest,
    limit_s: float | None,
    *,
    all_headers: bool = False,
) -> tuple[bytes, dict[str, str]]:
    """Perform the call; the answer's bytes and the headers worth passing on (or all)."""
    deadline = None if limit_s is None else asyncio.get_running_loop().time() + limit_s
    resp = await open_upstream(gw.session, up, adapter.name, limit_s)
    try:
        if resp.status >= 400:
            raw = await read_within(resp, ERROR_BODY_LIMIT, deadline, adapter.name, truncate=True)
            raise adapter.parse_error(resp.status, resp.headers, raw)
        raw = await read_within(
            resp, gw.settings.upstream.max_response_bytes, deadline, adapter.name
        )
        check_json_type(resp.headers, adapter.name, resp.status)
        return raw, dict(resp.headers) if all_headers else passed_headers(resp.headers)
    finally:
        resp.release()


async def embed_texts(
    gw: Gateway, target: Target, model: str, texts: list[str], limit_s: float | None
) -> list[list[float]]:
    """Embed ``texts`` with ``target`` (used by the semantic cache). Raises GatewayError."""
    from proxy.routing.resolve import bind

    adapter = embeddings_adapter(target.provider)
    bind(target, gw)
    target = await with_credentials(adapter, target, gw.credentials)
    if implements(adapter, NativeEmbeddingsAdapter):
        native = cast(NativeEmbeddingsAdapter, adapter)
        return (await embed(gw, native, EmbeddingsInput(texts), target, model, limit_s))[0]
    body = encoder.encode({"model": model, "input": texts, "encoding_format": "float"})
    up = cast(EmbeddingsAdapter, adapter).build_embeddings_request(body, target, model)
    raw, _ = await send(gw, adapter, up, limit_s)
    try:
        data = _list_decoder.decode(raw).data
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise unreadable_answer(adapter.name, exc) from None
    data.sort(key=lambda e: e.index)
    check_count(adapter.name, len(data), len(texts))
    return [e.embedding for e in data]
