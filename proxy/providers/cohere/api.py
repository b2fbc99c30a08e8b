"""Where Cohere's API v2 lives and how it authenticates.

A custom host is the base the official SDK takes (``cohere.ClientV2(base_url=...)``), for
example ``http://127.0.0.1:8080``; the gateway appends ``/v2/chat`` or ``/v2/embed``. A base
that already ends in ``/v2`` gets only the endpoint's name, so both spellings work.
"""

from __future__ import annotations

from proxy.errors import AuthenticationError
from proxy.target import Target

BASE_URL = "https://api.cohere.com"
CHAT = "chat"
EMBED = "embed"


def url(target: Target, endpoint: str) -> str:
    base = (target.custom_host or BASE_URL).rstrip("/")
    if not base.endswith("/v2"):
        base += "/v2"
    return f"{base}/{endpoint}"


def headers(target: Target, stream: bool = False) -> dict[str, str]:
    if not target.api_key:
        raise AuthenticationError(
            "no API key for cohere: send Authorization: Bearer <key>, x-portkey-api-key, "
            "or configure the provider in settings",
            code="missing_api_key",
        )
    return {
        "Content-Type": "application/json",
        # the reference's curl examples ask for SSE this way when streaming
        "Accept": "text/event-stream" if stream else "application/json",
        "Authorization": f"Bearer {target.api_key}",
    }
