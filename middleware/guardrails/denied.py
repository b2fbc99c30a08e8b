"""The 446 answer: an OpenAI-shaped error with Portkey's ``hook_results`` beside it."""

from __future__ import annotations

from typing import Any

import msgspec

from proxy.errors import GatewayError

HOOKS_FAILED_STATUS = 446  # Portkey: guardrail checks failed, request denied
HOOKS_SOFT_FAIL_STATUS = 246  # Portkey: guardrail checks failed, request served

_encoder = msgspec.json.Encoder()


def hook_results(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> dict[str, Any]:
    return {"before_request_hooks": before, "after_request_hooks": after}


class GuardrailDenied(GatewayError):
    status = HOOKS_FAILED_STATUS
    type = "hooks_failed"

    def __init__(self, before: list[dict[str, Any]], after: list[dict[str, Any]]) -> None:
        phase = "input" if not after else "output"
        super().__init__(
            f"The {phase} guardrail checks defined in the config failed; "
            "see `hook_results` for the details.",
            code="guardrail_denied",
        )
        self.before = before
        self.after = after

    def to_json(self) -> bytes:
        body = msgspec.to_builtins(self.body())
        body["hook_results"] = hook_results(self.before, self.after)
        return _encoder.encode(body)
