"""Google Gemini: the Gemini API (``google``) and Gemini on Vertex AI (``vertex-ai``)."""

from proxy.providers.google.api import GeminiAdapter, VertexAdapter

__all__ = ["GeminiAdapter", "VertexAdapter"]
