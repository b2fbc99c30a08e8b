"""Where the Messages API lives and how it authenticates.

Portkey's convention for a custom host is the base *including* ``/v1`` (for example
``http://127.0.0.1:8080/v1``); the gateway appends ``/messages``.
"""

from __future__ import annotations

from proxy.errors import AuthenticationError
from proxy.target import Target

BASE_URL = "https://api.anthropic.com/v1"
PATH = "/messages"
API_VERSION = "2023-06-01"

# Anthropic requires max_tokens; OpenAI does not. 4096 is the largest value every Claude
# model accepts (Claude 3 Haiku's output ceiling), so the default never turns a valid
# OpenAI request into a 400, and it is long enough for ordinary chat answers.
DEFAULT_MAX_TOKENS = 4096


def url(target: Target) -> str:
    base = (target.custom_host or BASE_URL).rstrip("/")
    return base + PATH


def headers(target: Target) -> dict[str, str]:
    if not target.api_key:
        raise AuthenticationError(
            "no API key for anthropic: send Authorization: Bearer <key>, x-portkey-api-key, "
            "or configure the provider in settings",
            code="missing_api_key",
        )
    out = {
        "Content-Type": "application/json",
        "x-api-key": target.api_key,
        # pinned by default: 2026-10-21 refuses temperature/top_p, which OpenAI clients send
        "anthropic-version": target.text("anthropic_version") or API_VERSION,
    }
    beta = target.text("anthropic_beta")
    if beta:
        out["anthropic-beta"] = beta
    return out
