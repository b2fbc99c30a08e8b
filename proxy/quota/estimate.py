"""What a request is expected to cost before it is sent, and what it did cost after.

Before: prompt tokens counted as the usage estimator does (about 4 characters a token on
the chat-form messages, or an embeddings input), plus the output bound (``max_tokens`` /
``max_completion_tokens``, else ``limits.default_output_tokens``). The price: the
provider is not known before routing, so it is taken from ``@slug/model`` or
``x-portkey-provider`` when the request names one, else the highest price any provider
in the table has for the model (a budget is never under-reserved). A model with no price
costs nothing, before and after: such a budget cannot bite.

After: the usage the answer reported (or the stream estimate), priced for the provider
that answered; a cache hit costs nothing and uses no tokens.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from proxy.observability.pricing import cost_usd
from proxy.observability.usage_estimate import estimate_prompt_tokens, tokens_for_chars
from proxy.providers import PROVIDERS, canonical
from proxy.schema import Usage

if TYPE_CHECKING:
    from proxy.context import RequestContext
    from proxy.gateway import Gateway
    from proxy.observability.settings import Price

_MEMO_MAX = 4096


def prompt_tokens(ctx: RequestContext) -> int:
    try:
        body = ctx.body.as_dict()
    except Exception:  # a body only its provider reads: nothing to count
        return 0
    if "messages" in body:
        return estimate_prompt_tokens(body.get("messages"))
    return _input_tokens(body.get("input"))


def _input_tokens(inp: Any) -> int:
    """An embeddings input: text(s), or token ids (one token each)."""
    if isinstance(inp, str):
        return tokens_for_chars(len(inp))
    total = 0
    if isinstance(inp, list):
        for x in inp:
            if isinstance(x, str):
                total += tokens_for_chars(len(x))
            elif isinstance(x, int):
                total += 1
            elif isinstance(x, list):
                total += len(x)
    return total


class Pricer:
    """Prices for estimates (before routing) and for settling (after)."""

    def __init__(self, gw: Gateway) -> None:
        self.gw = gw
        self.prices = gw.observability.prices
        self._max: dict[str, Price | None] = {}

    def _hint(self, ctx: RequestContext) -> str | None:
        model = ctx.body.head.model
        if model.startswith("@"):
            slug = model[1:].partition("/")[0]
            entry = self.gw.settings.providers.get(slug)
            if entry is not None:
                return canonical(entry.provider)
            return canonical(slug) if canonical(slug) in PROVIDERS else None
        header = ctx.headers.get("x-portkey-provider")
        return canonical(header) if header else None

    def _highest(self, model: str) -> Price | None:
        if model in self._max:
            return self._max[model]
        best: Price | None = None
        for provider in self.prices.prices:
            p = self.prices.lookup(provider, model)
            if p is not None and (best is None or p.input + p.output > best.input + best.output):
                best = p
        if len(self._max) < _MEMO_MAX:
            self._max[model] = best
        return best

    def estimate(self, ctx: RequestContext, prompt: int, output: int) -> int:
        """Micro-USD this request may cost at most (rounded up)."""
        model = ctx.body.head.model.rpartition("/")[2] if ctx.body.head.model else ""
        hint = self._hint(ctx)
        price = self.prices.lookup(hint, model) if hint else None
        if price is None:
            price = self._highest(model)
        if price is None:
            return 0
        return math.ceil(prompt * price.input + output * price.output)

    def actual(self, ctx: RequestContext, usage: Any) -> tuple[int, int]:
        """(tokens in + out, micro-USD) of a finished request."""
        if not isinstance(usage, Usage):
            return 0, 0
        cache = ctx.cache_status
        if cache is not None and cache.endswith("HIT"):
            return 0, 0
        tokens = usage.prompt_tokens + usage.completion_tokens
        price = self.prices.lookup(ctx.provider, ctx.model)
        return tokens, 0 if price is None else round(cost_usd(price, usage) * 1_000_000)
