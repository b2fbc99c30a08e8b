"""A user's own middleware class plugs in by dotted path, with typed options."""

from __future__ import annotations

import msgspec
import openai
import pytest

from proxy.context import RequestContext
from proxy.errors import GatewayError
from proxy.pipeline import Next, build_chain
from proxy.reply import Completion, CompletionReply, Reply, StreamReply
from proxy.schema import ChatCompletion, Choice, ResponseMessage
from tests.conftest import openai_client


class StampOptions(msgspec.Struct, forbid_unknown_fields=True):
    header: str
    value: str = "yes"


class StampMiddleware:
    """Adds a response header and counts the stream chunks it sees."""

    Options = StampOptions
    seen_chunks = 0
    reads_events = True  # it counts chunks: one per event, not the fast relay's blocks

    def __init__(self, options: StampOptions) -> None:
        self.options = options

    async def __call__(self, ctx: RequestContext, call_next: Next) -> Reply:
        reply = await call_next(ctx)
        reply.headers[self.options.header] = self.options.value
        if isinstance(reply, StreamReply):

            async def count(chunks):  # type: ignore[no-untyped-def]
                async for c in chunks:
                    StampMiddleware.seen_chunks += 1
                    yield c

            reply.wrap(count)
        return reply


class CannedAnswer:
    """Short-circuits: answers without calling the rest of the chain."""

    async def __call__(self, ctx: RequestContext, call_next: Next) -> Reply:
        if ctx.request.model != "canned":
            return await call_next(ctx)
        answer = ChatCompletion(
            id="canned-1",
            created=1,
            model="canned",
            choices=[Choice(0, ResponseMessage(content="from middleware"), "stop")],
        )
        return CompletionReply(Completion(parsed=answer))


class Refuse:
    async def __call__(self, ctx: RequestContext, call_next: Next) -> Reply:
        raise GatewayError("refused by policy", status=403, type="permission_error")


def chain(*extra: dict) -> dict:
    return {
        "middleware": [
            {"class": "middleware.logging:LoggingMiddleware"},
            *extra,
            {"class": "middleware.router:RouterMiddleware"},
        ]
    }


def test_user_middleware_with_options(make_gateway, mock_openai) -> None:
    _, upstream = mock_openai
    gw = make_gateway(
        chain({"class": "tests.test_pipeline:StampMiddleware", "options": {"header": "x-stamp"}})
    )
    client = openai_client(gw, upstream)
    raw = client.chat.completions.with_raw_response.create(
        model="m", messages=[{"role": "user", "content": "a b"}]
    )
    assert raw.headers["x-stamp"] == "yes"
    before = StampMiddleware.seen_chunks
    list(
        client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "a b"}], stream=True
        )
    )
    assert StampMiddleware.seen_chunks - before == 5  # role + 3 words + finish


def test_short_circuit_never_reaches_upstream(make_gateway, mock_openai) -> None:
    mock, upstream = mock_openai
    gw = make_gateway(chain({"class": "tests.test_pipeline.CannedAnswer"}))
    client = openai_client(gw, upstream)
    r = client.chat.completions.create(model="canned", messages=[{"role": "user", "content": "x"}])
    assert r.choices[0].message.content == "from middleware" and mock.calls == 0
    # the same answer as a stream when the client asks for one is the cache's job; here a
    # plain call still goes through
    client.chat.completions.create(model="other", messages=[{"role": "user", "content": "x"}])
    assert mock.calls == 1


def test_middleware_error_is_rendered(make_gateway, mock_openai) -> None:
    _, upstream = mock_openai
    gw = make_gateway(chain({"class": "tests.test_pipeline:Refuse"}))
    with pytest.raises(openai.PermissionDeniedError) as info:
        openai_client(gw, upstream).chat.completions.create(
            model="m", messages=[{"role": "user", "content": "x"}]
        )
    assert info.value.body == {
        "message": "refused by policy",
        "type": "permission_error",
        "param": None,
        "code": None,
    }


async def test_chain_order_is_onion() -> None:
    order: list[str] = []

    class Tag:
        def __init__(self, name: str) -> None:
            self.name = name

        async def __call__(self, ctx: RequestContext, call_next: Next) -> Reply:
            order.append(f"{self.name}>")
            reply = await call_next(ctx)
            order.append(f"<{self.name}")
            return reply

    async def terminal(ctx: RequestContext) -> Reply:
        order.append("terminal")
        return CompletionReply(Completion(raw=b"{}"))

    run = build_chain([Tag("a"), Tag("b")], terminal)
    await run(None)  # type: ignore[arg-type]
    assert order == ["a>", "b>", "terminal", "<b", "<a"]


async def test_a_layer_that_skips_a_request_is_not_entered() -> None:
    order: list[str] = []

    class Maybe:
        def __init__(self, name: str, skip: bool) -> None:
            self.name, self.skip = name, skip

        def skips(self, ctx: RequestContext) -> bool:
            order.append(f"{self.name}?")
            return self.skip

        async def __call__(self, ctx: RequestContext, call_next: Next) -> Reply:
            order.append(f"{self.name}>")
            return await call_next(ctx)

    async def terminal(ctx: RequestContext) -> Reply:
        order.append("terminal")
        return CompletionReply(Completion(raw=b"{}"))

    run = build_chain([Maybe("a", True), Maybe("b", False)], terminal)
    await run(None)  # type: ignore[arg-type]
    assert order == ["a?", "b?", "b>", "terminal"]


async def test_a_skips_check_may_refuse_the_request() -> None:
    class Refuse:
        def skips(self, ctx: RequestContext) -> bool:
            raise GatewayError("no", status=400, code="refused")

        async def __call__(self, ctx: RequestContext, call_next: Next) -> Reply:
            raise AssertionError("not entered")

    async def terminal(ctx: RequestContext) -> Reply:
        raise AssertionError("not reached")

    with pytest.raises(GatewayError) as info:
        await build_chain([Refuse()], terminal)(None)  # type: ignore[arg-type]
    assert info.value.code == "refused"
