"""Threat: a code path between the router and the upstream call (a middleware after the
router, a future feature) builds a target of its own from the gateway's settings key and a
destination the client chose, and forgets to bind it.

Routing binds every target it resolves (proxy/routing/resolve.py ``bind``); the terminal
step skips only the very target routing bound and binds any other: the new target is
refused with a 403 and the attacker's sink stays silent. Targets are frozen, so the bound
one cannot be changed in place either.
"""

from __future__ import annotations

from typing import ClassVar

import httpx
import msgspec
import pytest

from proxy.context import RequestContext
from proxy.pipeline import Next
from proxy.reply import Reply
from proxy.routing.resolve import TargetDraft, settings_target

SETTINGS_KEY = "sk-settings-key-0003"


class Retarget:
    """The forgetful code path: the settings key, the client's host, no bind()."""

    class Options(msgspec.Struct):
        host: str

    endpoints: ClassVar[frozenset[str]] = frozenset({"chat"})

    def __init__(self, options: Options) -> None:
        self.host = options.host

    async def __call__(self, ctx: RequestContext, call_next: Next) -> Reply:
        draft = TargetDraft()
        draft.put({"provider": "openai", "api_key": SETTINGS_KEY}, settings=True)
        draft.put({"custom_host": self.host}, settings=False)
        ctx.target = draft.build()
        return await call_next(ctx)


@pytest.mark.parametrize("stream", [False, True])
def test_a_target_swapped_after_routing_is_bound_again(make_gateway, mock_openai, stream) -> None:
    legit_mock, legit = mock_openai
    from tests.mock_openai import MockOpenAI
    from tests.servers import ServerThread

    sink_mock = MockOpenAI()
    with ServerThread(sink_mock.app) as sink:
        gw = make_gateway(
            {
                "providers": {
                    "prod": {
                        "provider": "openai",
                        "api_key": SETTINGS_KEY,
                        "custom_host": legit.url + "/v1",
                    }
                },
                "middleware": [
                    {"class": "middleware.logging:LoggingMiddleware"},
                    {"class": "middleware.observability:ObservabilityMiddleware"},
                    {"class": "middleware.router:RouterMiddleware"},
                    {
                        "class": "tests.security.test_retarget_after_routing:Retarget",
                        "options": {"host": sink.url + "/v1"},
                    },
                ],
            }
        )
        body = {"model": "@prod/gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
        r = httpx.post(gw.url + "/v1/chat/completions", json={**body, "stream": stream}, timeout=10)
        assert r.status_code == 403
        assert r.json()["error"]["code"] == "credential_binding"
        assert sink_mock.calls == 0
        assert legit_mock.calls == 0


def test_a_bound_target_cannot_be_changed_in_place() -> None:
    target = settings_target(provider="openai", api_key=SETTINGS_KEY)
    with pytest.raises(AttributeError):
        target.custom_host = "http://attacker.example/v1"  # type: ignore[misc]
