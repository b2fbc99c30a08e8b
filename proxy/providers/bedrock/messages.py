"""Claude on Bedrock through InvokeModel: ``POST /v1/messages`` relayed natively.

Bedrock serves Anthropic's Messages body for Claude models on ``/model/{id}/invoke`` and
``/invoke-with-response-stream``, with three differences from Anthropic's own API: the
model is in the URL (not the body), ``anthropic_version`` is ``bedrock-2023-05-31`` in the
body (not a header), and betas are an ``anthropic_beta`` list in the body. A stream is AWS
eventstream whose ``chunk`` frames carry each Messages event base64-encoded in ``bytes``.
count_tokens is not offered natively here (the front door estimates it).

Chat requests to Claude take this road too when they need what the gateway carries only in
Anthropic's own body (``chat_request``): thinking, whose signed blocks come back as
Anthropic's, and ``cache_control`` on the exact block. Everything else stays on Converse.
"""

from __future__ import annotations

import base64
import binascii
import re

import msgspec

from proxy.body import RequestBody
from proxy.errors import UpstreamInvalid
from proxy.providers.anthropic.hosts import ClaudeChat, hosted_body
from proxy.providers.anthropic.messages import MessagesTranslation
from proxy.providers.anthropic.native import encoder
from proxy.providers.anthropic.thinking import wants_thinking
from proxy.providers.base import MessagesCall, UpstreamRequest
from proxy.providers.bedrock.api import auth_headers, model_url
from proxy.providers.bedrock.errors import parse_error, stream_error
from proxy.providers.bedrock.eventstream import Frame
from proxy.providers.common import has_cache_control
from proxy.sse import SSEEvent
from proxy.target import Target

BEDROCK_VERSION = "bedrock-2023-05-31"
# Claude's model ids, with or without a cross-region prefix, or inside an ARN
# (anthropic.claude-3-haiku-..., us.anthropic.claude-sonnet-4-5-..., arn:...:inference-profile/
# global.anthropic.claude-...); anything else (an application inference profile's opaque
# ARN included) goes through Converse
_CLAUDE = re.compile(r"(?:^|[.:/])anthropic\.claude", re.IGNORECASE)


class _Chunk(msgspec.Struct):
    bytes: str


_chunk = msgspec.json.Decoder(_Chunk)
_decoder = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()


def speaks_messages(target: Target, model: str) -> bool:
    return _CLAUDE.search(model) is not None


def messages_request(body: bytes, call: MessagesCall) -> UpstreamRequest | None:
    if call.count:
        return None
    native = _decoder.decode(body)
    native.pop("model", None)
    native.pop("stream", None)  # the operation says it
    native["anthropic_version"] = BEDROCK_VERSION
    betas = [b.strip() for b in (call.target.text("anthropic_beta") or "").split(",") if b.strip()]
    betas += [b for b in call.betas if b not in betas]
    if betas:
        native["anthropic_beta"] = betas
    payload = _encoder.encode(native)
    op = "invoke-with-response-stream" if call.stream else "invoke"
    url = model_url(call.target, call.model, op)
    return UpstreamRequest(
        url=url,
        headers=auth_headers(call.target, url, payload),
        body=payload,
        stream=call.stream,
        framing="aws-eventstream" if call.stream else "sse",
    )


def frame_events(frame: Frame) -> list[SSEEvent]:
    """One eventstream frame -> the Messages event it carries (exceptions raise)."""
    if frame.message_type != "event":
        raise stream_error(frame)
    if frame.event_type != "chunk":
        return []  # event kinds added later carry no Messages event
    try:
        data = base64.b64decode(_chunk.decode(frame.payload).bytes, validate=True)
    except (msgspec.DecodeError, msgspec.ValidationError, binascii.Error):
        raise UpstreamInvalid(
            "bedrock sent a chunk frame that is not a base64 Messages event", provider="bedrock"
        ) from None
    return [SSEEvent(data)]


def messages_translation(chat: bool) -> MessagesTranslation:
    return MessagesTranslation("bedrock", parse_error, frame_events, chat)


def wants_invoke(body: RequestBody, model: str) -> bool:
    """Claude, asked to think or to cache: InvokeModel with Anthropic's body."""
    if _CLAUDE.search(model) is None:
        return False
    req = body.request
    return wants_thinking(req, model) or has_cache_control(req)


def chat_request(body: RequestBody, target: Target, model: str) -> UpstreamRequest:
    native = hosted_body(body, model, "bedrock", BEDROCK_VERSION, stream_field=False)
    betas = [b.strip() for b in (target.text("anthropic_beta") or "").split(",") if b.strip()]
    if betas:
        native.anthropic_beta = betas
    payload = encoder.encode(native)
    stream = body.head.stream
    url = model_url(target, model, "invoke-with-response-stream" if stream else "invoke")
    return UpstreamRequest(
        url=url,
        headers=auth_headers(target, url, payload),
        body=payload,
        stream=stream,
        framing="aws-eventstream" if stream else "sse",
        translation=ClaudeChat("bedrock", parse_error, frame_events),
    )
