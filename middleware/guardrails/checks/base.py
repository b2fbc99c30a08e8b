"""What every check is: parameters validated at start-up, then ``run`` per request.

A check class declares ``Params`` (a msgspec Struct, decoded from the check's
``parameters`` when the guardrail is built: a typo fails at start-up, or with a 400 for a
client's inline guardrail) and implements ``check`` (pure, synchronous) or ``run`` (when it
awaits the network). It returns an ``Outcome``; raising is a bug and counts as a failure.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import msgspec

from middleware.guardrails.caches import JwksEntry, Lru, TtlLru
from middleware.guardrails.documents import Document, RequestDocument, ResponseDocument
from middleware.guardrails.saferegex import PatternCache
from middleware.guardrails.schemas import SchemaCache
from middleware.guardrails.workers import WorkerPool

if TYPE_CHECKING:
    import aiohttp

    from proxy.context import RequestContext

Event = Literal["beforeRequestHook", "afterRequestHook"]
MAX_JWKS_URLS = 256
MAX_DNS_ANSWERS = 1024
MAX_DNS_LOOKUPS = 8  # getaddrinfo runs on a shared thread pool: never let a text fill it


class Outcome(msgspec.Struct, omit_defaults=True):
    verdict: bool
    explanation: str = ""
    data: dict[str, Any] | None = None
    error: str | None = None  # what went wrong, when the check could not decide


class NoParams(msgspec.Struct, forbid_unknown_fields=True):
    pass


class Limits(msgspec.Struct, frozen=True, kw_only=True):
    max_text_chars: int = 1_000_000
    regex_timeout_ms: int = 100
    schema_budget_ms: int = 50
    webhook_timeout_ms: int = 3000
    webhook_fail_closed: bool = False


class CheckEnv:
    """Process-wide things a check may need: limits, the shared session, caches."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._session: aiohttp.ClientSession | None = None
        # keyed by what clients name (inline guardrails): bounded, see caches.py
        self.jwks: Lru[str, JwksEntry] = Lru(MAX_JWKS_URLS)
        self.dns: TtlLru[str, bool] = TtlLru(MAX_DNS_ANSWERS)  # host -> resolves
        self.dns_slots = asyncio.Semaphore(MAX_DNS_LOOKUPS)  # lookups in flight, process-wide
        self.dns_tasks: set[asyncio.Task[bool]] = set()  # lookups, awaited or not
        self.workers = WorkerPool()  # long regex searches
        self.patterns = PatternCache()  # compiled regexMatch rules, shared by every check
        self.schemas = SchemaCache()  # compiled JSON Schemas, shared by every check

    def close(self) -> None:
        self.workers.close()
        for task in self.dns_tasks:
            task.cancel()

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("the guardrails middleware was not started")
        return self._session

    @session.setter
    def session(self, value: aiohttp.ClientSession | None) -> None:
        self._session = value


class CheckContext:
    """What a check sees: the phase, the document, the request and sibling results."""

    def __init__(
        self,
        event: Event,
        ctx: RequestContext,
        doc: Document,
        env: CheckEnv,
        request_doc: Document | None = None,
    ) -> None:
        self.event = event
        self.ctx = ctx
        self.doc = doc
        self.env = env
        self.request_doc = request_doc  # output phase: the request as sent
        self.results: list[dict[str, Any]] = []  # results of the checks run before a log check

    @property
    def text(self) -> str:
        return self.doc.text

    def payload(self) -> dict[str, Any]:
        """The JSON sent to webhooks and log URLs (Portkey's hook context shape)."""
        req_doc = self.doc if self.event == "beforeRequestHook" else self.request_doc
        req: dict[str, Any] = {"json": {}, "text": "", "isStreamingRequest": self.ctx.stream}
        if isinstance(req_doc, RequestDocument):
            req["json"] = {**self.ctx.body.as_dict(), "messages": req_doc.messages}
            req["text"] = req_doc.text
        resp: dict[str, Any] = {"json": {}, "text": "", "statusCode": None}
        if isinstance(self.doc, ResponseDocument):
            resp = {"json": self.doc.body, "text": self.doc.text, "statusCode": 200}
        return {
            "request": req,
            "response": resp,
            "provider": self.ctx.provider,
            "requestType": "chatComplete",
            "metadata": self.ctx.metadata,
            "eventType": self.event,
        }


class Check:
    """Base class of built-in and user checks."""

    Params: ClassVar[type[msgspec.Struct]] = NoParams
    mutator: ClassVar[bool] = False  # rewrites the text (runs even when async is off only)
    needs_text: ClassVar[bool] = True  # looks at the text (size limit applies)

    def __init__(self, params: Any, env: CheckEnv) -> None:
        self.params = params
        self.env = env

    def urls(self) -> list[str]:
        """Outbound URLs this check calls (checked against the host policy when untrusted)."""
        return []

    def check(self, cx: CheckContext) -> Outcome:
        raise NotImplementedError

    async def run(self, cx: CheckContext) -> Outcome:
        return self.check(cx)

    def stream_rewriter(self) -> StreamRewriter | None:
        """How this mutator rewrites streamed text, chunk by chunk (None: it cannot)."""
        return None


class StreamRewriter:
    """Rewrites streamed text. ``hold_from(text)``: where the undecided tail starts."""

    prefix: str = ""

    def rewrite(self, text: str) -> str:
        return text

    def hold_from(self, text: str) -> int:
        return len(text)
