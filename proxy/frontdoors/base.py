"""Defaults most front doors share: OpenAI-shaped errors, one endpoint, JSON bodies."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import msgspec
from aiohttp import web

from proxy.edge import JSON, json_error, read_request_body
from proxy.errors import GatewayError, InvalidRequest, validation_where
from proxy.observability.observer import OVERHEAD_HEADER
from proxy.reply import BodyReply, Reply

if TYPE_CHECKING:
    from proxy.context import RequestContext
    from proxy.gateway import Gateway


class BaseDoor:
    endpoint: str = ""
    routes: ClassVar[tuple[tuple[str, str], ...]] = ()
    targetless: ClassVar[frozenset[str]] = frozenset()

    @property
    def endpoints(self) -> tuple[str, ...]:
        return (self.endpoint,)

    def setup(self, gw: Gateway) -> None:
        self.gw = gw

    def endpoint_of(self, request: web.Request) -> str:
        return self.endpoint

    async def shutdown(self) -> None:
        return None

    def error(self, exc: GatewayError, headers: dict[str, str]) -> web.Response:
        return json_error(exc, headers)

    async def respond(
        self, request: web.Request, ctx: RequestContext, reply: Reply, headers: dict[str, str]
    ) -> web.StreamResponse:
        """A JSON answer relayed as bytes (doors with their own formats override this)."""
        assert isinstance(reply, BodyReply) and isinstance(reply.body, bytes)
        headers[OVERHEAD_HEADER] = self.gw.observability.overhead_header(ctx)
        return web.Response(
            body=reply.body, status=reply.status, content_type=JSON, headers=headers
        )

    async def read_json(self, request: web.Request, limit: int) -> bytes:
        raw = await read_request_body(request, limit)
        if not raw.strip():
            raise InvalidRequest("request body is empty; expected a JSON object", code="empty_body")
        return raw


def decode_head(decoder: msgspec.json.Decoder[Any], raw: bytes) -> Any:
    """Decode a front door's head struct; 400 naming the field (or the JSON error)."""
    try:
        return decoder.decode(raw)
    except msgspec.ValidationError as exc:
        message, param = validation_where(exc)
        if param:
            raise InvalidRequest(f"{param}: {message}", param=param, code="invalid_value") from None
        if "missing required field `" in message:
            param = message.split("`")[1]
            raise InvalidRequest(
                f"{param}: is required", param=param, code="invalid_value"
            ) from None
        raise InvalidRequest(message, code="invalid_value") from None
    except msgspec.DecodeError as exc:
        raise InvalidRequest(
            f"request body is not valid JSON: {exc}", code="invalid_json"
        ) from None
    except RecursionError:  # msgspec's depth limit (about a thousand levels): the client's
        raise InvalidRequest(  # doing, not a gateway failure
            "request body nests too deeply", code="invalid_json"
        ) from None
