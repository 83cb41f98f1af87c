"""What an evaluator sees of the object it judges, and how `{{variables}}` are filled from it.

A `Context` is plain data (no model instances), built by the selectors in the coordinating thread,
so judge calls on worker threads never touch the database.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any

from jsonpath_ng.ext import parse as jsonpath_parse

from evaluators.definitions import SOURCES


@dataclass(frozen=True)
class Context:
    input: Any = None
    output: Any = None
    metadata: Any = None
    tool_calls: Any = None
    expected_output: Any = None
    experiment_item_metadata: Any = None
    latency_ms: float | None = None
    cost: Decimal | None = None
    environment: str = "default"
    extra: dict[str, Any] = field(default_factory=dict)  # an item input's keys, for run items

    def source(self, name: str) -> Any:
        return getattr(self, name) if name in SOURCES else None


@dataclass(frozen=True)
class PairContext:
    """Two runs' answers to one dataset item (same trial), for a pairwise judge: the baseline's
    ("A" in a stored preference) and the candidate's ("B"); the score goes on the candidate's trace."""

    baseline: Context
    candidate: Context
    item_key: str
    trial: int
    baseline_run_id: str  # external run ids, as the comparison names runs
    candidate_run_id: str
    baseline_item_id: int
    candidate_item_id: int
    baseline_trace_id: str | None
    environment: str = "experiment"


class MissingVariable(Exception):
    """A variable has no mapping and is not a source's name: the job cannot be judged."""


@lru_cache(maxsize=512)
def _compiled(path: str):
    return jsonpath_parse(path)


def extract(value: Any, path: str | None) -> Any:
    """The value at `path` (JSONPath) in `value`; a string holding JSON is parsed first. Several
    matches give a list, none gives None."""
    if path is None:
        return value
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    matches = [match.value for match in _compiled(path).find(value)]
    if not matches:
        return None
    return matches[0] if len(matches) == 1 else matches


def as_text(value: Any) -> str:
    """How a value is written into a prompt: strings as they are, anything else as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def resolve_variables(variables: list[str], mapping: list[dict] | None, context: Context) -> dict[str, str]:
    """Each variable's text: from its mapping when it has one, else the source of the same name
    (`{{input}}`, `{{output}}`, `{{expected_output}}`…), else a key of a run item's input."""
    by_variable = {entry["variable"]: entry for entry in mapping or []}
    values = {}
    for variable in variables:
        entry = by_variable.get(variable)
        if entry is not None:
            values[variable] = as_text(extract(context.source(entry["source"]), entry.get("jsonPath")))
        elif variable in SOURCES:
            values[variable] = as_text(context.source(variable))
        elif variable in context.extra:
            values[variable] = as_text(context.extra[variable])
        else:
            raise MissingVariable(f"The variable {{{{{variable}}}}} has no mapping and names no source.")
    return values


def fill(messages: list[dict[str, str]], values: dict[str, str]) -> list[dict[str, str]]:
    """The messages with every `{{variable}}` replaced by its value (one pass: values are not re-read)."""
    from evaluators.definitions import VARIABLE_RE

    return [
        {"role": m["role"], "content": VARIABLE_RE.sub(lambda match: values.get(match.group(1), ""), m["content"])}
        for m in messages
    ]
