"""One gateway per module for the guardrail tests (each test sends its own config)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import openai
import pytest

from proxy.app import create_app
from proxy.settings import parse_settings
from tests.conftest import PROVIDER_KEY
from tests.guardrails.upstreams import HookServer, SplitStreamUpstream
from tests.mock_openai import MockOpenAI
from tests.servers import ServerThread


def settings(hooks_url: str, **options: Any) -> dict[str, Any]:
    opts: dict[str, Any] = {
        "max_text_chars": 100_000,
        "webhook_timeout_ms": 500,
        "checks": {"acme.noShouting": "tests.guardrails.user_checks:NoShouting"},
        "guardrails": {
            "no-secrets": {"checks": [{"id": "default.secrets"}], "deny": True},
            "pii-redact": {"checks": [{"id": "default.pii", "parameters": {"redact": True}}]},
            "short": {
                "checks": [{"id": "default.wordCount", "parameters": {"maxWords": 5}}],
                "deny": True,
            },
            "calm": {"checks": [{"id": "acme.noShouting"}], "deny": True},
        },
    }
    opts.update(options)
    return {
        "middleware": [
            {"class": "middleware.logging:LoggingMiddleware"},
            {"class": "middleware.guardrails:GuardrailsMiddleware", "options": opts},
            {"class": "middleware.router:RouterMiddleware"},
        ],
        "configs": {
            "guarded": {"input_guardrails": ["no-secrets", "calm"], "output_guardrails": ["short"]}
        },
    }


class Env:
    def __init__(self, gateway: ServerThread, mock: MockOpenAI, upstream: ServerThread,
                 split: SplitStreamUpstream, split_server: ServerThread, hooks: HookServer,
                 hook_server: ServerThread) -> None:  # fmt: skip
        self.gateway = gateway
        self.mock = mock
        self.upstream = upstream
        self.split = split
        self.split_server = split_server
        self.hooks = hooks
        self.hook_server = hook_server

    @property
    def hooks_url(self) -> str:
        return self.hook_server.url

    def client(self, config: Any = None, split: bool = False, **headers: str) -> openai.OpenAI:
        up = self.split_server if split else self.upstream
        h = {"x-portkey-provider": "openai", "x-portkey-custom-host": up.url + "/v1"}
        if config is not None:
            h["x-portkey-config"] = config if isinstance(config, str) else json.dumps(config)
        h.update({k.replace("_", "-"): v for k, v in headers.items()})
        return openai.OpenAI(
            api_key=PROVIDER_KEY,
            base_url=self.gateway.url + "/v1",
            default_headers=h,
            max_retries=0,
            timeout=10,
        )

    def chat(self, text: str, config: Any = None, split: bool = False, **headers: str) -> Any:
        """Raw response of a non-stream request: (status, body dict)."""
        raw = self.client(config, split, **headers).chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": text}]
        )
        return raw.status_code, json.loads(raw.content)


@pytest.fixture(scope="module")
def env_factory() -> Iterator[Callable[..., Env]]:
    started: list[ServerThread] = []

    def make(**options: Any) -> Env:
        mock = MockOpenAI()
        split = SplitStreamUpstream()
        hooks = HookServer()
        servers = [ServerThread(mock.app), ServerThread(split.app), ServerThread(hooks.app)]
        for s in servers:
            s.start()
            started.append(s)
        raw = settings(servers[2].url, **options)
        gw = ServerThread(lambda: create_app(parse_settings(raw, {}))).start()
        started.append(gw)
        return Env(gw, mock, servers[0], split, servers[1], hooks, servers[2])

    yield make
    for s in reversed(started):
        s.stop()


@pytest.fixture(scope="module")
def env(env_factory: Callable[..., Env]) -> Env:
    return env_factory()


def guard(
    check: str, params: dict[str, Any] | None = None, deny: bool = False, **kw: Any
) -> dict[str, Any]:
    """An inline guardrail with one check."""
    spec: dict[str, Any] = {"id": check}
    if params is not None:
        spec["parameters"] = params
    return {"checks": [spec], "deny": deny, **kw}
