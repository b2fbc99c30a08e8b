"""The upstream side of ``/v1/*`` pass-through: a request body streamed out, the answer
streamed back.

A file upload is never held whole: the client's bytes go to the provider as they arrive.
Such a body cannot be read twice, so ``Upload`` keeps what it has sent while that stays
under ``REPLAY_BYTES``: an attempt that fails (a retry, a fallback) is replayed from those
bytes and the rest of the client's stream. Past the bound the kept bytes are dropped and
the request gets a single attempt: a later attempt re-raises the first one's failure,
saying why it was not retried.

Answers: JSON is read whole (bounded like every upstream answer, decompressed bytes
counted) so its ``usage`` can be metered; anything else (audio, file content, SSE) is
relayed piece by piece as it arrives, never held. Only an allowlist of the provider's
headers goes back to the client: no Set-Cookie, no hop-by-hop headers, nothing that names
the account the gateway's key belongs to.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

import aiohttp
import msgspec

from proxy.errors import GatewayError, RequestTooLarge, UpstreamError, UpstreamTimeout
from proxy.providers.base import UpstreamRequest
from proxy.reply import BodyReply
from proxy.schema import Usage
from proxy.terminal.relay import ERROR_BODY_LIMIT, passed_headers, read_within
from proxy.upstream import open_upstream

if TYPE_CHECKING:
    from proxy.context import RequestContext
    from proxy.providers.openai_compat import OpenAICompatAdapter

REPLAY_BYTES = 1024 * 1024  # what an upload keeps for a second attempt
PIECE = 64 * 1024  # bytes read from the client per write upstream

# the provider's answer headers the client gets, beside rate limits and the request id
# (passed_headers): what a file download or an SDK needs, nothing about the gateway's account
ANSWER_HEADERS = ("content-disposition", "openai-processing-ms", "openai-version")


class Upload:
    """A client's request body being streamed upstream, replayable while it is small."""

    __slots__ = ("failure", "kept", "kept_bytes", "limit", "read_bytes", "source", "too_large")

    def __init__(self, source: aiohttp.StreamReader, limit: int, prefix: bytes = b"") -> None:
        self.source = source
        self.limit = limit
        self.kept: list[bytes] | None = [prefix] if prefix else []  # None: past REPLAY_BYTES
        self.kept_bytes = len(prefix)
        self.read_bytes = len(prefix)
        self.too_large = False
        self.failure: GatewayError | None = None  # the last attempt's, for a refused replay

    def attempt(self) -> AsyncIterator[bytes]:
        """The body for one attempt; re-raises the earlier failure when it cannot be sent
        again (more than REPLAY_BYTES of it already went to an upstream)."""
        if self.kept is None:
            failure = self.failure or GatewayError("the request body was already sent")
            if "not retried" not in failure.message:
                failure.message += (
                    f" (not retried: more than {REPLAY_BYTES} bytes of the streamed request "
                    "body had been sent, and they are not kept)"
                )
            raise failure
        return self._pieces(list(self.kept))

    async def _pieces(self, replay: list[bytes]) -> AsyncIterator[bytes]:
        for piece in replay:
            yield piece
        while True:
            piece = await self.source.read(PIECE)
            if not piece:
                return
            self.read_bytes += len(piece)
            if self.read_bytes > self.limit:
                self.too_large = True
                raise RequestTooLarge(f"request body is larger than {self.limit} bytes")
            if self.kept is not None:
                if self.kept_bytes + len(piece) > REPLAY_BYTES:
                    self.kept = None  # from here on, a single attempt
                else:
                    self.kept.append(piece)
                    self.kept_bytes += len(piece)
            yield piece


class _UsageShape(msgspec.Struct):
    """Usage as the JSON endpoints report it: chat-style or input/output tokens."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None


class _WithUsage(msgspec.Struct):
    usage: _UsageShape | None = None


_usage_decoder = msgspec.json.Decoder(_WithUsage)


def usage_of(raw: bytes) -> Usage | None:
    """The usage a JSON answer reports, if it reads as one (the body is relayed either way:
    an answer the gateway cannot meter is the provider's business, not an error)."""
    if b'"usage"' not in raw:
        return None
    try:
        u = _usage_decoder.decode(raw).usage
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    if u is None:
        return None
    prompt = u.prompt_tokens if u.prompt_tokens is not None else u.input_tokens or 0
    completion = u.completion_tokens if u.completion_tokens is not None else u.output_tokens or 0
    total = u.total_tokens if u.total_tokens is not None else prompt + completion
    return Usage(prompt, completion, total)


def answer_headers(upstream: Mapping[str, str]) -> dict[str, str]:
    out = passed_headers(upstream)
    for name in ANSWER_HEADERS:
        value = upstream.get(name)
        if value is not None:
            out[name] = value
    return out


def is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


async def send(
    ctx: RequestContext,
    adapter: OpenAICompatAdapter,
    up: UpstreamRequest,
    session: aiohttp.ClientSession,
    max_response: int,
    timeout: float | None,  # noqa: ASYNC109 - seconds to the answer's headers, like the relay
) -> BodyReply:
    """Send ``up`` (its body bytes or an upload's pieces) and relay the answer."""
    if ctx.trace_headers:
        up.headers.update(ctx.trace_headers)
    t0 = time.perf_counter()
    deadline = None if timeout is None else asyncio.get_running_loop().time() + timeout
    resp = await open_upstream(session, up, adapter.name, timeout)
    owned = False
    try:
        if resp.status >= 400:
            raw = await read_within(resp, ERROR_BODY_LIMIT, deadline, adapter.name, truncate=True)
            raise adapter.parse_error(resp.status, resp.headers, raw)
        ctype = resp.headers.get("content-type", "application/octet-stream")
        headers = answer_headers(resp.headers)
        if is_json(ctype):
            raw = await read_within(resp, max_response, deadline, adapter.name)
            return BodyReply(raw, ctype, resp.status, headers, usage_of(raw))
        owned = True
        return BodyReply(_relay(resp, adapter.name), ctype, resp.status, headers)
    finally:
        ctx.upstream_ms += (time.perf_counter() - t0) * 1000.0
        if not owned:
            resp.release()


async def _relay(resp: aiohttp.ClientResponse, provider: str) -> AsyncIterator[bytes]:
    """The answer's bytes as they arrive; closing early aborts the upstream response."""
    clean = False
    try:
        async for piece in resp.content.iter_any():
            yield piece
        clean = True
    except TimeoutError:
        raise UpstreamTimeout(
            f"{provider} stopped sending (read timeout)", code="upstream_timeout"
        ) from None
    except aiohttp.ClientError as exc:
        raise UpstreamError(
            f"{provider} answer broke off ({type(exc).__name__})",
            status=502,
            code="upstream_stream_broken",
        ) from None
    finally:
        if clean:
            resp.release()
        else:
            resp.close()


def body_for(upload: Upload | None, raw: bytes) -> Any:
    """What aiohttp sends: the bytes in hand, or this attempt's pieces of the upload."""
    return raw if upload is None else upload.attempt()
