"""Checks on the request around the text: the model asked for and the metadata sent."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from middleware.guardrails.checks.base import Check, CheckContext, Outcome


class ModelParams(msgspec.Struct, forbid_unknown_fields=True):
    models: list[str]


class ModelWhitelist(Check):
    """Passes when the requested model is listed (``@slug/model`` matches either form)."""

    Params = ModelParams
    needs_text = False

    def __init__(self, params: ModelParams, env: Any) -> None:
        super().__init__(params, env)
        if not params.models:
            raise ValueError("models: must list at least one model")
        self.models = frozenset(params.models)

    def check(self, cx: CheckContext) -> Outcome:
        asked = cx.ctx.body.head.model
        bare = asked.rsplit("/", 1)[-1] if asked.startswith("@") else asked
        ok = asked in self.models or bare in self.models or cx.ctx.model in self.models
        return Outcome(ok, f"model {asked!r} is {'' if ok else 'not '}allowed")


class MetadataParams(msgspec.Struct, forbid_unknown_fields=True):
    metadataKeys: list[str]
    operator: Literal["all", "any", "none"] = "all"


class RequiredMetadataKeys(Check):
    """x-portkey-metadata holds all / any / none of the keys."""

    Params = MetadataParams
    needs_text = False

    def __init__(self, params: MetadataParams, env: Any) -> None:
        super().__init__(params, env)
        if not params.metadataKeys:
            raise ValueError("metadataKeys: must list at least one key")

    def check(self, cx: CheckContext) -> Outcome:
        keys = self.params.metadataKeys
        present = [k for k in keys if k in cx.ctx.metadata]
        op = self.params.operator
        if op == "all":
            ok = len(present) == len(keys)
        elif op == "any":
            ok = bool(present)
        else:
            ok = not present
        missing = [k for k in keys if k not in cx.ctx.metadata]
        return Outcome(ok, f"{len(present)} of {len(keys)} keys present", {"missing": missing})
