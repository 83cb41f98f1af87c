"""Rows for the trace upsert, and the merge rules they obey (pure Python, no database).

Every writer turns what it has into two *contributions* per observation: an observation row and a
trace row (ingestion/ for OTLP spans and legacy batch events, experiments/runner.py for platform
runs). Contributions with the same id are merged with the rules below, first in Python within one
`Batch`, then in SQL against what is already stored: `observation_merge_sql` and `trace_merge_sql`
in traces/upsert.py write the same rules as SQL. Because the rules are the same in both places, a
trace written in one call, or split over many in any order, ends in the same state.
traces/INGESTION.md explains the rules and why they are order-independent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from evalsite.llm.pricing import Price, compute_cost, find_price
from evalsite.text import storable_str

# The value a field takes when a contribution has no opinion about it; any other value wins
# over it, so a later, less specific write never erases a more specific one.
WEAK_TYPE = "SPAN"
WEAK_LEVEL = "DEFAULT"
WEAK_ENVIRONMENT = "default"

# Trace.explicit_fields bits: set when the value was given explicitly (langfuse.trace.*, a
# legacy trace-create) rather than derived from the root span.
EXPLICIT_NAME = 1
EXPLICIT_INPUT = 2
EXPLICIT_OUTPUT = 4
EXPLICIT_BITS = {"name": EXPLICIT_NAME, "input": EXPLICIT_INPUT, "output": EXPLICIT_OUTPUT}

# Observation types whose usage is an LLM call that a model price applies to.
PRICED_TYPES = frozenset({"GENERATION", "EMBEDDING"})

# Column sizes of the models: longer text is cut rather than failing a whole batch.
OBSERVATION_TEXT_LIMITS = {
    "observation_id": 128,
    "trace_id": 128,
    "parent_observation_id": 128,
    "name": 1000,
    "model": 500,
    "prompt_name": 500,
    "environment": 40,
    "release": 1000,
    "version": 1000,
}
TRACE_TEXT_LIMITS = {
    "trace_id": 128,
    "name": 1000,
    "user_id": 1000,
    "session_id": 1000,
    "release": 1000,
    "version": 1000,
    "environment": 40,
    "root_observation_id": 128,
}
MAX_BIGINT = 2**63 - 1
MAX_POSITIVE_INT = 2**31 - 1
# Observation.total_cost is DECIMAL(20, 10).
MAX_COST = Decimal(10) ** 10


# --- observation rows ---------------------------------------------------------------------


def observation_contribution(mapped: Mapping[str, Any]) -> dict[str, Any]:
    """An observation row from an observation dict keyed like a mapped span's
    (`ingestion.otlp.MappedSpan.observation`: `id`, `trace_id`, … every Observation field)."""
    return {
        "observation_id": mapped["id"],
        "trace_id": mapped["trace_id"],
        "parent_observation_id": mapped["parent_observation_id"],
        "type": mapped["type"] or WEAK_TYPE,
        "name": mapped["name"],
        "start_time": mapped["start_time"],
        "end_time": mapped["end_time"],
        "completion_start_time": mapped["completion_start_time"],
        "level": mapped["level"] or WEAK_LEVEL,
        "status_message": mapped["status_message"],
        "model": mapped["model"],
        # An empty parameter map is no opinion: it must not hide parameters stored earlier.
        "model_parameters": mapped["model_parameters"] or None,
        "usage_details": mapped["usage_details"] or {},
        "cost_details": mapped["cost_details"] or {},
        "prompt_name": mapped["prompt_name"],
        "prompt_version": mapped["prompt_version"],
        "environment": mapped["environment"] or WEAK_ENVIRONMENT,
        "release": mapped["release"],
        "version": mapped["version"],
        "input": mapped["input"],
        "output": mapped["output"],
        "metadata": mapped["metadata"] or {},
    }


def _non_null(new: Any, old: Any) -> Any:
    return old if new is None else new


def _unless_weak(new: str, old: str, weak: str) -> str:
    return old if new == weak else new


def merge_observation(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """`new` (the later contribution) merged into `old`. Mirrors upsert.observation_merge_sql."""
    return {
        "observation_id": old["observation_id"],
        "trace_id": new["trace_id"],
        "parent_observation_id": _non_null(new["parent_observation_id"], old["parent_observation_id"]),
        "type": _unless_weak(new["type"], old["type"], WEAK_TYPE),
        "name": _non_null(new["name"], old["name"]),
        "start_time": min(old["start_time"], new["start_time"]),
        "end_time": _non_null(new["end_time"], old["end_time"]),
        "completion_start_time": _non_null(new["completion_start_time"], old["completion_start_time"]),
        "level": _unless_weak(new["level"], old["level"], WEAK_LEVEL),
        "status_message": _non_null(new["status_message"], old["status_message"]),
        "model": _non_null(new["model"], old["model"]),
        "model_parameters": _non_null(new["model_parameters"], old["model_parameters"]),
        # Usage and cost describe one call and are sent whole: a non-empty map replaces.
        "usage_details": new["usage_details"] or old["usage_details"],
        "cost_details": new["cost_details"] or old["cost_details"],
        "prompt_name": _non_null(new["prompt_name"], old["prompt_name"]),
        "prompt_version": _non_null(new["prompt_version"], old["prompt_version"]),
        "environment": _unless_weak(new["environment"], old["environment"], WEAK_ENVIRONMENT),
        "release": _non_null(new["release"], old["release"]),
        "version": _non_null(new["version"], old["version"]),
        "input": _non_null(new["input"], old["input"]),
        "output": _non_null(new["output"], old["output"]),
        "metadata": {**old["metadata"], **new["metadata"]},
    }


# --- trace rows ---------------------------------------------------------------------------


def trace_contribution(
    *,
    trace_id: str,
    timestamp: datetime,
    root_observation_id: str | None = None,
    name: str | None = None,
    name_explicit: bool = True,
    input: Any = None,
    input_explicit: bool = True,
    output: Any = None,
    output_explicit: bool = True,
    user_id: str | None = None,
    session_id: str | None = None,
    release: str | None = None,
    version: str | None = None,
    environment: str | None = None,
    tags: Iterable[str] | None = None,
    metadata: Mapping[str, Any] | None = None,
    public: bool | None = None,
) -> dict[str, Any]:
    """A trace row. `timestamp` is the root span's start when `root_observation_id` is given,
    else a time the trace is known to have existed at (the earliest wins)."""
    explicit = 0
    given = (("name", name, name_explicit), ("input", input, input_explicit), ("output", output, output_explicit))
    for key, value, is_explicit in given:
        if value is not None and is_explicit:
            explicit |= EXPLICIT_BITS[key]
    return {
        "trace_id": trace_id,
        "name": name,
        "user_id": user_id,
        "session_id": session_id,
        "release": release,
        "version": version,
        "environment": environment or WEAK_ENVIRONMENT,
        "tags": sorted(set(tags)) if tags else [],
        "metadata": dict(metadata) if metadata else {},
        "input": input,
        "output": output,
        "public": bool(public),
        "timestamp": timestamp,
        "root_observation_id": root_observation_id,
        "explicit_fields": explicit,
    }


def _root_wins(new: dict[str, Any], old: dict[str, Any]) -> bool:
    """Whether `new` carries the trace's root: the earliest root span (ties: smallest id)."""
    if new["root_observation_id"] is None:
        return False
    if old["root_observation_id"] is None:
        return True
    return (new["timestamp"], new["root_observation_id"]) <= (old["timestamp"], old["root_observation_id"])


def _ranked(key: str, old: dict[str, Any], new: dict[str, Any], root_wins: bool) -> Any:
    """Name/input/output: explicit beats derived; among derived values, the root's wins."""
    bit = EXPLICIT_BITS[key]
    if new[key] is None:
        return old[key]
    if new["explicit_fields"] & bit:
        return new[key]
    if old["explicit_fields"] & bit:
        return old[key]
    if root_wins:
        return new[key]
    return _non_null(old[key], new[key])


def merge_trace(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """`new` (the later contribution) merged into `old`. Mirrors upsert.trace_merge_sql."""
    root_wins = _root_wins(new, old)
    if root_wins:
        timestamp, root = new["timestamp"], new["root_observation_id"]
    elif old["root_observation_id"] is not None:
        timestamp, root = old["timestamp"], old["root_observation_id"]
    else:
        timestamp, root = min(old["timestamp"], new["timestamp"]), None
    return {
        "trace_id": old["trace_id"],
        "name": _ranked("name", old, new, root_wins),
        "user_id": _non_null(new["user_id"], old["user_id"]),
        "session_id": _non_null(new["session_id"], old["session_id"]),
        "release": _non_null(new["release"], old["release"]),
        "version": _non_null(new["version"], old["version"]),
        "environment": _unless_weak(new["environment"], old["environment"], WEAK_ENVIRONMENT),
        "tags": sorted(set(old["tags"]) | set(new["tags"])),
        "metadata": {**old["metadata"], **new["metadata"]},
        "input": _ranked("input", old, new, root_wins),
        "output": _ranked("output", old, new, root_wins),
        "public": old["public"] or new["public"],
        "timestamp": timestamp,
        "root_observation_id": root,
        "explicit_fields": old["explicit_fields"] | new["explicit_fields"],
    }


# --- a batch ------------------------------------------------------------------------------


@dataclass
class Batch:
    """One request's contributions, merged by id in arrival order."""

    observations: dict[str, dict[str, Any]] = field(default_factory=dict)
    traces: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add_observation(self, row: dict[str, Any]) -> None:
        key = row["observation_id"]
        old = self.observations.get(key)
        self.observations[key] = row if old is None else merge_observation(old, row)

    def add_trace(self, row: dict[str, Any]) -> None:
        key = row["trace_id"]
        old = self.traces.get(key)
        self.traces[key] = row if old is None else merge_trace(old, row)

    def __bool__(self) -> bool:
        return bool(self.observations or self.traces)


# --- derived observation columns ------------------------------------------------------------


def needs_price(row: Mapping[str, Any]) -> bool:
    return bool(row["type"] in PRICED_TYPES and row["model"] and row["usage_details"] and not row["cost_details"])


def apply_model_price(row: dict[str, Any], prices: list[Price]) -> None:
    """Fill cost_details from the project's model prices when a priced call carries none."""
    price = find_price(prices, row["model"], row["start_time"])
    if price is not None:
        row["cost_details"] = compute_cost(price, row["usage_details"])


def usage_totals(usage: Mapping[str, int]) -> tuple[int | None, int | None, int | None]:
    """(input, output, total) tokens: every `input*` / `output*` key counts toward its side
    (cached and reasoning tokens are kept apart in usage but are still tokens of that side)."""
    if not usage:
        return None, None, None
    input_tokens = sum(value for key, value in usage.items() if key.startswith("input"))
    output_tokens = sum(value for key, value in usage.items() if key.startswith("output"))
    total = usage.get("total")
    if total is None:
        total = sum(value for key, value in usage.items() if key != "total")
    return _bigint(input_tokens), _bigint(output_tokens), _bigint(total)


def cost_total(cost: Mapping[str, float]) -> Decimal | None:
    if not cost:
        return None
    total = cost.get("total")
    if total is None:
        total = sum(value for key, value in cost.items() if key != "total")
    amount = Decimal(str(total))
    return amount if abs(amount) < MAX_COST else None


def _bigint(value: int) -> int | None:
    return value if -MAX_BIGINT <= value <= MAX_BIGINT else None


def clean_text(value: Any, limit: int | None = None) -> str | None:
    """Text a column can hold (evalsite/text.py's rule: no NUL, no lone surrogate), at most
    `limit` long. Ingestion hands over clean text already; the platform runner's model outputs
    are cleaned here."""
    if value is None:
        return None
    if not isinstance(value, str):
        value = str(value)
    value = storable_str(value)
    if limit is not None and len(value) > limit:
        value = value[:limit]
    return value


def clean_positive_int(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_POSITIVE_INT:
        return value
    return None
