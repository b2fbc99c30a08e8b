"""Provider registry: name -> adapter. Adding a provider is one module and one line here."""

from __future__ import annotations

from proxy.errors import InvalidRequest
from proxy.providers.anthropic import AnthropicAdapter
from proxy.providers.azure import AzureOpenAIAdapter
from proxy.providers.base import ProviderAdapter
from proxy.providers.bedrock import BedrockAdapter
from proxy.providers.google import GeminiAdapter, VertexAdapter
from proxy.providers.openai_compat import ROWS, OpenAICompatAdapter

PROVIDERS: dict[str, ProviderAdapter] = {row.name: OpenAICompatAdapter(row) for row in ROWS}
PROVIDERS["azure-openai"] = AzureOpenAIAdapter()
PROVIDERS["anthropic"] = AnthropicAdapter()
PROVIDERS["google"] = GeminiAdapter()
PROVIDERS["vertex-ai"] = VertexAdapter()
PROVIDERS["bedrock"] = BedrockAdapter()

# names clients use for the same provider
ALIASES: dict[str, str] = {"azure": "azure-openai", "mistral": "mistral-ai", "xai": "x-ai"}


def canonical(name: str) -> str:
    name = name.strip().lower()
    return ALIASES.get(name, name)


def get_adapter(name: str) -> ProviderAdapter:
    adapter = PROVIDERS.get(canonical(name))
    if adapter is None:
        raise InvalidRequest(
            f"unknown provider {name!r}; known providers: {', '.join(sorted(PROVIDERS))}",
            param="x-portkey-provider",
            code="unknown_provider",
        )
    return adapter
