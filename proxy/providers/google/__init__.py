"""Google Gemini: the Gemini API (``google``) and Gemini on Vertex AI (``vertex-ai``)."""

from proxy.providers.fields import FieldSpec
from proxy.providers.google.api import GeminiAdapter, VertexAdapter

FIELDS = (
    FieldSpec(name="vertex_project_id", header="x-portkey-vertex-project-id"),
    FieldSpec(name="vertex_region", header="x-portkey-vertex-region"),
    FieldSpec(name="vertex_token", secret=True, credential=True),
)
ADAPTERS = (GeminiAdapter(), VertexAdapter())

__all__ = ["ADAPTERS", "FIELDS", "GeminiAdapter", "VertexAdapter"]
