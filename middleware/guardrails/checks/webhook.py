"""Checks that call out: a webhook whose JSON verdict decides, and a log sink.

Both POST Portkey's hook context (request, response, provider, metadata, eventType) on the
gateway's shared session, with a timeout. A webhook that fails (timeout, connection error,
non-2xx, a body without a boolean ``verdict``) follows its policy: ``failOnError: false``
(the default, fail-open) passes the check and records the error; ``true`` fails it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import aiohttp
import msgspec

from middleware.guardrails.checks.base import Check, CheckContext, Outcome
from middleware.guardrails.documents import RequestDocument, ResponseDocument

MAX_REPLY_BYTES = 1024 * 1024
_encoder = msgspec.json.Encoder()


class CallFailed(Exception):
    """The call did not produce a usable answer; the message is safe to show and log."""


async def read_capped(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    """The whole body, or CallFailed past ``limit`` bytes. (``content.read(n)`` returns what
    has arrived so far, at most n bytes: a body in several pieces came back cut short.)"""
    parts: list[bytes] = []
    size = 0
    async for data in resp.content.iter_any():
        size += len(data)
        if size > limit:
            raise CallFailed(f"answered with more than {limit} bytes")
        parts.append(data)
    return b"".join(parts)


def _check_url(url: str, field: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{field}: must be an http(s) URL")


def _timeout_ms(value: int | None, default: int, field: str) -> float:
    ms = default if value is None else value
    if ms <= 0:
        raise ValueError(f"{field}: must be a positive number of milliseconds")
    return ms / 1000.0


async def post_json(
    session: aiohttp.ClientSession,
    url: str,
    body: Any,
    headers: dict[str, str],
    seconds: float,
) -> Any:
    """POST JSON and decode the JSON answer; CallFailed names what went wrong, not the URL."""
    try:
        async with session.post(
            url,
            data=_encoder.encode(body),
            headers={**headers, "Content-Type": "application/json"},
            timeout=aiohttp.ClientTimeout(total=seconds),
            allow_redirects=False,
        ) as resp:
            if resp.status >= 300:
                raise CallFailed(f"answered with status {resp.status}")
            raw = await read_capped(resp, MAX_REPLY_BYTES)
    except TimeoutError:
        raise CallFailed(f"timed out after {int(seconds * 1000)} ms") from None
    except aiohttp.ClientError as exc:
        raise CallFailed(f"could not be reached ({type(exc).__name__})") from None
    if not raw.strip():
        return None
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError:
        raise CallFailed("answered with a body that is not JSON") from None


class WebhookParams(msgspec.Struct, forbid_unknown_fields=True):
    webhookURL: str
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    timeout: int | None = None  # milliseconds; default: the middleware's webhook_timeout_ms
    failOnError: bool | None = None  # default: the middleware's webhook_fail_closed


class Webhook(Check):
    """The webhook answers ``{"verdict": bool, "data": any, "transformedData": {...}}``.

    ``transformedData.request.json.messages`` (input) or ``transformedData.response.json``
    (output) replace the text, as a mutator would.
    """

    Params = WebhookParams
    needs_text = False

    def __init__(self, params: WebhookParams, env: Any) -> None:
        super().__init__(params, env)
        _check_url(params.webhookURL, "webhookURL")
        self.timeout = _timeout_ms(params.timeout, env.limits.webhook_timeout_ms, "timeout")
        fail = params.failOnError
        self.fail_closed = env.limits.webhook_fail_closed if fail is None else fail

    def urls(self) -> list[str]:
        return [self.params.webhookURL]

    async def run(self, cx: CheckContext) -> Outcome:
        p = self.params
        try:
            answer = await post_json(
                self.env.session, p.webhookURL, cx.payload(), p.headers, self.timeout
            )
            if not isinstance(answer, dict) or not isinstance(answer.get("verdict"), bool):
                raise CallFailed("answered without a boolean verdict")
        except CallFailed as exc:
            policy = "closed" if self.fail_closed else "open"
            return Outcome(
                not self.fail_closed, f"webhook {exc}; failing {policy}", error=f"webhook {exc}"
            )
        data: dict[str, Any] = {"webhook_data": answer.get("data")}
        if _apply_transform(cx, answer.get("transformedData")):
            data["transformed"] = True
        verdict = answer["verdict"]
        return Outcome(verdict, f"webhook verdict: {'pass' if verdict else 'fail'}", data)


def _apply_transform(cx: CheckContext, td: Any) -> bool:
    if not isinstance(td, dict):
        return False
    doc = cx.doc
    if isinstance(doc, RequestDocument):
        req = td.get("request")
        msgs = req.get("json", {}).get("messages") if isinstance(req, dict) else None
        if isinstance(msgs, list) and msgs and all(isinstance(m, dict) for m in msgs):
            doc.messages[:] = msgs
            doc.changed = True
            return True
    elif isinstance(doc, ResponseDocument):
        resp = td.get("response")
        body = resp.get("json") if isinstance(resp, dict) else None
        if isinstance(body, dict) and isinstance(body.get("choices"), list):
            doc.body.clear()
            doc.body.update(body)
            doc.changed = True
            return True
    return False


class LogParams(msgspec.Struct, forbid_unknown_fields=True):
    logURL: str
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    timeout: int | None = None


class Log(Check):
    """POSTs the hook context and the results of the guardrail's other checks; always passes.

    Runs after the other checks of its guardrail so that their results go along.
    """

    Params = LogParams
    needs_text = False
    runs_last = True

    def __init__(self, params: LogParams, env: Any) -> None:
        super().__init__(params, env)
        _check_url(params.logURL, "logURL")
        self.timeout = _timeout_ms(params.timeout, env.limits.webhook_timeout_ms, "timeout")

    def urls(self) -> list[str]:
        return [self.params.logURL]

    async def run(self, cx: CheckContext) -> Outcome:
        body = {**cx.payload(), "results": cx.results}
        try:
            await post_json(
                self.env.session, self.params.logURL, body, self.params.headers, self.timeout
            )
        except CallFailed as exc:
            return Outcome(True, f"log sink {exc}", error=f"log sink {exc}")
        return Outcome(True, "results logged")
