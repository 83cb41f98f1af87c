"""Pure validation of scores and score configs: no database, no Django models.

`score_validate` turns one wire-format score (camelCase, as `POST /api/public/scores` receives it)
into the column values of a `Score` row, or into a list of `FieldError`s. The configs a batch
names are loaded once by the caller and passed in as `ConfigRule`s, so a batch of any size costs
one query for its configs, and this module stays cheap enough for the ingestion hot path (plain
dict look-ups, no serializers).

`score_config_validate` checks a score config's definition; the service and the admin form both
use it, so the rules live in one place.
"""

import math
import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from evalsite import timestamps
from evalsite.text import OutOfRangeNumber
from scoring.models import ScoreConfigDataType, ScoreDataType, ScoreSource

ENVIRONMENT_RE = re.compile(r"(?!langfuse)[a-z0-9_-]+")
ENVIRONMENT_MAX_LENGTH = 40
DEFAULT_ENVIRONMENT = "default"
ID_MAX_LENGTH = 128
NAME_MAX_LENGTH = 500
SESSION_ID_MAX_LENGTH = 1000
TEXT_MAX_LENGTH = 500
CONFIG_NAME_MAX_LENGTH = 35
CONFIG_NAME_RE = re.compile(r"[A-Za-z0-9_.()\- ]+")
BOOLEAN_LABELS = {1.0: "True", 0.0: "False"}
BOOLEAN_CATEGORIES = [{"value": 1.0, "label": "True"}, {"value": 0.0, "label": "False"}]
DATA_TYPES = frozenset(ScoreDataType.values)
WIRE_SOURCES = frozenset({ScoreSource.API.value, ScoreSource.ANNOTATION.value})
# Optional string fields: wire name → (column, maximum length).
REFERENCE_FIELDS = (
    ("traceId", "trace_id", ID_MAX_LENGTH),
    ("observationId", "observation_id", ID_MAX_LENGTH),
    ("sessionId", "session_id", SESSION_ID_MAX_LENGTH),
    ("datasetRunId", "dataset_run_id", ID_MAX_LENGTH),
    ("queueId", "queue_id", ID_MAX_LENGTH),
)


class FieldError(str):
    """`"field: message"`: a plain string to callers that print it, with the field kept apart."""

    field: str
    detail: str

    def __new__(cls, field: str, detail: str) -> "FieldError":
        error = super().__new__(cls, f"{field}: {detail}")
        error.field = field
        error.detail = detail
        return error


@dataclass(frozen=True)
class ConfigRule:
    """What a score must satisfy to name this config (a read-only snapshot of a ScoreConfig row)."""

    id: str
    name: str
    data_type: str
    is_archived: bool = False
    min_value: float | None = None
    max_value: float | None = None
    categories: tuple[tuple[str, float], ...] = ()  # (label, value)

    @classmethod
    def from_row(cls, row: dict) -> "ConfigRule":
        categories = tuple((c["label"], float(c["value"])) for c in row.get("categories") or ())
        return cls(
            id=row["id"],
            name=row["name"],
            data_type=row["data_type"],
            is_archived=row["is_archived"],
            min_value=row["min_value"],
            max_value=row["max_value"],
            categories=categories,
        )


def is_number(value) -> bool:
    # JSON true/false arrive as bool, which Python counts as int: they are not numbers here.
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def finite_number(value) -> float | None:
    """`value` as a finite float; None when it is not a number, or when no double holds it (an
    integer of 400 digits is a JSON number, but float() of it overflows)."""
    if not is_number(value):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def environment_error(value) -> str | None:
    if not isinstance(value, str) or not value:
        return "must be a non-empty string"
    if len(value) > ENVIRONMENT_MAX_LENGTH:
        return f"must be at most {ENVIRONMENT_MAX_LENGTH} characters"
    if not ENVIRONMENT_RE.fullmatch(value):
        return "must match ^(?!langfuse)[a-z0-9_-]+$ (lowercase letters, digits, '_' and '-'; not starting with 'langfuse')"
    return None


def score_validate(
    item, *, configs: dict[str, ConfigRule], now: datetime, source_override: str | None = None
) -> tuple[dict | None, list[FieldError]]:
    """One wire score → (row, []) with the columns of a Score, or (None, errors naming fields).

    `configs` holds every config of the project that the batch names (by id); a configId missing
    from it is unknown in the project. The trace, observation, session or run a score targets is
    never looked up: scores may arrive before what they score.
    """
    if not isinstance(item, dict):
        return None, [FieldError("body", "each score must be a JSON object")]
    errors: list[FieldError] = []
    get = item.get

    score_id = get("id")
    if score_id is None:
        score_id = uuid.uuid4().hex
    elif not isinstance(score_id, str) or not score_id or len(score_id) > ID_MAX_LENGTH:
        errors.append(FieldError("id", f"must be a string of 1 to {ID_MAX_LENGTH} characters"))

    name = get("name")
    if not isinstance(name, str) or not name.strip():
        errors.append(FieldError("name", "is required and must be a non-empty string"))
    elif len(name) > NAME_MAX_LENGTH:
        errors.append(FieldError("name", f"must be at most {NAME_MAX_LENGTH} characters"))

    row = {"score_id": score_id, "name": name}
    for wire, column, max_length in REFERENCE_FIELDS:
        value = get(wire)
        if value is not None and (not isinstance(value, str) or not value or len(value) > max_length):
            errors.append(FieldError(wire, f"must be a non-empty string of at most {max_length} characters"))
        row[column] = value
    if row["observation_id"] is not None and row["trace_id"] is None:
        errors.append(FieldError("observationId", "requires traceId: an observation is scored within its trace"))
    if row["trace_id"] is None and row["session_id"] is None and row["dataset_run_id"] is None:
        errors.append(FieldError("traceId", "a score needs a target: traceId, sessionId or datasetRunId"))

    comment = get("comment")
    if comment is not None and not isinstance(comment, str):
        errors.append(FieldError("comment", "must be a string"))
    row["comment"] = comment
    row["metadata"] = get("metadata")

    environment = get("environment")
    if environment is None:
        environment = DEFAULT_ENVIRONMENT
    else:
        problem = environment_error(environment)
        if problem:
            errors.append(FieldError("environment", problem))
    row["environment"] = environment

    raw_timestamp = get("timestamp")
    timestamp = now
    if raw_timestamp is not None:
        try:
            timestamp = timestamps.parse_timestamp(raw_timestamp)
        except timestamps.InvalidTimestamp as problem:
            errors.append(FieldError("timestamp", str(problem)))
    row["timestamp"] = timestamp

    source = source_override or get("source")
    if source is None:
        source = ScoreSource.API.value
    elif source_override is None and source not in WIRE_SOURCES:
        errors.append(FieldError("source", f"must be one of {', '.join(sorted(WIRE_SOURCES))}"))
    row["source"] = source

    declared_type = data_type = get("dataType")
    if declared_type is not None and declared_type not in DATA_TYPES:
        errors.append(FieldError("dataType", f"must be one of {', '.join(ScoreDataType.values)}"))
        data_type = None

    config = None
    config_id = get("configId")
    if config_id is not None:
        config = configs.get(config_id) if isinstance(config_id, str) else None
        if config is None:
            errors.append(FieldError("configId", f"no score config {config_id!r} in this project"))
        elif config.is_archived:
            errors.append(FieldError("configId", f"score config {config.name!r} is archived"))
            config = None
        elif isinstance(name, str) and name != config.name:
            errors.append(FieldError("name", f"must equal the name of score config {config.id!r}: {config.name!r}"))
        elif data_type is not None and data_type != config.data_type:
            errors.append(FieldError("dataType", f"{data_type} does not match the config's data type {config.data_type}"))
            config = None
        elif data_type is None:
            data_type = config.data_type
    row["config_id"] = config_id

    if source == ScoreSource.ANNOTATION and config_id is None and data_type != ScoreDataType.CORRECTION:
        errors.append(FieldError("configId", "is required for ANNOTATION scores (except CORRECTION)"))
    if data_type == ScoreDataType.CORRECTION:
        for wire, column in (("sessionId", "session_id"), ("datasetRunId", "dataset_run_id")):
            if row[column] is not None:
                errors.append(FieldError(wire, "CORRECTION scores apply to traces and observations only"))

    value = get("value")
    if data_type is None and declared_type is None:
        # Inferred from the value, as upstream does: a number is NUMERIC and a string CATEGORICAL
        # (and a JSON true/false, which upstream's SDKs never send, BOOLEAN).
        if is_number(value) or isinstance(value, OutOfRangeNumber):
            data_type = ScoreDataType.NUMERIC.value
        elif isinstance(value, bool):
            data_type = ScoreDataType.BOOLEAN.value
        elif isinstance(value, str):
            data_type = ScoreDataType.CATEGORICAL.value
    if value is None:
        errors.append(FieldError("value", "is required (a number, or a string for CATEGORICAL/TEXT/CORRECTION)"))
    elif isinstance(value, OutOfRangeNumber):
        # A JSON number beyond a double (1e999, 400 digits), which the decoder keeps as its text.
        errors.append(FieldError("value", "must be a finite number that a double can hold"))
    elif data_type is not None:
        number, text, problem = convert_value(value, data_type, config)
        if problem:
            errors.append(FieldError("value", problem))
        row["value"], row["string_value"] = number, text
    elif not errors:
        errors.append(FieldError("value", "must be a number or a string"))
    row["data_type"] = data_type

    if errors:
        return None, errors
    return row, errors


def convert_value(value, data_type: str, config: ConfigRule | None) -> tuple[float | None, str | None, str | None]:
    """(numeric value, string value, problem) for a value of `data_type`, checked against `config`."""
    if data_type == ScoreDataType.NUMERIC:
        number = finite_number(value)
        if number is None:
            return None, None, "must be a finite number for NUMERIC scores"
        if config is not None:
            if config.min_value is not None and number < config.min_value:
                return None, None, f"{number:g} is below the config's minimum {config.min_value:g}"
            if config.max_value is not None and number > config.max_value:
                return None, None, f"{number:g} is above the config's maximum {config.max_value:g}"
        return number, None, None
    if data_type == ScoreDataType.BOOLEAN:
        number = float(value) if isinstance(value, bool) else finite_number(value)
        if number not in BOOLEAN_LABELS:
            return None, None, "must be 1 or 0 (or true/false) for BOOLEAN scores"
        # BOOLEAN configs always have the categories True = 1 and False = 0.
        return number, BOOLEAN_LABELS[number], None
    if not isinstance(value, str):
        return None, None, f"must be a string for {data_type} scores"
    if data_type == ScoreDataType.CATEGORICAL:
        if not value:
            return None, None, "must be a non-empty string for CATEGORICAL scores"
        if config is not None and config.categories:
            for label, number in config.categories:
                if label == value:
                    return number, value, None
            labels = ", ".join(repr(label) for label, _ in config.categories)
            return None, None, f"{value!r} is not a category of config {config.name!r} ({labels})"
        return None, value, None
    if data_type == ScoreDataType.TEXT and not 1 <= len(value) <= TEXT_MAX_LENGTH:
        return None, None, f"must be 1 to {TEXT_MAX_LENGTH} characters for TEXT scores"
    if data_type == ScoreDataType.CORRECTION and not value:
        return None, None, "must be a non-empty string for CORRECTION scores"
    return None, value, None


def score_config_validate(
    *, name, data_type, categories=None, min_value=None, max_value=None
) -> tuple[dict | None, list[FieldError]]:
    """A config definition → (normalised fields, []) or (None, errors naming the wire fields)."""
    errors: list[FieldError] = []
    if not isinstance(name, str) or not name.strip():
        errors.append(FieldError("name", "is required"))
    elif len(name) > CONFIG_NAME_MAX_LENGTH:
        errors.append(FieldError("name", f"must be at most {CONFIG_NAME_MAX_LENGTH} characters"))
    elif not CONFIG_NAME_RE.fullmatch(name):
        errors.append(FieldError("name", "may contain only letters, digits, spaces and _ . ( ) -"))
    if data_type not in ScoreConfigDataType.values:
        errors.append(FieldError("dataType", f"must be one of {', '.join(ScoreConfigDataType.values)}"))
        return None, errors

    for wire, bound in (("minValue", min_value), ("maxValue", max_value)):
        if bound is None:
            continue
        if data_type != ScoreConfigDataType.NUMERIC:
            errors.append(FieldError(wire, "applies to NUMERIC configs only"))
        elif finite_number(bound) is None:
            errors.append(FieldError(wire, "must be a finite number"))
    if (
        data_type == ScoreConfigDataType.NUMERIC
        and is_number(min_value)
        and is_number(max_value)
        and min_value > max_value
    ):
        errors.append(FieldError("minValue", "must not be greater than maxValue"))

    normalised_categories = None
    if data_type == ScoreConfigDataType.CATEGORICAL:
        normalised_categories = categories_validate(categories, errors)
    elif data_type == ScoreConfigDataType.BOOLEAN:
        if categories:
            errors.append(FieldError("categories", "are fixed for BOOLEAN configs (True = 1, False = 0)"))
        normalised_categories = [dict(c) for c in BOOLEAN_CATEGORIES]
    elif categories:
        errors.append(FieldError("categories", "apply to CATEGORICAL configs only"))

    if errors:
        return None, errors
    numeric = data_type == ScoreConfigDataType.NUMERIC
    return {
        "name": name,
        "data_type": data_type,
        "categories": normalised_categories,
        "min_value": float(min_value) if numeric and min_value is not None else None,
        "max_value": float(max_value) if numeric and max_value is not None else None,
    }, errors


def categories_validate(categories, errors: list[FieldError]) -> list[dict] | None:
    if not isinstance(categories, list) or not categories:
        errors.append(FieldError("categories", "a CATEGORICAL config needs at least one {value, label}"))
        return None
    normalised, labels, values = [], set(), set()
    for index, category in enumerate(categories):
        where = f"categories[{index}]"
        if not isinstance(category, dict):
            errors.append(FieldError(where, "must be an object {value, label}"))
            continue
        label, value = category.get("label"), category.get("value")
        if not isinstance(label, str) or not label:
            errors.append(FieldError(f"{where}.label", "must be a non-empty string"))
            continue
        if finite_number(value) is None:
            errors.append(FieldError(f"{where}.value", "must be a finite number"))
            continue
        if label in labels:
            errors.append(FieldError(f"{where}.label", f"duplicate label {label!r}"))
        if float(value) in values:
            errors.append(FieldError(f"{where}.value", f"duplicate value {value:g}"))
        labels.add(label)
        values.add(float(value))
        normalised.append({"value": float(value), "label": label})
    return normalised


def form_value(raw: str, data_type: str):
    """The typed value a web form's string stands for, given the config's data type; anything that
    does not convert is passed on as typed, so `score_validate` names the problem."""
    if data_type == ScoreDataType.NUMERIC:
        try:
            return float(raw)
        except ValueError:
            return raw
    if data_type == ScoreDataType.BOOLEAN:
        return {"true": 1.0, "1": 1.0, "false": 0.0, "0": 0.0}.get(raw.lower(), raw)
    return raw
