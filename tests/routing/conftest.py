"""Fixtures for the routing tests: scripted upstreams and a gateway with router options."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import openai
import pytest

from tests.conftest import PROVIDER_KEY, GatewayFactory
from tests.routing.upstream import ScriptedUpstream, Step
from tests.servers import ServerThread

# fast backoff so retry tests take milliseconds, not seconds
FAST_BACKOFF = {"base_ms": 20, "max_backoff_ms": 100, "max_wait_ms": 5000}


class Upstream:
    """A scripted upstream and the server it runs on."""

    def __init__(self, mock: ScriptedUpstream, server: ServerThread) -> None:
        self.mock = mock
        self.server = server

    @property
    def calls(self) -> int:
        return self.mock.calls

    def target(self, provider: str = "openai", **extra: Any) -> dict[str, Any]:
        return {"provider": provider, "custom_host": self.server.url + "/v1", **extra}


UpstreamFactory = Callable[..., Upstream]


@pytest.fixture
def upstream() -> Iterator[UpstreamFactory]:
    started: list[ServerThread] = []

    def make(*script: Step, name: str | None = None) -> Upstream:
        mock = ScriptedUpstream(name or f"up{len(started)}", list(script) or ["ok"])
        server = ServerThread(mock.app).start()
        started.append(server)
        return Upstream(mock, server)

    yield make
    for s in started:
        s.stop()


def router_settings(**options: Any) -> dict[str, Any]:
    opts = {"backoff": FAST_BACKOFF, **options}
    return {
        "middleware": [
            {"class": "middleware.logging:LoggingMiddleware"},
            {"class": "middleware.router:RouterMiddleware", "options": opts},
        ]
    }


@pytest.fixture
def routed(make_gateway: GatewayFactory) -> ServerThread:
    """A gateway whose router backs off in milliseconds."""
    return make_gateway(router_settings())


def client(
    gateway: ServerThread | str, config: dict[str, Any] | str, **headers: str
) -> openai.OpenAI:
    default = {"x-portkey-config": config if isinstance(config, str) else json.dumps(config)}
    default.update({k.replace("_", "-"): v for k, v in headers.items()})
    return openai.OpenAI(
        api_key=PROVIDER_KEY,
        base_url=(gateway if isinstance(gateway, str) else gateway.url) + "/v1",
        default_headers=default,
        max_retries=0,
        timeout=20,
    )


MESSAGES = [{"role": "user", "content": "hello"}]


def ask(c: openai.OpenAI, model: str = "gpt-4o-mini", **kw: Any) -> Any:
    """A raw response (headers + parsed body) for a non-streamed request."""
    return c.chat.completions.with_raw_response.create(model=model, messages=MESSAGES, **kw)


def access_lines(logs: Callable[[], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [line for line in logs() if line.get("event") == "request"]
