"""Egress through a corporate HTTP proxy (HTTP_PROXY), when settings ask for it."""

from __future__ import annotations

import aiohttp
import httpx
import openai
from aiohttp import web

from tests.conftest import PROVIDER_KEY
from tests.servers import ServerThread


class ForwardProxy:
    """A minimal forward proxy for plain-http absolute-form requests; records what it saw."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.forward)
        return app

    async def forward(self, request: web.Request) -> web.Response:
        target = str(request.url)  # absolute form: http://host:port/path
        self.seen.append(target)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host",)}
        async with (
            aiohttp.ClientSession() as s,
            s.request(request.method, target, data=await request.read(), headers=headers) as r,
        ):
            return web.Response(body=await r.read(), status=r.status, content_type=r.content_type)


def client(gw: ServerThread, upstream: ServerThread) -> openai.OpenAI:
    """The test's own client must not use HTTP_PROXY: only the gateway's upstream calls."""
    return openai.OpenAI(
        api_key=PROVIDER_KEY,
        base_url=gw.url + "/v1",
        default_headers={
            "x-portkey-provider": "openai",
            "x-portkey-custom-host": upstream.url + "/v1",
        },
        http_client=httpx.Client(trust_env=False),
        max_retries=0,
    )


def test_upstream_calls_go_through_the_proxy(make_gateway, mock_openai, monkeypatch) -> None:
    mock, upstream = mock_openai
    proxy = ForwardProxy()
    with ServerThread(proxy.app) as proxy_server:
        monkeypatch.setenv("HTTP_PROXY", proxy_server.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        gw = make_gateway({"upstream": {"proxy_from_env": True}})
        r = client(gw, upstream).chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "via proxy"}]
        )
        assert r.choices[0].message.content == "echo: via proxy"
        assert proxy.seen == [upstream.url + "/v1/chat/completions"]
        assert mock.calls == 1
        # off by default: the same environment does not divert a default gateway
        direct = make_gateway()
        client(direct, upstream).chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "direct"}]
        )
        assert len(proxy.seen) == 1 and mock.calls == 2
