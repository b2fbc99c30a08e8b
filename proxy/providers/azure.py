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
from proxy.providers.openai_compat import CompatRow, OpenAICompatAdapter
from proxy.target import Target

DEFAULT_API_VERSION = "2024-10-21"


class AzureOpenAIAdapter(OpenAICompatAdapter):
    def __init__(self) -> None:
        super().__init__(CompatRow(name="azure-openai", base_url=None, auth="api-key"))

    def build_request(self, body: RequestBody, target: Target, model: str) -> UpstreamRequest:
        if target.custom_host:
            base = target.custom_host.rstrip("/")
        elif target.resource_name:
            base = f"https://{quote(target.resource_name, safe='')}.openai.azure.com/openai"
        else:
            raise InvalidRequest(
                "azure-openai needs a resource name (x-portkey-azure-resource-name) "
                "or a custom host",
                param="x-portkey-azure-resource-name",
                code="missing_azure_resource",
            )
        deployment = quote(target.deployment_id or model, safe="")
        version = quote(target.api_version or DEFAULT_API_VERSION, safe="")
        if target.azure_ad_token:
            headers = {"Authorization": f"Bearer {target.azure_ad_token}"}
        elif target.api_key:
            headers = {"api-key": target.api_key}
        else:
            raise AuthenticationError(
                "no API key for azure-openai: send Authorization: Bearer <key>, "
                "x-portkey-api-key, x-portkey-azure-ad-token or configure it in settings",
                code="missing_api_key",
            )
        headers["Content-Type"] = "application/json"
        overrides = {"model": model} if model != body.head.model else {}
        return UpstreamRequest(
            url=f"{base}/deployments/{deployment}/chat/completions?api-version={version}",
            headers=headers,
            body=body.passthrough_bytes(**overrides),
            stream=body.head.stream,
        )
