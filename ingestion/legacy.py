"""The legacy batch format (`POST /api/public/ingestion`), parsed into the rows of traces/merge.py.

Pure functions, no database. Each event `{id, type, timestamp, body, metadata?}` is validated on
its own: a bad event becomes an error for that event (the endpoint answers 207 with per-event
results), never an error for the batch. Events come from a document decoded by
`evalsite.text.loads` (no NUL, no lone surrogate, no NaN or Infinity), so every string and number
here is storable JSON; what is left to check per event is what a column bounds: timestamps in the
range of evalsite/timestamps.py, token counts that fit a bigint, amounts that fit a double.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from evalsite import timestamps
from ingestion.usage import openai_usage, with_total
from scoring.validation import finite_number
from traces.merge import observation_contribution, trace_contribution

ID_MAX_LENGTH = 128
ENVIRONMENT_RE = re.compile(r"^(?!langfuse)[a-z0-9_-]{1,40}$")
LEVELS = {"DEBUG", "DEFAULT", "WARNING", "ERROR"}
OBSERVATION_TYPES = {
    "SPAN",
    "GENERATION",
    "EVENT",
    "AGENT",
    "TOOL",
    "CHAIN",
    "RETRIEVER",
    "EVALUATOR",
    "EMBEDDING",
    "GUARDRAIL",
}
# Event type → observation type ("observation-*" events name it in the body).
OBSERVATION_EVENTS = {
    "span-create": "SPAN",
    "span-update": "SPAN",
    "generation-create": "GENERATION",
    "generation-update": "GENERATION",
    "event-create": "EVENT",
    "agent-create": "AGENT",
    "tool-create": "TOOL",
    "chain-create": "CHAIN",
    "retriever-create": "RETRIEVER",
    "evaluator-create": "EVALUATOR",
    "embedding-create": "EMBEDDING",
    "guardrail-create": "GUARDRAIL",
    "observation-create": None,
    "observation-update": None,
}
UPDATE_EVENTS = {"span-update", "generation-update", "observation-update"}
# Legacy `usage` keys (Langfuse's own and OpenAI's) onto usage_details / cost_details keys.
LEGACY_USAGE_KEYS = {
    "input": "input",
    "output": "output",
    "total": "total",
    "promptTokens": "input",
    "completionTokens": "output",
    "totalTokens": "total",
    "prompt_tokens": "input",
    "completion_tokens": "output",
    "total_tokens": "total",
}
LEGACY_COST_KEYS = {"inputCost": "input", "outputCost": "output", "totalCost": "total"}
# Token counts are summed into bigint columns (input_tokens, output_tokens, total_tokens).
MAX_COUNT = 2**63 - 1


class EventError(ValueError):
    """An event that cannot be ingested; the message names the offending field."""


@dataclass
class ParsedEvent:
    event_id: str
    kind: str  # "trace", "observation", "score" or "log"
    observation: dict[str, Any] | None = None
    traces: list[dict[str, Any]] = field(default_factory=list)
    score: dict[str, Any] | None = None


def parse_event(event: Any, *, now: datetime) -> ParsedEvent:
    if not isinstance(event, dict):
        raise EventError("event: must be a JSON object")
    event_id = event.get("id")
    if not isinstance(event_id, str) or not event_id:
        raise EventError("id: is required and must be a non-empty string")
    event_type = event.get("type")
    body = event.get("body")
    if not isinstance(event_type, str):
        raise EventError("type: is required and must be a string")
    if not isinstance(body, dict):
        raise EventError("body: is required and must be a JSON object")
    timestamp = _datetime(event, "timestamp", "timestamp") or now

    if event_type == "trace-create":
        return ParsedEvent(event_id, "trace", traces=[_trace(body, timestamp)])
    if event_type in OBSERVATION_EVENTS:
        observation, trace = _observation(body, event_type, timestamp)
        return ParsedEvent(event_id, "observation", observation=observation, traces=[trace])
    if event_type == "score-create":
        # A score body has no time of its own in the legacy format: the SDK (4.x `create_score(
        # timestamp=…)`) puts it on the event, and Langfuse stores the event's time as the score's.
        if body.get("timestamp") is None and event.get("timestamp") is not None:
            body = {**body, "timestamp": event["timestamp"]}
        return ParsedEvent(event_id, "score", score=body)
    if event_type == "sdk-log":
        return ParsedEvent(event_id, "log")
    raise EventError(f"type: unknown event type {event_type!r}")


def _trace(body: dict, timestamp: datetime) -> dict[str, Any]:
    trace_id = _id(body, "id", required=False)
    if trace_id is None:
        raise EventError("body.id: is required for trace-create")
    tags = body.get("tags")
    if tags is not None and (not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags)):
        raise EventError("body.tags: must be an array of strings")
    metadata = body.get("metadata")
    public = body.get("public")
    if public is not None and not isinstance(public, bool):
        raise EventError("body.public: must be a boolean")
    # A trace-create is the trace's own record: its name and input/output are explicit, and its
    # timestamp is when it began (the earliest time wins, like any time a trace is seen at).
    return trace_contribution(
        trace_id=trace_id,
        timestamp=_datetime(body, "timestamp", "body.timestamp") or timestamp,
        name=_text(body, "name"),
        input=body.get("input"),
        output=body.get("output"),
        user_id=_text(body, "userId"),
        session_id=_text(body, "sessionId"),
        release=_text(body, "release"),
        version=_text(body, "version"),
        environment=_environment(body),
        tags=tags,
        metadata=_metadata(metadata),
        public=public,
    )


def _observation(body: dict, event_type: str, timestamp: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
    observation_id = _id(body, "id", required=True)
    trace_id = _id(body, "traceId", required=False)
    if trace_id is None:
        if event_type in UPDATE_EVENTS:
            raise EventError("body.traceId: is required for update events")
        # An observation without a trace gets a trace of its own; deriving its id from the
        # observation's keeps a retried event from creating a second trace.
        trace_id = observation_id
    observation_type = OBSERVATION_EVENTS[event_type]
    if observation_type is None:
        declared = body.get("type")
        if declared is not None and (not isinstance(declared, str) or declared.upper() not in OBSERVATION_TYPES):
            raise EventError(f"body.type: must be one of {', '.join(sorted(OBSERVATION_TYPES))}")
        observation_type = declared.upper() if declared else "SPAN"
    level = body.get("level")
    if level is not None and level not in LEVELS:
        raise EventError(f"body.level: must be one of {', '.join(sorted(LEVELS))}")
    start_time = _datetime(body, "startTime", "body.startTime")
    end_time = _datetime(body, "endTime", "body.endTime")
    if event_type == "event-create":
        end_time = end_time or start_time or timestamp
    usage, cost_from_usage = _usage(body)
    cost = _cost(body) or cost_from_usage
    prompt_version = body.get("promptVersion")
    if prompt_version is not None and (not isinstance(prompt_version, int) or isinstance(prompt_version, bool)):
        raise EventError("body.promptVersion: must be an integer")
    model_parameters = body.get("modelParameters")
    if model_parameters is not None and not isinstance(model_parameters, dict):
        raise EventError("body.modelParameters: must be a JSON object")
    environment = _environment(body)
    parent = _id(body, "parentObservationId", required=False)
    observation = observation_contribution(
        {
            "id": observation_id,
            "trace_id": trace_id,
            "parent_observation_id": parent,
            "type": observation_type,
            "name": _text(body, "name"),
            # An update that does not restate its start is seen at its event time; the
            # earliest start wins, so the create's start is kept.
            "start_time": start_time or timestamp,
            "end_time": end_time,
            "completion_start_time": _datetime(body, "completionStartTime", "body.completionStartTime"),
            "level": level,
            "status_message": _text(body, "statusMessage"),
            "model": _text(body, "model"),
            "model_parameters": model_parameters,
            "usage_details": usage,
            "cost_details": cost,
            "prompt_name": _text(body, "promptName") if observation_type == "GENERATION" else None,
            "prompt_version": prompt_version if observation_type == "GENERATION" else None,
            "environment": environment,
            "release": _text(body, "release"),
            "version": _text(body, "version"),
            "input": body.get("input"),
            "output": body.get("output"),
            "metadata": _metadata(body.get("metadata")),
        }
    )
    # The observation's trace exists from now on (a placeholder until its trace-create arrives).
    trace = trace_contribution(
        trace_id=trace_id,
        timestamp=observation["start_time"],
        environment=environment,
    )
    return observation, trace


# --- field helpers ------------------------------------------------------------------------


def _id(body: dict, key: str, *, required: bool) -> str | None:
    value = body.get(key)
    if value is None:
        if required:
            raise EventError(f"body.{key}: is required")
        return None
    if not isinstance(value, str) or not value or len(value) > ID_MAX_LENGTH:
        raise EventError(f"body.{key}: must be a string of 1 to {ID_MAX_LENGTH} characters")
    return value


def _text(body: dict, key: str) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise EventError(f"body.{key}: must be a string")
    return value


def _datetime(container: dict, key: str, path: str) -> datetime | None:
    value = container.get(key)
    if value is None:
        return None
    try:
        return timestamps.parse_timestamp(value)
    except timestamps.InvalidTimestamp as problem:
        raise EventError(f"{path}: {problem}") from None


def _environment(body: dict) -> str | None:
    value = body.get("environment")
    if value is None:
        return None
    if not isinstance(value, str) or not ENVIRONMENT_RE.fullmatch(value):
        raise EventError(
            "body.environment: must match ^(?!langfuse)[a-z0-9_-]+$ and be at most 40 characters"
        )
    return value


def _metadata(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    # Metadata that is not an object is kept under one key rather than dropped (as for OTLP).
    return value if isinstance(value, dict) else {"metadata": value}


def _count(value: Any, path: str) -> int:
    """A token count: a number whose integer part fits the bigint columns usage is summed into."""
    if finite_number(value) is None:
        raise EventError(f"{path}: must be a finite number")
    count = int(value)
    if not -MAX_COUNT <= count <= MAX_COUNT:
        raise EventError(f"{path}: must be at most {MAX_COUNT} in absolute value")
    return count


def _amount(value: Any, path: str) -> float:
    amount = finite_number(value)
    if amount is None:
        raise EventError(f"{path}: must be a finite number")
    return amount


def _usage(body: dict) -> tuple[dict[str, int], dict[str, float]]:
    """usage_details, plus the costs a legacy `usage` object may carry."""
    details = body.get("usageDetails")
    usage: dict[str, int] = {}
    cost: dict[str, float] = {}
    if details is not None:
        if not isinstance(details, dict):
            raise EventError("body.usageDetails: must be a JSON object of token counts")
        for key, value in details.items():
            if isinstance(value, dict):
                # OpenAI's nested *_tokens_details objects: flattened as their own usage keys.
                for inner, count in value.items():
                    if count is not None:
                        usage[f"{key}.{inner}"] = _count(count, f"body.usageDetails.{key}.{inner}")
            elif value is not None:
                usage[LEGACY_USAGE_KEYS.get(key, key)] = _count(value, f"body.usageDetails.{key}")
        # OpenAI's usage shapes map onto Langfuse's keys with their details (ingestion/usage.py).
        return with_total(openai_usage(details) or usage), cost
    legacy = body.get("usage")
    if legacy is None:
        return usage, cost
    if not isinstance(legacy, dict):
        raise EventError("body.usage: must be a JSON object")
    for key, value in legacy.items():
        if value is None or key == "unit":
            continue
        if key in LEGACY_COST_KEYS:
            cost[LEGACY_COST_KEYS[key]] = _amount(value, f"body.usage.{key}")
        elif key in LEGACY_USAGE_KEYS:
            usage[LEGACY_USAGE_KEYS[key]] = _count(value, f"body.usage.{key}")
    return with_total(usage), cost


def _cost(body: dict) -> dict[str, float]:
    details = body.get("costDetails")
    if details is None:
        return {}
    if not isinstance(details, dict):
        raise EventError("body.costDetails: must be a JSON object of amounts")
    return {str(key): _amount(value, f"body.costDetails.{key}") for key, value in details.items() if value is not None}
