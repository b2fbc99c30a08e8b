"""The one shared aiohttp ClientSession and the upstream call.

One pooled session per process (created on start-up, closed on shut-down): keep-alive
connections are reused across requests and providers. Connection failures map to 502,
timeouts to 504; the messages name the host, never the URL's query or any header.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import aiohttp

from proxy.errors import UpstreamInvalid, UpstreamTimeout, UpstreamUnreachable
from proxy.providers.base import UpstreamRequest
from proxy.settings import UpstreamSettings


def make_session(
    s: UpstreamSettings, resolver: aiohttp.abc.AbstractResolver | None = None
) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(
        resolver=resolver,
        limit=s.pool_size,
        limit_per_host=s.pool_size_per_host,
        keepalive_timeout=s.keepalive_timeout,
        ttl_dns_cache=300,
        enable_cleanup_closed=False,
    )
    timeout = aiohttp.ClientTimeout(
        total=None, sock_connect=s.connect_timeout, sock_read=s.read_timeout
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=timeout,
        auto_decompress=True,
        skip_auto_headers=("User-Agent",),
        # never keep a client's cookies between requests of different tenants
        cookie_jar=aiohttp.DummyCookieJar(),
        raise_for_status=False,
        # egress through a corporate proxy: HTTPS_PROXY / HTTP_PROXY / NO_PROXY
        trust_env=s.proxy_from_env,
    )


def _host(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc.rpartition("@")[2] or url


async def open_upstream(
    session: aiohttp.ClientSession,
    up: UpstreamRequest,
    provider: str,
    timeout: float | None = None,  # noqa: ASYNC109 - bounds only the wait for headers
) -> aiohttp.ClientResponse:
    """Send the request and return once the response headers are in.

    ``timeout`` (seconds) bounds the time to the response headers. Redirects are never
    followed: a provider's 3xx would carry the key and the prompt to a host nobody checked
    (or turn a POST into a GET of an internal URL), so it is a 502 naming the status.
    """
    try:
        coro = session.request(
            up.method, up.url, headers=up.headers, data=up.body, allow_redirects=False
        )
        if timeout is None:
            resp = await coro
        else:
            async with asyncio.timeout(timeout):
                resp = await coro
    except TimeoutError:
        raise UpstreamTimeout(
            f"{provider} at {_host(up.url)} did not answer in time",
            code="upstream_timeout",
            provider=provider,
        ) from None
    except aiohttp.ClientError as exc:
        raise UpstreamUnreachable(
            f"could not reach {provider} at {_host(up.url)} ({type(exc).__name__})",
            code="upstream_unreachable",
            provider=provider,
        ) from None
    if 300 <= resp.status < 400:
        resp.close()
        raise UpstreamInvalid(
            f"{provider} at {_host(up.url)} answered with a redirect (HTTP {resp.status}); "
            "the gateway does not follow upstream redirects",
            provider=provider,
        )
    return resp
