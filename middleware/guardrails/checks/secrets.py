"""Secret detection with optional redaction: provider API keys, cloud keys, tokens, private
key blocks and JWTs."""

from __future__ import annotations

import re
from typing import Any, Literal

import msgspec

from middleware.guardrails.checks.base import Check, CheckContext, Outcome, StreamRewriter
from middleware.guardrails.checks.pii import detect_or_redact
from middleware.guardrails.detect import Detector, DetectorRewriter, Pattern

Category = Literal[
    "private_key", "jwt", "openai_key", "anthropic_key", "aws_access_key", "github_token",
    "slack_token", "google_api_key", "stripe_key",
]  # fmt: skip

PATTERNS: dict[str, Pattern] = {
    # the block up to its END line, or its base64 body when there is none; the lazy scan
    # stops at the next BEGIN, or 1 MB of BEGIN lines cost 20,000 steps each (9 s)
    "private_key": Pattern(
        "private_key",
        re.compile(
            r"-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY-----(?:(?:(?!-----BEGIN ).){0,20000}?"
            r"-----END [A-Z0-9 ]{0,40}PRIVATE KEY-----|[A-Za-z0-9+/=\s]{0,20000})",
            re.DOTALL,
        ),
    ),
    "jwt": Pattern("jwt", re.compile(r"\beyJ[\w-]{5,8000}\.eyJ[\w-]{5,8000}\.[\w-]{10,8000}")),
    "anthropic_key": Pattern("anthropic_key", re.compile(r"\bsk-ant-[\w-]{20,300}")),
    "openai_key": Pattern(
        "openai_key", re.compile(r"\bsk-(?:proj-|svcacct-|admin-)?[\w-]{20,300}")
    ),
    "aws_access_key": Pattern(
        "aws_access_key", re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b")
    ),
    "github_token": Pattern(
        "github_token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_\w{22,255})")
    ),
    "slack_token": Pattern("slack_token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,250}")),
    "google_api_key": Pattern("google_api_key", re.compile(r"\bAIza[\w-]{35}\b")),
    "stripe_key": Pattern("stripe_key", re.compile(r"\b[rsp]k_(?:live|test)_[A-Za-z0-9]{16,250}")),
}  # fmt: skip
ALL: tuple[str, ...] = tuple(PATTERNS)


class SecretsParams(msgspec.Struct, forbid_unknown_fields=True):
    categories: list[Category] = msgspec.field(default_factory=lambda: list(ALL))  # type: ignore[arg-type]
    redact: bool = False


class Secrets(Check):
    """Fails when a secret is found; with ``redact`` it is replaced and the check passes."""

    Params = SecretsParams

    def __init__(self, params: SecretsParams, env: Any) -> None:
        super().__init__(params, env)
        if not params.categories:
            raise ValueError("categories: must list at least one category")
        self.detector = Detector([PATTERNS[c] for c in ALL if c in params.categories])
        self.mutator = params.redact  # type: ignore[misc]

    def check(self, cx: CheckContext) -> Outcome:
        return detect_or_redact(self.detector, cx, self.params.redact, "secret")

    def stream_rewriter(self) -> StreamRewriter | None:
        return DetectorRewriter(self.detector) if self.params.redact else None
