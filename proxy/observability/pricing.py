"""Cost of a request: tokens times the price table (USD per million tokens).

The table ships with the package (``prices.json``: source and date inside) and is
overridable from settings, by a file of the same shape and by an inline table.
"""

from __future__ import annotations

from importlib import resources

import msgspec

from proxy.observability.settings import ObservabilitySettings, Price
from proxy.pipeline import SettingsError
from proxy.schema import PromptTokensDetails, Usage

PER_TOKEN = 1_000_000.0


Aliases = dict[str, str | list[str]]  # provider -> the table(s) it is priced from, in order


class PriceFile(msgspec.Struct, kw_only=True):
    prices: dict[str, dict[str, Price]]
    aliases: Aliases = msgspec.field(default_factory=dict)
    unit: str = ""
    checked: str = ""
    note: str = ""
    sources: dict[str, str] = msgspec.field(default_factory=dict)


def _decode(data: bytes, where: str) -> PriceFile:
    try:
        return msgspec.json.decode(data, type=PriceFile)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise SettingsError(f"{where}: {exc}") from None


def shipped() -> PriceFile:
    data = resources.files("proxy.observability").joinpath("prices.json").read_bytes()
    return _decode(data, "proxy/observability/prices.json")


class PriceTable:
    """Looks a (provider, model) up: exact name, else the longest ``name-`` or ``name@``
    prefix (Vertex AI dates its models with ``@``), in the provider's own table, else in
    the tables its alias names (Vertex AI: Gemini's, then Claude's). A model id with a
    cross-region inference prefix (Bedrock's ``us.``, ``global.``) is also looked up
    without it."""

    def __init__(self, prices: dict[str, dict[str, Price]], aliases: Aliases | None = None) -> None:
        self.prices = prices
        self.aliases = aliases or {}
        self._memo: dict[tuple[str, str], Price | None] = {}

    @classmethod
    def from_settings(cls, s: ObservabilitySettings) -> PriceTable:
        base = shipped()
        prices = {p: dict(models) for p, models in base.prices.items()}
        aliases = dict(base.aliases)
        layers: list[dict[str, dict[str, Price]]] = []
        if s.prices_file:
            try:
                with open(s.prices_file, "rb") as fh:
                    extra = _decode(fh.read(), f"observability.prices_file {s.prices_file}")
            except OSError as exc:
                raise SettingsError(
                    f"observability.prices_file: {s.prices_file}: {exc.strerror or exc}"
                ) from None
            layers.append(extra.prices)
            aliases.update(extra.aliases)
        layers.append(s.prices)
        for layer in layers:
            for provider, models in layer.items():
                prices.setdefault(provider, {}).update(models)
        return cls(prices, aliases)

    def lookup(self, provider: str | None, model: str | None) -> Price | None:
        if not provider or not model:
            return None
        key = (provider, model)
        try:
            return self._memo[key]
        except KeyError:
            pass
        found = self._find(provider, model)
        if len(self._memo) < 10_000:  # bounded: model names come from clients
            self._memo[key] = found
        return found

    def _find(self, provider: str, model: str) -> Price | None:
        names = [provider] if provider in self.prices else []
        alias = self.aliases.get(provider, [])
        names += [alias] if isinstance(alias, str) else alias
        head, dot, rest = model.partition(".")  # us.anthropic.claude-...: a region prefix
        candidates = [model, rest] if dot and head.isalpha() and len(head) <= 6 else [model]
        for name in names:
            table = self.prices.get(name) or {}
            for candidate in candidates:
                found = _in_table(table, candidate)
                if found is not None:
                    return found
        return None


def _in_table(table: dict[str, Price], model: str) -> Price | None:
    if model in table:
        return table[model]
    best = ""
    for name in table:
        if len(name) > len(best) and model.startswith((name + "-", name + "@")):
            best = name
    return table[best] if best else None


def cached_tokens(usage: Usage) -> int:
    details = usage.prompt_tokens_details
    if isinstance(details, PromptTokensDetails) and isinstance(details.cached_tokens, int):
        return max(0, min(details.cached_tokens, usage.prompt_tokens))
    return 0


def cache_written_tokens(usage: Usage) -> int:
    details = usage.prompt_tokens_details
    if isinstance(details, PromptTokensDetails) and isinstance(details.cache_write_tokens, int):
        return max(0, min(details.cache_write_tokens, usage.prompt_tokens - cached_tokens(usage)))
    return 0


def cost_usd(price: Price, usage: Usage) -> float:
    """Prompt tokens (those read from the cache at the cached price, those written to it at
    the write price, the rest at the input price) plus completion tokens."""
    cached = written = 0
    if isinstance(usage.prompt_tokens_details, PromptTokensDetails):  # else no cache use
        cached, written = cached_tokens(usage), cache_written_tokens(usage)
    cached_price = price.cached_input if price.cached_input is not None else price.input
    write_price = price.cache_write_input if price.cache_write_input is not None else price.input
    total = (
        (usage.prompt_tokens - cached - written) * price.input
        + cached * cached_price
        + written * write_price
        + usage.completion_tokens * price.output
    )
    return total / PER_TOKEN
