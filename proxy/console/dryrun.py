"""The playground: validate a config as the API does, and dry-run it on a sample request.

Validation is the API's own parser (``parse_config``): the same 400 body, word for word.
The dry run walks the tree the way ``proxy.routing.strategy`` does — fallback children in
order, load-balance children by weight, the conditional branch the sample request's
metadata and params select — and resolves each leaf with the router's own
``leaf_target`` (so an unknown slug or a refused custom host is the error a request would
get). It reads settings only: no provider is called and nothing is sent to any host.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from proxy.errors import GatewayError, InvalidRequest
from proxy.providers import CREDENTIAL_FIELDS, canonical
from proxy.routing.conditions import matches
from proxy.routing.config import ConfigNode, Retry, parse_config
from proxy.routing.resolve import leaf_target, slug_target, split_model
from proxy.routing.retry import RetryPlan

if TYPE_CHECKING:
    from proxy.gateway import Gateway

MASK = "********"
_SECRET_WORDS = ("key", "token", "secret", "password", "authorization")
_NOT_SECRET = frozenset({"virtual_key", "virtualKey", "cache_key"})  # names, not credentials


def masked(node: Any) -> Any:
    """A settings config for display: credential values replaced (settings may hold keys)."""
    if isinstance(node, dict):
        return {
            k: MASK
            if isinstance(k, str)
            and (k in CREDENTIAL_FIELDS or any(w in k.lower() for w in _SECRET_WORDS))
            and k not in _NOT_SECRET
            and isinstance(v, str)
            else masked(v)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [masked(v) for v in node]
    return node


def load(gw: Gateway, config: Any) -> tuple[ConfigNode, bool, str]:
    """(parsed config, inline?, label). A string naming a settings config is that config;
    other text or an object is parsed like an ``x-portkey-config`` header (400 if bad)."""
    if isinstance(config, str) and not config.strip().startswith("{"):
        node = gw.configs.get(config.strip())
        if node is None:
            raise InvalidRequest(
                f"no config with id {config.strip()!r} on this gateway",
                param="x-portkey-config",
                code="unknown_config",
            )
        return node, False, config.strip()
    if not isinstance(config, (str, dict)):
        raise InvalidRequest(
            "config must be a JSON object, its text, or a settings config id",
            param="x-portkey-config",
            code="invalid_config",
        )
    return parse_config(config), True, "inline"


class DryRun:
    """One walk of a config for a sample request: the tree annotated with what would run."""

    def __init__(self, gw: Gateway, sample: dict[str, Any], provider: str | None) -> None:
        self.gw = gw
        self.sample = sample
        self.provider = provider  # what x-portkey-provider would say
        metadata = sample.get("metadata")
        self.data = {
            "metadata": metadata if isinstance(metadata, dict) else {},
            "params": {k: v for k, v in sample.items() if k != "metadata"},
            "url": {"pathname": "/v1/chat/completions"},
        }

    def run(self, config: ConfigNode, inline: bool) -> dict[str, Any]:
        self.inline = inline
        return self.node(config, [config], "config", None)

    def node(
        self, node: ConfigNode, path: list[ConfigNode], index: str, weight_share: float | None
    ) -> dict[str, Any]:
        out: dict[str, Any] = {"index": index}
        if node.name:
            out["name"] = node.name
        if weight_share is not None:
            out["share"] = round(weight_share, 4)
        guards = _guardrails(node)
        if guards:
            out["guardrails"] = guards
        cb = node.cb_config or (node.strategy.cb_config if node.strategy else None)
        if cb is not None:
            out["breaker"] = {
                "failure_threshold": cb.failure_threshold,
                "failure_threshold_percentage": cb.failure_threshold_percentage,
                "cooldown_ms": cb.cooldown_interval,
            }
        if not node.targets:
            out["mode"] = "target"
            out["target"] = self.leaf(path)
            return out
        strategy = node.strategy
        mode = strategy.mode if strategy else "single"
        out["mode"] = mode
        kids = [(c, [*path, c], f"{index}.targets[{i}]") for i, c in enumerate(node.targets)]
        if mode == "loadbalance":
            weights = [1.0 if c.weight is None else c.weight for c in node.targets]
            total = sum(weights)
            out["children"] = [
                self.node(c, p, i, w / total) for (c, p, i), w in zip(kids, weights, strict=True)
            ]
        elif mode == "fallback":
            codes = strategy.on_status_codes if strategy else None
            out["on_status_codes"] = codes  # None: any failure moves on
            out["children"] = [self.node(c, p, i, None) for c, p, i in kids]
        elif mode == "conditional":
            chosen, why = self.choose(node)
            out["children"] = []
            for n, (c, p, i) in enumerate(kids):
                child = self.node(c, p, i, None)
                child["chosen"] = n == chosen
                if n == chosen:
                    child["why"] = why
                out["children"].append(child)
            if chosen is None:
                out["error"] = why
        else:  # single: the first child only
            out["children"] = [self.node(*kids[0], None)]
        return out

    def choose(self, node: ConfigNode) -> tuple[int | None, str]:
        strategy = node.strategy
        assert strategy is not None and node.targets is not None
        names = {t.name: i for i, t in enumerate(node.targets) if t.name}
        for n, cond in enumerate(strategy.conditions or ()):
            if matches(cond.query, self.data):
                return names[cond.then], f"conditions[{n}] matched"
        if strategy.default is not None:
            return names[strategy.default], "no condition matched: default"
        return None, "no routing condition matched this request and the config has no default"

    def leaf(self, path: list[ConfigNode]) -> dict[str, Any]:
        retry: Retry | None = next((n.retry for n in reversed(path) if n.retry), None)
        plan = RetryPlan(retry)
        timeout = next((n.request_timeout for n in reversed(path) if n.request_timeout), None)
        out: dict[str, Any] = {
            "retries": plan.retries,
            "retry_on": sorted(plan.codes) if plan.retries else [],
            "timeout_ms": timeout,
        }
        try:
            target = leaf_target(path, self.gw, {}, self.inline, self.provider)
        except GatewayError as exc:  # the error a request would get on this target
            out["error"] = _error(exc)
            return out
        overrides = target.override_params or {}
        model = overrides.get("model") if isinstance(overrides.get("model"), str) else None
        model = model or str(self.sample.get("model") or "")
        if model.startswith("@"):
            try:
                model = split_model(model)[1]
            except GatewayError as exc:
                out["error"] = _error(exc)
        out.update(provider=target.provider, slug=target.slug, model=model)
        if target.custom_host:
            out["custom_host"] = target.custom_host
        return out


def _error(exc: GatewayError) -> dict[str, Any]:
    return {"status": exc.status, "code": exc.code, "message": exc.message}


def _guardrails(node: ConfigNode) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for phase, lists in (
        ("input", (node.input_guardrails, node.before_request_hooks)),
        ("output", (node.output_guardrails, node.after_request_hooks)),
    ):
        names = [_guard_name(e) for entries in lists for e in entries or ()]
        if names:
            out[phase] = names
    return out


def _guard_name(entry: Any) -> str:
    if isinstance(entry, str):
        return entry
    if isinstance(entry, dict):
        if isinstance(entry.get("id"), str):
            return str(entry["id"])
        checks = [k for k in entry if isinstance(k, str) and "." in k]
        if checks:
            return "inline: " + ", ".join(checks)
    return "inline guardrail"


def dry_run(gw: Gateway, body: dict[str, Any]) -> dict[str, Any]:
    """The playground's answer for ``{config, request, provider}``; raises the API's 400."""
    sample = body.get("request") or {"model": "gpt-4o-mini", "messages": []}
    if not isinstance(sample, dict):
        raise InvalidRequest("request must be a JSON object", param="request")
    provider = body.get("provider") if isinstance(body.get("provider"), str) else None
    model = str(sample.get("model") or "")
    run = DryRun(gw, sample, canonical(provider) if provider else None)
    if model.startswith("@"):  # the router resolves a slug before any config
        slug, name = split_model(model)
        assert slug is not None
        tree: dict[str, Any] = {"index": f"@{slug}", "mode": "target"}
        try:
            target = slug_target(slug, gw, {})
            tree["target"] = {"provider": target.provider, "slug": target.slug, "model": name}
        except GatewayError as exc:
            tree["target"] = {"error": _error(exc)}
        note = f"model names @{slug}: the router sends it there and uses no config"
        return {"routing": "slug", "note": note, "tree": tree}
    config = body.get("config")
    if config in (None, ""):
        if gw.default_config is None:
            raise InvalidRequest("no config: paste one, pick one, or set a default_config")
        node, inline, label = gw.default_config, False, "default_config"
    else:
        node, inline, label = load(gw, config)
    return {"routing": "config", "config": label, "tree": run.run(node, inline)}
