"""Map one decoded OTLP span onto the fields of our Observation and Trace rows.

The rules follow the Langfuse wire contract (reference §4 and §5); README.md beside this
module explains them. Everything here is a pure function of one :class:`SpanRecord`, so
batches can be mapped in any order and merged later.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from evalsite import text, timestamps

from ..usage import normalised_usage as usage_model
from ..usage import with_total
from .decode import SpanRecord

LANGFUSE_SCOPE_NAME = "langfuse-sdk"
DEFAULT_ENVIRONMENT = "default"
STATUS_CODE_ERROR = 2
_INT64_MAX = 2**63 - 1
_INT64_DIGITS = len(str(_INT64_MAX))

# Langfuse SDK attribute names.
OBSERVATION_TYPE = "langfuse.observation.type"
OBSERVATION_INPUT = "langfuse.observation.input"
OBSERVATION_OUTPUT = "langfuse.observation.output"
OBSERVATION_LEVEL = "langfuse.observation.level"
OBSERVATION_STATUS_MESSAGE = "langfuse.observation.status_message"
OBSERVATION_METADATA = "langfuse.observation.metadata"
OBSERVATION_MODEL = "langfuse.observation.model.name"
OBSERVATION_MODEL_PARAMETERS = "langfuse.observation.model.parameters"
OBSERVATION_USAGE_DETAILS = "langfuse.observation.usage_details"
OBSERVATION_COST_DETAILS = "langfuse.observation.cost_details"
OBSERVATION_COMPLETION_START_TIME = "langfuse.observation.completion_start_time"
OBSERVATION_PROMPT_NAME = "langfuse.observation.prompt.name"
OBSERVATION_PROMPT_VERSION = "langfuse.observation.prompt.version"
TRACE_NAME = "langfuse.trace.name"
TRACE_INPUT = "langfuse.trace.input"
TRACE_OUTPUT = "langfuse.trace.output"
TRACE_TAGS = "langfuse.trace.tags"
TRACE_PUBLIC = "langfuse.trace.public"
TRACE_METADATA = "langfuse.trace.metadata"
GENERIC_METADATA = "langfuse.metadata"
AS_ROOT = "langfuse.internal.as_root"
IS_APP_ROOT = "langfuse.internal.is_app_root"
EXPERIMENT_PREFIX = "langfuse.experiment."

OBSERVATION_TYPES = frozenset(
    {
        "SPAN",
        "GENERATION",
        "EVENT",
        "AGENT",
        "TOOL",
        "CHAIN",
        "RETRIEVER",
        "EMBEDDING",
        "EVALUATOR",
        "GUARDRAIL",
    }
)
_OPENINFERENCE_KINDS = {
    "LLM": "GENERATION",
    "CHAIN": "CHAIN",
    "RETRIEVER": "RETRIEVER",
    "EMBEDDING": "EMBEDDING",
    "AGENT": "AGENT",
    "TOOL": "TOOL",
    "GUARDRAIL": "GUARDRAIL",
    "EVALUATOR": "EVALUATOR",
}
_GEN_AI_OPERATIONS = {
    "chat": "GENERATION",
    "completion": "GENERATION",
    "text_completion": "GENERATION",
    "generate_content": "GENERATION",
    "generate": "GENERATION",
    "embeddings": "EMBEDDING",
    "invoke_agent": "AGENT",
    "create_agent": "AGENT",
    "execute_tool": "TOOL",
}
# Any of these makes an otherwise untyped span a generation.
_TYPE_MODEL_KEYS = (
    OBSERVATION_MODEL,
    "gen_ai.request.model",
    "gen_ai.response.model",
    "llm.model_name",
    "model",
)
# The response model is what actually ran, so it beats the requested one.
_MODEL_NAME_KEYS = (
    OBSERVATION_MODEL,
    "gen_ai.response.model",
    "ai.model.id",
    "gen_ai.request.model",
    "llm.response.model",
    "llm.model_name",
    "model",
)

_LEVEL_ALIASES = {
    "DEBUG": "DEBUG",
    "DEFAULT": "DEFAULT",
    "INFO": "DEFAULT",
    "WARNING": "WARNING",
    "WARN": "WARNING",
    "ERROR": "ERROR",
    "FATAL": "ERROR",
    "CRITICAL": "ERROR",
}

_USAGE_PREFIXES = ("gen_ai.usage.", "llm.token_count.")
_USAGE_KEYS_THAT_ARE_NOT_TOKENS = frozenset({"cost"})
# Suffixes after a usage prefix, as written by gen_ai semconv, OpenAI/Anthropic-shaped
# instrumentations and OpenInference, onto Langfuse's usage keys.
_USAGE_ALIASES = {
    "input_tokens": "input",
    "prompt_tokens": "input",
    "prompt": "input",
    "output_tokens": "output",
    "completion_tokens": "output",
    "completion": "output",
    "total_tokens": "total",
    "total": "total",
    "cache_read_input_tokens": "input_cached_tokens",
    "cache_read.input_tokens": "input_cached_tokens",
    "prompt_tokens_details.cached_tokens": "input_cached_tokens",
    "input_tokens_details.cached_tokens": "input_cached_tokens",
    "prompt_details.cache_read": "input_cached_tokens",
    "cache_creation_input_tokens": "input_cache_creation",
    "cache_creation.input_tokens": "input_cache_creation",
    "prompt_details.cache_write": "input_cache_creation",
    "reasoning_tokens": "output_reasoning_tokens",
    "completion_tokens_details.reasoning_tokens": "output_reasoning_tokens",
    "output_tokens_details.reasoning_tokens": "output_reasoning_tokens",
    "completion_details.reasoning": "output_reasoning_tokens",
}

_GEN_AI_MESSAGE_EVENT_ROLES = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
}
_GEN_AI_CHOICE_EVENT = "gen_ai.choice"

# Attributes that carry input/output payloads; they are not repeated in metadata.attributes.
_IO_KEYS = frozenset(
    {
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.system_instructions",
        "gen_ai.prompt",
        "gen_ai.completion",
        "gen_ai.tool.call.arguments",
        "gen_ai.tool.call.result",
        "input.value",
        "output.value",
        "traceloop.entity.input",
        "traceloop.entity.output",
        "mlflow.spanInputs",
        "mlflow.spanOutputs",
        "input",
        "output",
    }
)
_IO_PREFIXES = ("gen_ai.prompt.", "gen_ai.completion.", "llm.input_messages.", "llm.output_messages.")


@dataclass(frozen=True, slots=True)
class MappedSpan:
    """What one span contributes.

    ``observation`` holds every Observation field. ``trace`` holds only the trace fields this
    span actually provides, so a caller can merge spans of one trace with "non-null wins".
    ``experiment`` is set when the span belongs to an experiment run (reference §5).
    """

    observation: dict[str, Any]
    trace: dict[str, Any]
    is_root: bool
    experiment: dict[str, Any] | None


def map_span(span: SpanRecord) -> MappedSpan:
    # Computed once here, as the observation and the trace both need them.
    json_metadata = sends_json_metadata(span)
    environment = explicit_environment(span)
    trace_metadata = collect_metadata(span.attributes, (TRACE_METADATA,), json_metadata)
    observation = observation_fields(span, trace_metadata, json_metadata=json_metadata, environment=environment)
    is_root = is_root_span(span)
    return MappedSpan(
        observation=observation,
        trace=trace_fields(
            span, is_root=is_root, observation=observation, trace_metadata=trace_metadata, environment=environment
        ),
        is_root=is_root,
        experiment=experiment_fields(span),
    )


def observation_fields(
    span: SpanRecord, trace_metadata: dict[str, Any], *, json_metadata: bool, environment: str | None
) -> dict[str, Any]:
    """`environment` is the span's explicit one (`explicit_environment`), `json_metadata` whether
    its metadata values are JSON-encoded (`sends_json_metadata`)."""
    attributes = span.attributes
    observation_type = observation_type_for(attributes)
    # Prompts are propagated onto every span, but only generations are linked to one.
    is_generation = observation_type == "GENERATION"
    input_value, output_value = observation_io(span)
    return {
        "id": span.span_id,
        "trace_id": span.trace_id,
        "parent_observation_id": span.parent_span_id,
        "type": observation_type,
        "name": observation_name(span),
        "start_time": span.start_time,
        "end_time": span.end_time,
        "completion_start_time": completion_start_time(attributes),
        "level": observation_level(span),
        "status_message": status_message(span),
        "model": _first_text([attributes], _MODEL_NAME_KEYS),
        "model_parameters": model_parameters(attributes),
        "usage_details": usage_details(attributes),
        "cost_details": cost_details(attributes),
        "prompt_name": _text_or_none(attributes.get(OBSERVATION_PROMPT_NAME)) if is_generation else None,
        "prompt_version": _as_int(attributes.get(OBSERVATION_PROMPT_VERSION)) if is_generation else None,
        "environment": environment or DEFAULT_ENVIRONMENT,
        "release": release(span),
        "version": version(span),
        "input": input_value,
        "output": output_value,
        "metadata": observation_metadata(span, trace_metadata, json_metadata),
    }


# --- value helpers ----------------------------------------------------------------------


def parse_json_or_raw(value: Any) -> Any:
    """The JSON a string holds; anything else comes back unchanged.

    The SDK JSON-encodes non-string payloads but sends strings raw, so a value that does not
    parse is the payload itself. Decoded with `evalsite.text.loads`, like every document from
    outside: `"\\u0000"` and lone surrogate escapes inside an attribute come out storable, and a
    string holding NaN, Infinity or `1e999` is kept as the string it is.
    """
    if not isinstance(value, str):
        return value
    try:
        return text.loads(value)
    except (ValueError, RecursionError):
        return value


def _is_present(value: Any) -> bool:
    return value is not None and value != ""


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _text_or_none(value: Any) -> str | None:
    return _as_text(value) if _is_present(value) else None


def _first_text(sources: Sequence[Mapping[str, Any]], keys: Iterable[str]) -> str | None:
    """The first present value, trying each key in every source before the next key."""
    for key in keys:
        for source in sources:
            value = source.get(key)
            if _is_present(value):
                return _as_text(value)
    return None


def _as_int(value: Any) -> int | None:
    """An int64, or None: token counts and versions end in bigint and integer columns, and a
    longer number is no count anyone sent on purpose."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().isdecimal():
        digits = value.strip()
        # int() of thousands of digits is slow, or refused beyond Python's limit.
        number = int(digits) if len(digits) <= _INT64_DIGITS else None
    else:
        real = _as_float(value)
        number = None if real is None else int(real)
    return number if number is not None and -_INT64_MAX <= number <= _INT64_MAX else None


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        try:
            number = float(value)
        except OverflowError:  # an integer beyond any double
            return None
    elif isinstance(value, float):
        number = value
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return {"true": True, "false": False}.get(value.strip().lower())
    return None


def _parse_datetime(value: Any) -> datetime | None:
    """An optional timestamp attribute: ignored when it does not parse or is outside the stored
    range (evalsite/timestamps.py), like any attribute value of the wrong kind."""
    try:
        return timestamps.parse_timestamp(value)
    except timestamps.InvalidTimestamp:
        return None


def _prefixed(attributes: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """Attributes under ``prefix`` keyed by the rest of their name."""
    start = len(prefix)
    return {key[start:]: value for key, value in attributes.items() if key.startswith(prefix)}


# --- observation fields -----------------------------------------------------------------


def observation_type_for(attributes: Mapping[str, Any]) -> str:
    declared = attributes.get(OBSERVATION_TYPE)
    if isinstance(declared, str) and declared.upper() in OBSERVATION_TYPES:
        return declared.upper()
    kind = attributes.get("openinference.span.kind")
    if isinstance(kind, str) and kind.upper() in _OPENINFERENCE_KINDS:
        return _OPENINFERENCE_KINDS[kind.upper()]
    operation = attributes.get("gen_ai.operation.name")
    if isinstance(operation, str) and operation.lower() in _GEN_AI_OPERATIONS:
        return _GEN_AI_OPERATIONS[operation.lower()]
    if _is_present(attributes.get("gen_ai.tool.name")) or _is_present(attributes.get("gen_ai.tool.call.id")):
        return "TOOL"
    if any(_is_present(attributes.get(key)) for key in _TYPE_MODEL_KEYS):
        return "GENERATION"
    return "SPAN"


def observation_name(span: SpanRecord) -> str:
    """The span name, unless an instrumentation keeps the meaningful name in an attribute."""
    attributes = span.attributes
    for key in ("gen_ai.tool.name", "logfire.msg"):
        if _is_present(attributes.get(key)):
            return _as_text(attributes[key])
    operation_id = attributes.get("ai.operationId")
    if _is_present(operation_id):
        function_id = attributes.get("ai.telemetry.functionId")
        prefix = f"{_as_text(function_id)}:" if _is_present(function_id) else ""
        return prefix + _as_text(operation_id)
    return span.name


def observation_level(span: SpanRecord) -> str:
    declared = span.attributes.get(OBSERVATION_LEVEL)
    if isinstance(declared, str):
        level = _LEVEL_ALIASES.get(declared.strip().upper())
        if level:
            return level
    return "ERROR" if span.status_code == STATUS_CODE_ERROR else "DEFAULT"


def status_message(span: SpanRecord) -> str | None:
    return _text_or_none(span.attributes.get(OBSERVATION_STATUS_MESSAGE)) or span.status_message or None


def release(span: SpanRecord) -> str | None:
    return _first_text([span.attributes, span.resource_attributes], ("langfuse.release",))


def version(span: SpanRecord) -> str | None:
    return _first_text([span.attributes, span.resource_attributes], ("langfuse.version", "service.version"))


def explicit_environment(span: SpanRecord) -> str | None:
    """The environment the span or its resource names, or None (the caller applies the default)."""
    keys = ("langfuse.environment", "deployment.environment.name", "deployment.environment")
    return _first_text([span.attributes, span.resource_attributes], keys)


def completion_start_time(attributes: Mapping[str, Any]) -> datetime | None:
    value = attributes.get(OBSERVATION_COMPLETION_START_TIME)
    if isinstance(value, str) and value.lstrip().startswith('"'):
        # The v5 SDK JSON-encodes the timestamp, so it arrives quoted.
        value = parse_json_or_raw(value)
    return _parse_datetime(value)


def model_parameters(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters map names to strings or numbers, as in Langfuse: any other value (a list of stop
    sequences, a flag, an object) is kept as its JSON text."""
    for key in (OBSERVATION_MODEL_PARAMETERS, "llm.invocation_parameters"):
        parsed = parse_json_or_raw(attributes.get(key))
        if isinstance(parsed, dict):
            return {name: _parameter_value(value) for name, value in parsed.items()}
    requested = _prefixed(attributes, "gen_ai.request.")
    return {name: _as_text(value) for name, value in requested.items() if name != "model"}


def _parameter_value(value: Any) -> Any:
    if isinstance(value, str) or (isinstance(value, int | float) and not isinstance(value, bool)):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def usage_details(attributes: Mapping[str, Any]) -> dict[str, int]:
    """Langfuse's usage keys (ingestion/usage.py), with a `total` whenever there is a count."""
    provided = parse_json_or_raw(attributes.get(OBSERVATION_USAGE_DETAILS))
    if isinstance(provided, dict):
        return usage_model(provided)
    return with_total(normalised_usage(attributes))


def normalised_usage(attributes: Mapping[str, Any]) -> dict[str, int]:
    """gen_ai.usage.* / llm.token_count.* onto Langfuse keys.

    Langfuse prices ``input`` and ``input_cached_tokens`` separately (and ``output`` and
    ``output_reasoning_tokens``), while instrumentations count cached and reasoning tokens
    inside the input/output totals; subtracting them avoids charging those tokens twice.
    """
    usage: dict[str, int] = {}
    for key, value in attributes.items():
        if not key.startswith(_USAGE_PREFIXES):
            continue
        prefix = next(prefix for prefix in _USAGE_PREFIXES if key.startswith(prefix))
        suffix = key[len(prefix) :]
        count = _as_int(value)
        if suffix in _USAGE_KEYS_THAT_ARE_NOT_TOKENS or count is None:
            continue
        usage.setdefault(_USAGE_ALIASES.get(suffix, suffix), count)
    _subtract_part(usage, whole="input", part="input_cached_tokens")
    _subtract_part(usage, whole="output", part="output_reasoning_tokens")
    return usage


def _subtract_part(usage: dict[str, int], *, whole: str, part: str) -> None:
    if whole in usage and part in usage:
        usage[whole] = max(usage[whole] - usage[part], 0)


def cost_details(attributes: Mapping[str, Any]) -> dict[str, float]:
    provided = parse_json_or_raw(attributes.get(OBSERVATION_COST_DETAILS))
    if isinstance(provided, dict):
        converted = {str(key): _as_float(value) for key, value in provided.items()}
        return {key: value for key, value in converted.items() if value is not None}
    for key in ("gen_ai.usage.cost", "llm.cost.total"):
        total = _as_float(attributes.get(key))
        if total is not None:
            return {"total": total}
    return {}


# --- input / output ---------------------------------------------------------------------
#
# Each source returns (input, output) when it holds either, else None. The first source that
# answers provides both values, so input and output never come from different conventions.

IoPair = tuple[Any, Any]


def observation_io(span: SpanRecord) -> IoPair:
    for source in _IO_SOURCES:
        found = source(span)
        if found is not None:
            return found
    return None, None


def _pair(input_value: Any, output_value: Any) -> IoPair | None:
    if input_value is None and output_value is None:
        return None
    return input_value, output_value


def io_value(value: Any) -> Any:
    """An input/output attribute's value. An empty string is none: the SDK sends `""` for a
    generator that yielded nothing, which Langfuse stores as null."""
    return None if value == "" else parse_json_or_raw(value)


def _attribute_pair(span: SpanRecord, input_key: str, output_key: str) -> IoPair | None:
    attributes = span.attributes
    return _pair(io_value(attributes.get(input_key)), io_value(attributes.get(output_key)))


def _langfuse_io(span: SpanRecord) -> IoPair | None:
    return _attribute_pair(span, OBSERVATION_INPUT, OBSERVATION_OUTPUT)


def _gen_ai_messages_io(span: SpanRecord) -> IoPair | None:
    attributes = span.attributes
    messages = parse_json_or_raw(attributes.get("gen_ai.input.messages"))
    instructions = parse_json_or_raw(attributes.get("gen_ai.system_instructions"))
    if instructions is not None:
        # gen_ai keeps system instructions apart from the messages; a chat transcript reads
        # better with them as its first message.
        system_message = {"role": "system", "parts": _instruction_parts(instructions)}
        if messages is None:
            messages = [system_message]
        elif isinstance(messages, list):
            messages = [system_message, *messages]
        else:
            messages = [system_message, messages]
    return _pair(messages, parse_json_or_raw(attributes.get("gen_ai.output.messages")))


def _instruction_parts(instructions: Any) -> list[Any]:
    if isinstance(instructions, list):
        return instructions
    return [{"type": "text", "content": instructions}]


def _gen_ai_events_io(span: SpanRecord) -> IoPair | None:
    messages = []
    choices = []
    for event in span.events:
        role = _GEN_AI_MESSAGE_EVENT_ROLES.get(event["name"])
        if role is not None:
            messages.append({"role": role, **event["attributes"]})
        elif event["name"] == _GEN_AI_CHOICE_EVENT:
            choices.append(event["attributes"])
    output = choices[0] if len(choices) == 1 else choices or None
    return _pair(messages or None, output)


def _gen_ai_flattened_io(span: SpanRecord) -> IoPair | None:
    return _pair(
        _flattened_or_whole(span.attributes, "gen_ai.prompt"),
        _flattened_or_whole(span.attributes, "gen_ai.completion"),
    )


def _flattened_or_whole(attributes: Mapping[str, Any], prefix: str) -> Any:
    nested = unflatten(attributes, prefix)
    if nested is not None:
        return nested
    return parse_json_or_raw(attributes.get(prefix))


def _gen_ai_tool_io(span: SpanRecord) -> IoPair | None:
    return _attribute_pair(span, "gen_ai.tool.call.arguments", "gen_ai.tool.call.result")


def _openinference_value_io(span: SpanRecord) -> IoPair | None:
    return _pair(
        _openinference_value(span.attributes, "input"),
        _openinference_value(span.attributes, "output"),
    )


def _openinference_value(attributes: Mapping[str, Any], direction: str) -> Any:
    value = attributes.get(f"{direction}.value")
    # A declared plain-text value stays text even when it happens to look like JSON ("42").
    if attributes.get(f"{direction}.mime_type") == "text/plain":
        return value
    return parse_json_or_raw(value)


def _openinference_messages_io(span: SpanRecord) -> IoPair | None:
    return _pair(
        _unwrap_messages(unflatten(span.attributes, "llm.input_messages")),
        _unwrap_messages(unflatten(span.attributes, "llm.output_messages")),
    )


def _unwrap_messages(messages: Any) -> Any:
    """OpenInference nests each message as ``{"message": {...}}``; keep just the message."""
    if not isinstance(messages, list):
        return messages
    return [
        item["message"] if isinstance(item, dict) and item.keys() == {"message"} else item
        for item in messages
    ]


def _traceloop_io(span: SpanRecord) -> IoPair | None:
    return _attribute_pair(span, "traceloop.entity.input", "traceloop.entity.output")


def _mlflow_io(span: SpanRecord) -> IoPair | None:
    return _attribute_pair(span, "mlflow.spanInputs", "mlflow.spanOutputs")


def _plain_io(span: SpanRecord) -> IoPair | None:
    return _attribute_pair(span, "input", "output")


_IO_SOURCES: tuple[Callable[[SpanRecord], IoPair | None], ...] = (
    _langfuse_io,
    _gen_ai_messages_io,
    _gen_ai_events_io,
    _gen_ai_flattened_io,
    _gen_ai_tool_io,
    _openinference_value_io,
    _openinference_messages_io,
    _traceloop_io,
    _mlflow_io,
    _plain_io,
)


def unflatten(attributes: Mapping[str, Any], prefix: str) -> Any:
    """Rebuild a structure from dotted keys; all-numeric levels become lists.

    ``{"p.0.role": "user", "p.0.content": "hi"}`` with prefix ``p`` gives
    ``[{"role": "user", "content": "hi"}]``. Returns None when no key is under ``prefix``.
    """
    flat = _prefixed(attributes, prefix + ".")
    if not flat:
        return None
    root: dict[str, Any] = {}
    for path, value in flat.items():
        *parents, leaf = path.split(".")
        node = root
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[leaf] = value
    return _index_dicts_to_lists(root)


def _index_dicts_to_lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {key: _index_dicts_to_lists(value) for key, value in node.items()}
    if all(key.isdigit() for key in converted):
        return [converted[key] for key in sorted(converted, key=int)]
    return converted


# --- metadata ---------------------------------------------------------------------------


def sends_json_metadata(span: SpanRecord) -> bool:
    """Whether the span's metadata values are JSON text to decode: those of the Langfuse SDK.

    v5 JSON-encodes every value, strings included (`"qa"` arrives as `"\"qa\""`). Earlier
    versions (the scope's version is the SDK's) send strings and ints as they are and JSON-encode
    everything else (`'["yo"]'`, `"0.5"`, `'{"b": 1}'`); Langfuse decodes those values as JSON
    where they parse, so a raw string that happens to be JSON text (`"0"`) is read as that JSON,
    and any other string stays itself. Third-party instrumentations' values stay as sent.
    """
    return span.scope_name == LANGFUSE_SCOPE_NAME


def observation_metadata(span: SpanRecord, trace_metadata: dict[str, Any], json_metadata: bool) -> dict[str, Any]:
    # Propagated trace metadata lands on every span; repeating it on each observation lets
    # observations be filtered by it. The observation's own keys win on a clash.
    names = (OBSERVATION_METADATA, GENERIC_METADATA)
    metadata = {**trace_metadata, **collect_metadata(span.attributes, names, json_metadata)}
    if span.scope_name != LANGFUSE_SCOPE_NAME:
        metadata.update(instrumentation_metadata(span))
    return metadata


# names → their "<name>." prefixes; the same few name tuples are asked for on every span.
_METADATA_PREFIXES: dict[tuple[str, ...], tuple[str, ...]] = {}


def collect_metadata(
    attributes: Mapping[str, Any], names: tuple[str, ...], decode_json: bool
) -> dict[str, Any]:
    """Whole-object metadata attributes, overlaid with the flattened ``<name>.<key>`` ones."""
    metadata: dict[str, Any] = {}
    for name in names:
        if name in attributes:
            metadata.update(_whole_metadata(attributes[name]))
    prefixes = _METADATA_PREFIXES.get(names) or _METADATA_PREFIXES.setdefault(names, tuple(f"{name}." for name in names))
    for key, value in attributes.items():
        if key.startswith(prefixes):
            prefix = next(prefix for prefix in prefixes if key.startswith(prefix))
            metadata[key[len(prefix) :]] = parse_json_or_raw(value) if decode_json else value
    return metadata


def _whole_metadata(value: Any) -> dict[str, Any]:
    parsed = parse_json_or_raw(value)
    if parsed is None:
        return {}
    if isinstance(parsed, dict):
        return parsed
    # Metadata that is not an object (the SDK allows any value) is kept rather than dropped.
    return {"metadata": parsed}


def instrumentation_metadata(span: SpanRecord) -> dict[str, Any]:
    """For third-party spans, keep what no mapped field captured, so nothing is lost."""
    leftover = {
        key: value
        for key, value in span.attributes.items()
        if not key.startswith("langfuse.") and key not in _IO_KEYS and not key.startswith(_IO_PREFIXES)
    }
    return {
        "attributes": leftover,
        "resourceAttributes": dict(span.resource_attributes),
        "scope": {
            "name": span.scope_name,
            "version": span.scope_version,
            "attributes": dict(span.scope_attributes),
        },
    }


# --- trace fields -----------------------------------------------------------------------


def is_root_span(span: SpanRecord) -> bool:
    attributes = span.attributes
    return (
        span.parent_span_id is None
        or _as_bool(attributes.get(AS_ROOT)) is True
        or _as_bool(attributes.get(IS_APP_ROOT)) is True
    )


def trace_fields(
    span: SpanRecord,
    *,
    is_root: bool,
    observation: Mapping[str, Any],
    trace_metadata: dict[str, Any],
    environment: str | None,
) -> dict[str, Any]:
    """The trace fields this span provides; absent keys mean "no opinion". `environment` is the
    span's explicit one (`explicit_environment`)."""
    attributes = span.attributes
    metadata = observation["metadata"]
    fields: dict[str, Any] = {
        "name": _text_or_none(attributes.get(TRACE_NAME)) or (observation["name"] if is_root else None),
        "user_id": _first_text([attributes], ("user.id", "langfuse.user.id"))
        or _text_or_none(metadata.get("langfuse_user_id")),
        "session_id": _first_text(
            [attributes], ("session.id", "langfuse.session.id", "gen_ai.conversation.id")
        )
        or _text_or_none(metadata.get("langfuse_session_id")),
        "tags": trace_tags(attributes, metadata) or None,
        # The root observation's metadata is the trace's (its own keys, the propagated trace
        # metadata, and for third-party spans what it kept of their attributes), as in Langfuse:
        # `run_experiment` keeps experiment_name and the item's metadata only there.
        "metadata": (metadata if is_root else trace_metadata) or None,
        "public": _as_bool(attributes.get(TRACE_PUBLIC, attributes.get("langfuse.public"))),
        "input": io_value(attributes.get(TRACE_INPUT)),
        "output": io_value(attributes.get(TRACE_OUTPUT)),
        # The observation's "default" environment is not an opinion about the trace.
        "environment": environment,
        "release": observation["release"],
        "version": observation["version"],
        "timestamp": span.start_time if is_root else None,
    }
    if is_root:
        # A trace's input/output is its root observation's unless an older SDK set it explicitly.
        if fields["input"] is None:
            fields["input"] = observation["input"]
        if fields["output"] is None:
            fields["output"] = observation["output"]
    return {key: value for key, value in fields.items() if value is not None}


def trace_tags(attributes: Mapping[str, Any], metadata: Mapping[str, Any]) -> list[str]:
    """Tags from a string array, a JSON array string, or a comma-separated string."""
    value = next(
        (
            candidate
            for candidate in (
                attributes.get(TRACE_TAGS),
                attributes.get("langfuse.tags"),
                metadata.get("langfuse_tags"),
            )
            if _is_present(candidate)
        ),
        None,
    )
    if isinstance(value, str):
        parsed = parse_json_or_raw(value) if value.lstrip().startswith("[") else value
        value = parsed if isinstance(parsed, list) else value.split(",")
    if not isinstance(value, list):
        return []
    tags = (_as_text(tag).strip() for tag in value if tag is not None)
    return list(dict.fromkeys(tag for tag in tags if tag))


# --- experiments ------------------------------------------------------------------------


def experiment_fields(span: SpanRecord) -> dict[str, Any] | None:
    """The experiment (dataset run) this span belongs to, from ``langfuse.experiment.*``."""
    if span.attributes.get(EXPERIMENT_PREFIX + "id") is None:
        return None  # the common case, without looking at every attribute
    attributes = _prefixed(span.attributes, EXPERIMENT_PREFIX)
    experiment_id = _text_or_none(attributes.get("id"))
    if experiment_id is None:
        return None
    root_observation_id = _text_or_none(attributes.get("item.root_observation_id"))
    return {
        "id": experiment_id,
        "name": _text_or_none(attributes.get("name")),
        "description": _text_or_none(attributes.get("description")),
        "metadata": parse_json_or_raw(attributes.get("metadata")),
        "dataset_id": _text_or_none(attributes.get("dataset.id")),
        "item_id": _text_or_none(attributes.get("item.id")),
        "item_version": _parse_datetime(attributes.get("item.version")),
        "item_metadata": parse_json_or_raw(attributes.get("item.metadata")),
        "item_root_observation_id": root_observation_id,
        "item_expected_output": parse_json_or_raw(attributes.get("item.expected_output")),
        # The task span is the dataset-run item; only it links the run to a dataset item.
        "is_item_root": root_observation_id is not None and root_observation_id.lower() == span.span_id,
    }
