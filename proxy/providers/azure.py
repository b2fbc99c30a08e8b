"""Azure OpenAI: OpenAI's wire format at a deployment URL, with ``api-key`` auth.

URL: ``https://{resource}.openai.azure.com/openai/deployments/{deployment}/chat/completions
?api-version={version}``; a custom host replaces ``https://{resource}.openai.azure.com/openai``
as in Portkey's gateway. Auth is ``api-key: <key>`` or ``Authorization: Bearer <Entra token>``.
The deployment defaults to the model name (the usual naming convention).
"""

from __future__ import annotations

from urllib.parse import quote

from proxy.body import RequestBody
from proxy.errors import AuthenticationError, InvalidRequest
from proxy.providers.base import UpstreamRequest
from proxy.providers.fields import FieldSpec
from proxy.providers.openai_compat import CompatRow, OpenAICompatAdapter, join_url
from proxy.target import Target

DEFAULT_API_VERSION = "2024-10-21"


# paths Azure serves per deployment (the model is in the URL); the rest (files, batches,
# fine-tuning, ...) live at the resource level
DEPLOYMENT_PATHS = frozenset({"chat", "completions", "embeddings", "audio", "images"})


class AzureOpenAIAdapter(OpenAICompatAdapter):
    def __init__(self) -> None:
        super().__init__(CompatRow(name="azure-openai", base_url=None, auth="api-key"))

    def base_url(self, target: Target) -> str:
        if target.custom_host:
            return target.custom_host.rstrip("/")
        resource = target.text("resource_name")
        if resource:
            return f"https://{quote(resource, safe='')}.openai.azure.com/openai"
        raise InvalidRequest(
            "azure-openai needs a resource name (x-portkey-azure-resource-name) or a custom host",
            param="x-portkey-azure-resource-name",
            code="missing_azure_resource",
        )

    def account_headers(self, target: Target) -> dict[str, str]:
        token = target.text("azure_ad_token")
        if token:
            return {"Authorization": f"Bearer {token}"}
        if target.api_key:
            return {"api-key": target.api_key}
        raise AuthenticationError(
            "no API key for azure-openai: send Authorization: Bearer <key>, "
            "x-portkey-api-key, x-portkey-azure-ad-token or configure it in settings",
            code="missing_api_key",
        )

    def _version(self, target: Target) -> str:
        return "api-version=" + quote(target.text("api_version") or DEFAULT_API_VERSION, safe="")

    def api_url(self, target: Target, model: str, path: str, query: str = "") -> str:
        """Deployment paths (audio, images, completions, ...) go under the deployment; the
        target's ``api-version`` replaces any the client sent."""
        kept = [p for p in query.split("&") if p and not p.startswith("api-version=")]
        query = "&".join([*kept, self._version(target)])
        if path.split("/", 1)[0] not in DEPLOYMENT_PATHS:
            return join_url(self.base_url(target), path, query)
        deployment = target.text("deployment_id") or model
        if not deployment:
            raise InvalidRequest(
                f"azure-openai serves {path} per deployment: send "
                "x-portkey-azure-deployment-id (or a model in a JSON body)",
                param="x-portkey-azure-deployment-id",
                code="missing_azure_deployment",
            )
        base = f"{self.base_url(target)}/deployments/{quote(deployment, safe='')}"
        return join_url(base, path, query)

    def build_request(self, body: RequestBody, target: Target, model: str) -> UpstreamRequest:
        headers = {**self.account_headers(target), "Content-Type": "application/json"}
        overrides = {"model": model} if model != body.head.model else {}
        return UpstreamRequest(
            url=self.api_url(target, model, "chat/completions"),
            headers=headers,
            body=body.passthrough_bytes(overrides),
            stream=body.head.stream,
        )

    def models_request(self, target: Target) -> UpstreamRequest:
        """``GET /openai/models``: the resource's models (not a deployment's)."""
        url = self.api_url(target, "", "models")
        return UpstreamRequest(
            method="GET", url=url, headers=self.account_headers(target), body=b""
        )


FIELDS = (
    # the resource is the host: a client's resource beside a gateway key is refused
    FieldSpec(name="resource_name", header="x-portkey-azure-resource-name", destination=True),
    FieldSpec(name="deployment_id", header="x-portkey-azure-deployment-id"),
    FieldSpec(name="api_version", header="x-portkey-azure-api-version"),
    FieldSpec(
        name="azure_ad_token", header="x-portkey-azure-ad-token", secret=True, credential=True
    ),
)
ADAPTERS = (AzureOpenAIAdapter(),)
