"""The guardrails middleware's options (decoded and checked at start-up)."""

from __future__ import annotations

from typing import Any

import msgspec


class GuardrailsOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    # guardrail definitions by id, referenced from configs as "input_guardrails": ["id"]
    guardrails: dict[str, dict[str, Any]] = msgspec.field(default_factory=dict)
    # user checks: check id -> dotted path of a Check class
    checks: dict[str, str] = msgspec.field(default_factory=dict)
    webhook_timeout_ms: int = 3000
    webhook_fail_closed: bool = False  # default policy when a webhook cannot answer
    max_text_chars: int = 1_000_000  # longer texts fail the checks that read them
    regex_timeout_ms: int = 100  # per search of a pattern RE2 cannot run (backtracking)
    # worst-case time a jsonSchema validation may take on the event loop; past it the
    # check fails unchecked (jsonschema-rs holds the GIL: no thread can take the work)
    schema_budget_ms: int = 50
