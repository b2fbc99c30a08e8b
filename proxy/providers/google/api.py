"""Where Gemini lives and how it authenticates: the Gemini API and Vertex AI adapters.

Gemini API: ``POST {host}/v1beta/models/{model}:generateContent`` (and
``:streamGenerateContent?alt=sse``) with ``x-goog-api-key`` (never ``?key=``: URLs reach
logs). A custom host is the host alone (Portkey's convention); the path adds the version,
unless the custom host already ends in one (``/v1beta``).

Vertex AI: ``https://{region}-aiplatform.googleapis.com/v1/projects/{project}/locations/
{region}/publishers/google/models/{model}:generateContent`` with a bearer token: the target's
``vertex_token``, else one obtained before the request is built (``obtain_credentials``:
a service-account key or the gateway's own identity, credentials.py), else its API key.
Region ``global`` lives at ``aiplatform.googleapis.com``; a custom host replaces scheme and
host. Both speak the same body, answer and stream.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import quote

from proxy.body import RequestBody
from proxy.credentials import CloudCredentials, with_fields
from proxy.errors import AuthenticationError, GatewayError, InvalidRequest
from proxy.providers.base import UpstreamRequest
from proxy.providers.google import native as g
from proxy.providers.google.claude import VertexClaude
from proxy.providers.google.credentials import access_token
from proxy.providers.google.embeddings import GeminiEmbeddings, VertexEmbeddings
from proxy.providers.google.errors import parse_error
from proxy.providers.google.models import parse_models
from proxy.providers.google.request import build_body
from proxy.providers.google.response import parse_response
from proxy.providers.google.stream import GeminiStream
from proxy.reply import Completion
from proxy.target import Target

GEMINI_HOST = "https://generativelanguage.googleapis.com"
DEFAULT_VERTEX_REGION = "us-central1"
_VERSIONED = re.compile(r"/v\d+(?:(?:alpha|beta)\d*)?$")
_REGION = re.compile(r"^[a-z0-9-]+$")


def action(stream: bool) -> str:
    return ":streamGenerateContent?alt=sse" if stream else ":generateContent"


def model_path(model: str) -> str:
    return quote(model.removeprefix("models/"), safe="-._~@")


def versioned(host: str, version: str) -> str:
    host = host.rstrip("/")
    return host if _VERSIONED.search(host) else f"{host}/{version}"


class GeminiAdapter(GeminiEmbeddings):
    """The Gemini API (Google AI Studio keys)."""

    name = "google"

    def endpoint(self, target: Target, model: str, stream: bool) -> str:
        base = versioned(target.custom_host or GEMINI_HOST, "v1beta")
        return f"{base}/models/{model_path(model)}{action(stream)}"

    def auth_headers(self, target: Target) -> dict[str, str]:
        if not target.api_key:
            raise AuthenticationError(
                "no API key for provider 'google': send Authorization: Bearer <key>, "
                "x-portkey-api-key, or configure the provider in settings",
                code="missing_api_key",
            )
        return {"x-goog-api-key": target.api_key}

    def build_request(self, body: RequestBody, target: Target, model: str) -> UpstreamRequest:
        stream = body.head.stream
        native = build_body(body.request, model, self.name)
        headers = {"Content-Type": "application/json", **self.auth_headers(target)}
        return UpstreamRequest(
            url=self.endpoint(target, model, stream),
            headers=headers,
            body=g.encoder.encode(native),
            stream=stream,
        )

    def parse_response(
        self, status: int, headers: Mapping[str, str], raw: bytes, model: str
    ) -> Completion:
        return parse_response(raw, model, self.name)

    def parse_error(self, status: int, headers: Mapping[str, str], raw: bytes) -> GatewayError:
        return parse_error(status, headers, raw, self.name)

    def stream_translator(self, model: str, include_usage: bool) -> GeminiStream:
        return GeminiStream(model, include_usage, self.name)

    def models_request(self, target: Target) -> UpstreamRequest:
        base = versioned(target.custom_host or GEMINI_HOST, "v1beta")
        url = f"{base}/models?pageSize=1000"
        return UpstreamRequest(method="GET", url=url, headers=self.auth_headers(target), body=b"")

    def parse_models(self, raw: bytes) -> bytes:
        return parse_models(raw, self.name)


class VertexAdapter(VertexEmbeddings, VertexClaude, GeminiAdapter):
    """Gemini on Vertex AI: same wire format, project/region URL, OAuth bearer token.
    Claude's models on Vertex AI (claude.py): natively for ``POST /v1/messages``, through
    the Anthropic adapter's translation for chat."""

    name = "vertex-ai"

    def build_request(self, body: RequestBody, target: Target, model: str) -> UpstreamRequest:
        if self.speaks_messages(target, model):  # Claude: Anthropic's translation
            return self.chat_request(body, target, model)
        return super().build_request(body, target, model)

    def endpoint(self, target: Target, model: str, stream: bool) -> str:
        return self.publisher_url(target, "google", model, action(stream))

    def publisher_url(
        self,
        target: Target,
        publisher: str,
        model: str,
        method: str,
        default_region: str = DEFAULT_VERTEX_REGION,
    ) -> str:
        """``.../projects/{p}/locations/{r}/publishers/{publisher}/models/{model}{method}``."""
        project = target.text("vertex_project_id")
        if not project:
            raise InvalidRequest(
                "vertex-ai needs a project: x-portkey-vertex-project-id or vertex_project_id",
                param="x-portkey-vertex-project-id",
                code="missing_vertex_project",
            )
        region = (target.text("vertex_region") or default_region).lower()
        if not _REGION.match(region):
            raise InvalidRequest(
                f"vertex region {region!r} is not a region name",
                param="x-portkey-vertex-region",
                code="invalid_vertex_region",
            )
        if target.custom_host:
            host = target.custom_host
        elif region == "global":
            host = "https://aiplatform.googleapis.com"
        else:
            host = f"https://{region}-aiplatform.googleapis.com"
        resource = (
            f"projects/{quote(project, safe='')}/locations/{region}"
            f"/publishers/{publisher}/models/{model_path(model)}"
        )
        return f"{versioned(host, 'v1')}/{resource}{method}"

    def warm(self) -> None:
        """Import google-auth ahead of the first token (only when settings use Vertex)."""
        import importlib

        for module in ("google.auth", "google.oauth2.service_account"):
            try:
                importlib.import_module(module)
            except ImportError:  # the vertex extra is not installed: tokens only
                return

    async def obtain_credentials(self, target: Target, cloud: CloudCredentials) -> Target:
        """The target with a ``vertex_token`` from its service-account key or the gateway's
        own identity (cached, refreshed off the request path); an explicit token wins."""
        if target.text("vertex_token"):
            return target
        found = await access_token(target, cloud)
        if found is None:
            return target
        token, project = found
        if project and not target.text("vertex_project_id"):
            return with_fields(target, vertex_token=token, vertex_project_id=project)
        return with_fields(target, vertex_token=token)

    def auth_headers(self, target: Target) -> dict[str, str]:
        token = target.text("vertex_token") or target.api_key
        if not token:
            raise AuthenticationError(
                "no access token for provider 'vertex-ai': send Authorization: Bearer "
                "<token>, x-portkey-api-key or x-portkey-vertex-service-account-json, or "
                "configure the provider in settings",
                code="missing_api_key",
            )
        return {"Authorization": f"Bearer {token}"}

    def models_request(self, target: Target) -> UpstreamRequest:
        raise InvalidRequest(
            "vertex-ai has no model list this gateway can read (Model Garden is per publisher)",
            param="x-portkey-provider",
            code="unsupported_endpoint",
        )
