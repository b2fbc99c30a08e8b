"""AWS Bedrock through the Converse and ConverseStream APIs.

``api`` (URL, SigV4 / API-key auth), ``request`` (OpenAI -> Converse), ``response``
(Converse -> OpenAI), ``stream`` (ConverseStream events -> chunks), ``eventstream`` (the
binary framing), ``errors``. See docs/providers/bedrock.md for what translates and what not.
``messages``: Claude through InvokeModel for ``POST /v1/messages`` (no translation).
``credentials``: the gateway's own AWS identity (chain, AssumeRole), settings only.
"""

from __future__ import annotations

from collections.abc import Mapping

from proxy.body import RequestBody
from proxy.credentials import CloudCredentials
from proxy.errors import GatewayError
from proxy.providers.anthropic.messages import MessagesTranslation
from proxy.providers.base import MessagesCall, UpstreamRequest
from proxy.providers.bedrock import credentials, messages, models
from proxy.providers.bedrock import native as nv
from proxy.providers.bedrock.api import auth_headers, endpoint_url
from proxy.providers.bedrock.embeddings import BedrockEmbeddings
from proxy.providers.bedrock.errors import parse_error
from proxy.providers.bedrock.request import build_converse
from proxy.providers.bedrock.response import completion_id, parse_completion
from proxy.providers.bedrock.stream import ConverseStreamTranslator
from proxy.providers.fields import FieldSpec
from proxy.reply import Completion
from proxy.target import Target


class BedrockAdapter(BedrockEmbeddings):
    name = "bedrock"
    needs_image_bytes = True  # Converse takes image bytes or S3 only (proxy/imagefetch.py)

    def warm(self) -> None:
        """Import botocore ahead of the first request (~140 ms that would block the loop)."""
        import importlib

        for module in (
            "botocore.auth",
            "botocore.awsrequest",
            "botocore.eventstream",
            "botocore.session",
            "botocore.credentials",
        ):
            importlib.import_module(module)

    async def obtain_credentials(self, target: Target, cloud: CloudCredentials) -> Target:
        """The gateway's own AWS keys when settings ask for them (credentials.py)."""
        return await credentials.prepared(target, cloud)

    def build_request(self, body: RequestBody, target: Target, model: str) -> UpstreamRequest:
        if messages.wants_invoke(body, model):  # Claude thinking or caching (messages.py)
            return messages.chat_request(body, target, model)
        req = body.request
        stream = body.head.stream
        payload = nv.request_encoder.encode(build_converse(req))
        url = endpoint_url(target, model, stream)
        return UpstreamRequest(
            url=url,
            headers=auth_headers(target, url, payload),
            body=payload,
            stream=stream,
            framing="aws-eventstream" if stream else "sse",
        )

    def parse_response(
        self, status: int, headers: Mapping[str, str], raw: bytes, model: str
    ) -> Completion:
        return Completion(parsed=parse_completion(raw, model, completion_id(headers)))

    def parse_error(self, status: int, headers: Mapping[str, str], raw: bytes) -> GatewayError:
        return parse_error(status, headers, raw)

    def stream_translator(self, model: str, include_usage: bool) -> ConverseStreamTranslator:
        return ConverseStreamTranslator(model, include_usage)

    def models_request(self, target: Target) -> UpstreamRequest:
        return models.models_request(target)

    def parse_models(self, raw: bytes) -> bytes:
        return models.parse_models(raw)

    # ``POST /v1/messages`` to Claude models through InvokeModel (messages.py)

    def speaks_messages(self, target: Target, model: str) -> bool:
        return messages.speaks_messages(target, model)

    def messages_request(self, body: bytes, call: MessagesCall) -> UpstreamRequest | None:
        return messages.messages_request(body, call)

    def messages_translation(self, chat: bool) -> MessagesTranslation:
        return messages.messages_translation(chat)


FIELDS = (
    FieldSpec(name="aws_access_key_id", header="x-portkey-aws-access-key-id", credential=True),
    FieldSpec(
        name="aws_secret_access_key",
        header="x-portkey-aws-secret-access-key",
        secret=True,
        credential=True,
    ),
    FieldSpec(
        name="aws_session_token", header="x-portkey-aws-session-token", secret=True, credential=True
    ),
    FieldSpec(name="aws_region", header="x-portkey-aws-region"),
    # the gateway's own identity (settings only, proxy/providers/bedrock/credentials.py):
    # "chain" is botocore's credential chain; a role ARN is assumed from it (or from the
    # settings' key pair); a profile names one in the gateway's AWS config files
    FieldSpec(name="aws_auth", header="x-portkey-aws-auth", credential=True, gateway_only=True),
    FieldSpec(
        name="aws_role_arn", header="x-portkey-aws-role-arn", credential=True, gateway_only=True
    ),
    FieldSpec(
        name="aws_external_id", header="x-portkey-aws-external-id", secret=True, gateway_only=True
    ),
    FieldSpec(
        name="aws_role_session_name", header="x-portkey-aws-role-session-name", gateway_only=True
    ),
    FieldSpec(
        name="aws_profile", header="x-portkey-aws-profile", credential=True, gateway_only=True
    ),
)
ADAPTERS = (BedrockAdapter(),)

__all__ = ["ADAPTERS", "FIELDS", "BedrockAdapter"]
