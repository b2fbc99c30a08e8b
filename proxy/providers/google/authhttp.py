"""google-auth's HTTP calls on the gateway's aiohttp sessions.

google-auth is synchronous and asks for a ``google.auth.transport.Request``; token fetches
run in a worker thread (``proxy.credentials``), and this transport hands each HTTP call to
the event loop, on a session the gateway chose: the shared, egress-guarded one for a
client's service account, the gateway's own for its own identity. Redirects are never
followed (google-auth then sees the 3xx and fails), answers are bounded, every call has a
deadline. Imported only in the worker thread, so google-auth loads only when used.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from google.auth import exceptions, transport
from multidict import CIMultiDict

ANSWER_LIMIT = 1024 * 1024  # a token or metadata answer is a few KB


class _Response(transport.Response):
    def __init__(self, status: int, headers: CIMultiDict[str], data: bytes) -> None:
        self._status = status
        self._headers = headers  # case-insensitive: google-auth reads "metadata-flavor"
        self._data = data

    @property
    def status(self) -> int:
        return self._status

    @property
    def headers(self) -> Mapping[str, str]:
        return self._headers

    @property
    def data(self) -> bytes:
        return self._data


class LoopTransport(transport.Request):
    """A google-auth transport whose calls run on ``loop`` with ``session()``.

    ``allowed``: the only URLs it may call (a client's key: its checked token endpoint);
    ``check``: the egress policy, asked again before each call of a client's source.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        session: Callable[[], aiohttp.ClientSession],
        timeout: float,
        allowed: frozenset[str] | None = None,
        check: Callable[[str], None] | None = None,
    ) -> None:
        self.loop = loop
        self.session = session
        self.timeout = timeout
        self.allowed = allowed
        self.check = check

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: Any = None,
        **kwargs: Any,
    ) -> _Response:
        if self.allowed is not None and url not in self.allowed:
            raise _error(f"{_host(url)} is not a token endpoint it may call")
        future = asyncio.run_coroutine_threadsafe(self._send(url, method, body, headers), self.loop)
        try:
            return future.result(self.timeout + 1)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise _error(f"{_host(url)} did not answer in time") from None

    async def _send(
        self, url: str, method: str, body: Any, headers: Mapping[str, str] | None
    ) -> _Response:
        if self.check is not None:
            self.check(url)  # a GatewayError (403) reaches the client as it is
        try:
            async with asyncio.timeout(self.timeout):
                resp = await self.session().request(
                    method, url, data=body, headers=dict(headers or {}), allow_redirects=False
                )
                async with resp:
                    data = bytearray()
                    async for piece in resp.content.iter_any():
                        data += piece
                        if len(data) > ANSWER_LIMIT:
                            raise _error(f"{_host(url)} answered too much")
                    return _Response(resp.status, CIMultiDict(resp.headers), bytes(data))
        except TimeoutError:
            raise _error(f"{_host(url)} did not answer in time") from None
        except aiohttp.ClientError as exc:
            raise _error(f"could not reach {_host(url)} ({type(exc).__name__})") from None


def _error(message: str) -> Exception:
    return exceptions.TransportError(message)  # type: ignore[no-untyped-call]


def _host(url: str) -> str:
    return urlsplit(url).netloc.rpartition("@")[2] or "the token endpoint"
