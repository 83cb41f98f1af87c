"""Model prices and the cost of one LLM call. Pure functions: no database, no Django.

Rules (the same as Langfuse's model prices):

- A price applies to a model when its ``match_pattern`` (a regular expression, case-insensitive)
  matches the *whole* model name, so ``gpt-4o`` does not price ``gpt-4o-mini``.
- A project's own prices come first: a built-in (``managed``) price applies only when none of the
  project's prices applies to the call, as in Langfuse.
- Among the matching prices of a tier, the one with the newest ``start_date`` not after the call
  wins; a price without a start date applies at any time but loses to a dated price that applies.
  Ties keep the caller's order.
- Usage uses Langfuse's normalised keys (``input``, ``output``, ``total``, ``input_cached_tokens``…).
  Only ``input``, ``output`` and ``total`` have a price here; other keys cost nothing, as in
  Langfuse when no price exists for a usage type. A ``total_price`` is used only when the price has
  neither an input nor an output price.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache

Number = Decimal | float | int


@dataclass(frozen=True)
class Price:
    match_pattern: str
    input_price: Number | None = None
    output_price: Number | None = None
    total_price: Number | None = None
    start_date: datetime | None = None
    # A built-in price (evalsite/llm/managed_prices.py), which any project price overrides.
    managed: bool = False


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error:
        # A broken pattern prices nothing rather than breaking cost computation for every model;
        # patterns are validated when a price is saved.
        return None


def price_matches(price: Price, model: str) -> bool:
    regex = _compiled(price.match_pattern)
    return regex is not None and regex.fullmatch(model) is not None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def find_price(prices: Iterable[Price], model: str, at: datetime | None = None) -> Price | None:
    """The price that applies to ``model`` at ``at`` (now when omitted), or None."""
    if not model:
        return None
    at = _aware(at or datetime.now(UTC))
    matching = [price for price in prices if price_matches(price, model)]
    own = _applicable([price for price in matching if not price.managed], at)
    return own or _applicable([price for price in matching if price.managed], at)


def _applicable(prices: list[Price], at: datetime) -> Price | None:
    undated: Price | None = None
    dated: Price | None = None
    for price in prices:
        if price.start_date is None:
            undated = undated or price
        elif _aware(price.start_date) <= at and (
            dated is None or _aware(price.start_date) > _aware(dated.start_date)
        ):
            dated = price
    return dated or undated


def _decimal(value: Number | None) -> Decimal | None:
    if value is None:
        return None
    # str() keeps a float price such as 2.5e-06 exact instead of its binary expansion.
    return value if isinstance(value, Decimal) else Decimal(str(value))


def compute_cost(price: Price, usage: Mapping[str, int | None]) -> dict[str, float]:
    """The cost in the price's currency: ``{"input": …, "output": …, "total": …}``."""
    input_tokens = int(usage.get("input") or 0)
    output_tokens = int(usage.get("output") or 0)
    total_tokens = usage.get("total")
    total_tokens = int(total_tokens) if total_tokens is not None else input_tokens + output_tokens

    input_price = _decimal(price.input_price)
    output_price = _decimal(price.output_price)
    total_price = _decimal(price.total_price)

    input_cost = input_tokens * input_price if input_price is not None else Decimal(0)
    output_cost = output_tokens * output_price if output_price is not None else Decimal(0)
    if input_price is None and output_price is None and total_price is not None:
        total_cost = total_tokens * total_price
    else:
        total_cost = input_cost + output_cost
    return {"input": float(input_cost), "output": float(output_cost), "total": float(total_cost)}
