"""A generation's usage as Langfuse's usage model: token counts under `input`, `output`, `total`
and their detail keys (`input_cached_tokens`, `output_reasoning_tokens`, …). Pure functions.

Clients send usage in whatever shape their provider answered: the SDK passes `usage_details`
through, so an OpenAI response's usage arrives as `prompt_tokens` / `completion_tokens` /
`total_tokens` with `prompt_tokens_details` and `completion_tokens_details` objects (the Responses
API: `input_tokens` / `output_tokens` / `*_tokens_details`). Langfuse maps those two shapes onto
its own keys; anything else keeps its keys. Rules, as Langfuse applies them:

- In an OpenAI shape, each detail count becomes `input_<detail>` / `output_<detail>` and is taken
  out of `input` / `output` (which stay ≥ 0): Langfuse prices the parts of a side apart, so a
  cached token counted in both would be charged twice.
- Only whole counts ≥ 0 are kept (a numeric string counts); other values are dropped.
- When no `total` is given, it is the sum of the counts, so cost and totals follow from any shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MAX_COUNT = 2**63 - 1
# (input key, output key, their detail objects) of OpenAI's Chat Completions and Responses usage.
OPENAI_SHAPES = (
    ("prompt_tokens", "completion_tokens", "prompt_tokens_details", "completion_tokens_details"),
    ("input_tokens", "output_tokens", "input_tokens_details", "output_tokens_details"),
)


def usage_count(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip().isdecimal() and len(value.strip()) <= len(str(MAX_COUNT)):
        value = int(value.strip())
    if isinstance(value, int) and 0 <= value <= MAX_COUNT:
        return value
    return None


def normalised_usage(provided: Mapping[str, Any]) -> dict[str, int]:
    """Langfuse's usage keys for `provided` (see the module's rules); {} when it holds no count."""
    usage = openai_usage(provided)
    if usage is None:
        usage = {}
        for key, value in provided.items():
            count = usage_count(value)
            if count is not None:
                usage[str(key)] = count
    return with_total(usage)


def with_total(usage: dict[str, int]) -> dict[str, int]:
    if usage and "total" not in usage:
        usage["total"] = min(sum(usage.values()), MAX_COUNT)
    return usage


def openai_usage(provided: Mapping[str, Any]) -> dict[str, int] | None:
    """Usage in one of OpenAI's shapes on Langfuse's keys; None when `provided` is not in one."""
    for input_key, output_key, input_details, output_details in OPENAI_SHAPES:
        allowed = {input_key, output_key, "total_tokens", input_details, output_details}
        if input_key not in provided or output_key not in provided or not set(provided) <= allowed:
            continue
        input_count, output_count = usage_count(provided[input_key]), usage_count(provided[output_key])
        if input_count is None or output_count is None:
            continue
        usage = {"input": input_count, "output": output_count}
        total = usage_count(provided.get("total_tokens"))
        if total is not None:
            usage["total"] = total
        for side, details in (("input", provided.get(input_details)), ("output", provided.get(output_details))):
            if not isinstance(details, Mapping):
                continue
            for name, value in details.items():
                count = usage_count(value)
                if count is not None:
                    usage[f"{side}_{name}"] = count
                    usage[side] = max(usage[side] - count, 0)
        return usage
    return None
