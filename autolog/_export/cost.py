"""The cost of LLM calls in USD, from their token usage: ``mlflow.llm.cost`` on spans, ``mlflow.trace.cost`` on traces.

Runs on the export worker (``encode.trace_to_record``), never on the application's thread.
Prices come from the user's table (``autolog.configure(prices=...)``), else from the
`genai-prices` package's bundled data (never fetched from the network). A model neither
knows has no cost: no attribute, never a guess.

How usage is priced, as the OpenAI API bills it:

- ``input_tokens`` include the ``cache_read_input_tokens``: those are priced at the cached
  input price (at the input price when the model has none), the rest at the input price.
- ``output_tokens`` include the ``reasoning_tokens`` (OpenAI counts them in
  ``completion_tokens``): reasoning is priced as output once, never added again.

A price is looked up once per (model, provider) and cached; pricing a span is then a few
Decimal operations (see ``_Price.cost``). Models whose price depends on the size of the
request (tiers) or on units beyond input/cached/output tokens are priced by genai-prices
itself on every call.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from autolog._errors import InvalidArgumentError
from autolog.entities.keys import LLM_COST, LLM_MODEL, LLM_PROVIDER, MESSAGE_FORMAT, TOKEN_USAGE_ATTRIBUTE

__all__ = ["check_prices", "load_price_table", "set_prices", "span_cost", "sum_costs"]

_MTOK = Decimal(1_000_000)
_OVERRIDE_KEYS = {"input": "input_mtok", "output": "output_mtok", "cache_read": "cache_read_mtok"}
# A dated snapshot name ("gpt-4o-mini-2024-07-18", "claude-3-5-sonnet-20241022") prices as its model.
_DATE_SUFFIX = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{8})$")
# What the integrations' message format says about the provider, when no provider attribute is set.
_FORMAT_PROVIDERS = {"openai": "openai"}
_MAX_CACHED = 4096  # distinct (model, provider) pairs; a process naming more starts the cache afresh


@dataclass(frozen=True)
class _Price:
    """USD per million tokens; or, with ``model_price``, a genai-prices price that only it can apply."""

    input_mtok: Decimal | None
    output_mtok: Decimal | None
    cache_read_mtok: Decimal | None
    model_price: Any = None

    def cost(self, input_tokens: int, output_tokens: int, cache_read_tokens: int) -> dict[str, float]:
        if self.model_price is not None:
            return self._priced_by_genai_prices(input_tokens, output_tokens, cache_read_tokens)
        cached = min(cache_read_tokens, input_tokens)
        input_cost = Decimal(0)
        if self.input_mtok is not None:
            if self.cache_read_mtok is not None and cached:
                input_cost = ((input_tokens - cached) * self.input_mtok + cached * self.cache_read_mtok) / _MTOK
            else:
                input_cost = input_tokens * self.input_mtok / _MTOK
        output_cost = output_tokens * self.output_mtok / _MTOK if self.output_mtok is not None else Decimal(0)
        return {"input_cost": float(input_cost), "output_cost": float(output_cost),
                "total_cost": float(input_cost + output_cost)}

    def _priced_by_genai_prices(self, input_tokens: int, output_tokens: int, cache_read_tokens: int
                                ) -> dict[str, float]:
        from genai_prices import Usage

        usage = Usage(input_tokens=input_tokens, output_tokens=output_tokens,
                      cache_read_tokens=min(cache_read_tokens, input_tokens) or None)
        price = self.model_price.calc_price(usage)
        return {"input_cost": float(price["input_price"]), "output_cost": float(price["output_price"]),
                "total_cost": float(price["total_price"])}


def load_price_table() -> None:
    """Import genai-prices now, on the caller's thread (``autolog.openai()`` and the other integrations call it).

    Left to the export worker, the import (≈0.2 s, it loads httpx2 and pydantic models) could run
    while the application imports the same modules: two threads importing a package whose modules
    import each other can see it half-initialised (openai's ``OpenAI()`` failed so, with
    "partially initialized module 'httpx2'"). A missing or broken genai-prices only means no costs.
    """
    try:
        import genai_prices  # noqa: F401
    except Exception:  # noqa: BLE001 - costs are optional; the worker's lookup then finds no price
        return


_overrides: dict[str, _Price] = {}
_cache: dict[tuple[str, str | None], _Price | None] = {}


def check_prices(prices: object) -> dict[str, _Price]:
    """A user's price table checked and converted; ``InvalidArgumentError`` naming the first bad entry.

    The table maps a model name to USD per million tokens: ``{"my-model": {"input": 0.15,
    "output": 0.60, "cache_read": 0.075}}``; ``input`` and ``output`` are required.
    """
    if not isinstance(prices, Mapping):
        raise InvalidArgumentError(f"prices must be a dict of model name to {{'input': USD, 'output': USD}} per "
                                   f"million tokens, got {type(prices).__name__} {prices!r}")
    table: dict[str, _Price] = {}
    for model, entry in prices.items():
        if not isinstance(model, str) or not model:
            raise InvalidArgumentError(f"prices: model names must be non-empty str, got {model!r}")
        if not isinstance(entry, Mapping):
            raise InvalidArgumentError(f"prices[{model!r}] must be a dict such as {{'input': 0.15, 'output': 0.6}}"
                                       f" (USD per million tokens), got {type(entry).__name__} {entry!r}")
        unknown = set(entry) - set(_OVERRIDE_KEYS)
        if unknown:
            raise InvalidArgumentError(f"prices[{model!r}] has unknown keys {sorted(map(str, unknown))}: use "
                                       "'input', 'output' and optionally 'cache_read' (USD per million tokens)")
        values: dict[str, Decimal | None] = {}
        for key, field in _OVERRIDE_KEYS.items():
            value = entry.get(key)
            if value is None and key != "cache_read":
                raise InvalidArgumentError(f"prices[{model!r}] needs {key!r} (USD per million tokens)")
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float, Decimal))
                                      or not math.isfinite(value) or value < 0):
                raise InvalidArgumentError(f"prices[{model!r}][{key!r}] must be a finite number of USD per million "
                                           f"tokens, at least 0, got {value!r}")
            values[field] = None if value is None else Decimal(str(value))
        table[model] = _Price(**values)
    return table


def set_prices(prices: Mapping[str, Mapping[str, float]] | None) -> None:
    """Use ``prices`` (see ``check_prices``) before genai-prices' table; None: genai-prices' table only.

    Thread-safe: the table and the cache are replaced, never changed in place.
    """
    global _overrides, _cache
    _overrides = check_prices(prices) if prices is not None else {}
    _cache = {}


def _count(usage: dict[str, Any], key: str) -> int | None:
    value = usage.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        return None
    return int(value)


def span_cost(attributes: dict[str, Any]) -> dict[str, float] | None:
    """The cost of one span from its recorded attributes (None: no usage, no model, or a model without a price).

    A span that already carries ``mlflow.llm.cost`` (set by the user, or an imported trace) keeps it.
    """
    recorded = attributes.get(LLM_COST)
    if isinstance(recorded, dict):
        return recorded
    usage = attributes.get(TOKEN_USAGE_ATTRIBUTE)
    model = attributes.get(LLM_MODEL)
    if not isinstance(usage, dict) or not isinstance(model, str) or not model:
        return None
    input_tokens, output_tokens = _count(usage, "input_tokens"), _count(usage, "output_tokens")
    if input_tokens is None and output_tokens is None:
        return None
    provider = attributes.get(LLM_PROVIDER)
    if not isinstance(provider, str) or not provider:
        fmt = attributes.get(MESSAGE_FORMAT)
        provider = _FORMAT_PROVIDERS.get(fmt) if isinstance(fmt, str) else None
    cache = _cache
    key = (model, provider)
    if key in cache:
        price = cache[key]
    else:
        price = _lookup(model, provider)
        if len(cache) >= _MAX_CACHED:
            cache.clear()
        cache[key] = price
    if price is None:
        return None
    return price.cost(input_tokens or 0, output_tokens or 0, _count(usage, "cache_read_input_tokens") or 0)


def sum_costs(costs: list[dict[str, Any]]) -> dict[str, float] | None:
    """The trace's cost: the sum of its counted spans' costs (None when none of them is priced)."""
    if not costs:
        return None
    total = {"input_cost": 0.0, "output_cost": 0.0, "total_cost": 0.0}
    for cost in costs:
        for name in total:
            value = cost.get(name)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                total[name] += value
    return total


def _lookup(model: str, provider: str | None) -> _Price | None:
    overrides = _overrides
    undated = _DATE_SUFFIX.sub("", model)
    for name in (model, model.lower(), undated, undated.lower()):
        if name in overrides:
            return overrides[name]
    return _genai_price(model, provider)


def _genai_price(model: str, provider: str | None) -> _Price | None:
    """The price genai-prices' bundled table has for ``model``: with the span's provider, any provider, OpenAI."""
    try:
        from genai_prices import Usage, calc_price
        from genai_prices.types import TieredPrices
    except ImportError:  # genai-prices missing or broken: no costs, and nothing counted as an error
        return None
    providers = [p for p in dict.fromkeys((provider, None, "openai"))]
    for provider_id in providers:
        try:
            found = calc_price(Usage(input_tokens=1, output_tokens=1), model_ref=model, provider_id=provider_id)
        except LookupError:
            continue
        except Exception:  # noqa: BLE001 - a third-party table that cannot price this model: no cost, no guess
            return None
        model_price = found.model_price
        prices = {k: v for k, v in vars(model_price).items() if v is not None and not k.startswith("_")}
        simple = all(isinstance(v, Decimal) and not isinstance(v, TieredPrices)
                     and (k in ("input_mtok", "output_mtok", "cache_read_mtok") or k.endswith("searches_kcount"))
                     for k, v in prices.items())
        if simple:
            return _Price(prices.get("input_mtok"), prices.get("output_mtok"), prices.get("cache_read_mtok"))
        return _Price(None, None, None, model_price)
    return None
