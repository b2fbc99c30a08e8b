"""Google Gemini: the Gemini API (``google``) and Gemini on Vertex AI (``vertex-ai``)."""

from proxy.providers.fields import FieldSpec
from proxy.providers.google.api import GeminiAdapter, VertexAdapter

FIELDS = (
    # the project a Vertex credential acts in: beside a gateway credential, settings pick it
    FieldSpec(name="vertex_project_id", header="x-portkey-vertex-project-id", scoping=True),
    FieldSpec(name="vertex_region", header="x-portkey-vertex-region"),
    FieldSpec(name="vertex_token", secret=True, credential=True),
    # a service account key (JSON): the client's own when it comes from a header or inline
    # config (its token_uri must be Google's), the gateway's from settings
    FieldSpec(
        name="vertex_service_account_json",
        header="x-portkey-vertex-service-account-json",
        secret=True,
        credential=True,
    ),
    # "adc": the gateway's own identity (Application Default Credentials, metadata server)
    FieldSpec(
        name="vertex_auth", header="x-portkey-vertex-auth", credential=True, gateway_only=True
    ),
)
ADAPTERS = (GeminiAdapter(), VertexAdapter())

__all__ = ["ADAPTERS", "FIELDS", "GeminiAdapter", "VertexAdapter"]
