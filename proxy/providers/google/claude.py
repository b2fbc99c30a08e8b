"""Claude on Vertex AI: ``POST /v1/messages`` relayed natively through rawPredict, and
chat requests translated by the Anthropic adapter's code (``chat_request``).

Vertex serves Anthropic's Messages body for the ``anthropic`` publisher's models on
``.../publishers/anthropic/models/{model}:rawPredict`` and ``:streamRawPredict`` (SSE, the
same events as Anthropic's), with the model in the URL and ``anthropic_version``
``vertex-2023-10-16`` in the body; betas go in the ``anthropic-beta`` header. Token counts:
``.../publishers/anthropic/models/count-tokens:rawPredict``, model in the body. Errors of the
platform (auth, quota, unknown model) come in Google's shape, errors of the model in
Anthropic's.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from proxy.body import RequestBody
from proxy.errors import GatewayError
from proxy.providers.anthropic import errors as anthropic_errors
from proxy.providers.anthropic.hosts import ClaudeChat, hosted_body
from proxy.providers.anthropic.messages import MessagesTranslation, merged_betas
from proxy.providers.anthropic.native import encoder
from proxy.providers.base import MessagesCall, UpstreamRequest
from proxy.providers.google.errors import parse_error
from proxy.target import Target

VERTEX_VERSION = "vertex-2023-10-16"
# Claude is not served in every Vertex region (not in the Gemini default us-central1); the
# global endpoint serves every Claude model that Vertex has
CLAUDE_REGION = "global"

_decoder = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()


def vertex_error(status: int, headers: Mapping[str, str], raw: bytes) -> GatewayError:
    if anthropic_errors.is_anthropic_error(raw):
        return anthropic_errors.parse_error(status, headers, raw, "vertex-ai")
    return parse_error(status, headers, raw, "vertex-ai")


class VertexClaude:
    """The Messages calls of ``VertexAdapter`` (which supplies the two methods below)."""

    name: str

    def publisher_url(
        self, target: Target, publisher: str, model: str, method: str, default_region: str = ...
    ) -> str:
        raise NotImplementedError

    def auth_headers(self, target: Target) -> dict[str, str]:
        raise NotImplementedError

    def speaks_messages(self, target: Target, model: str) -> bool:
        return model.startswith("claude")

    def messages_request(self, body: bytes, call: MessagesCall) -> UpstreamRequest:
        target = call.target
        native = _decoder.decode(body)
        if call.count:
            native["model"] = call.model
            url = self.publisher_url(
                target, "anthropic", "count-tokens", ":rawPredict", CLAUDE_REGION
            )
        else:
            native.pop("model", None)
            method = ":streamRawPredict" if call.stream else ":rawPredict"
            url = self.publisher_url(target, "anthropic", call.model, method, CLAUDE_REGION)
        native["anthropic_version"] = VERTEX_VERSION
        headers = {"Content-Type": "application/json", **self.auth_headers(target)}
        betas = merged_betas(target, call)
        if betas:
            headers["anthropic-beta"] = ",".join(betas)
        return UpstreamRequest(
            url=url, headers=headers, body=_encoder.encode(native), stream=call.stream
        )

    def messages_translation(self, chat: bool) -> MessagesTranslation:
        return MessagesTranslation(self.name, vertex_error, chat=chat)

    def chat_request(self, body: RequestBody, target: Target, model: str) -> UpstreamRequest:
        """A chat request for a Claude model: Anthropic's translation, sent to rawPredict."""
        stream = body.head.stream
        native = hosted_body(body, model, self.name, VERTEX_VERSION, stream_field=True)
        method = ":streamRawPredict" if stream else ":rawPredict"
        url = self.publisher_url(target, "anthropic", model, method, CLAUDE_REGION)
        headers = {"Content-Type": "application/json", **self.auth_headers(target)}
        beta = target.text("anthropic_beta")
        if beta:
            headers["anthropic-beta"] = beta
        return UpstreamRequest(
            url=url,
            headers=headers,
            body=encoder.encode(native),
            stream=stream,
            translation=ClaudeChat(self.name, vertex_error),
        )
