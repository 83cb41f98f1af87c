"""Validation of what an evaluator version is made of: prompt messages and their {{variables}},
output definitions, variable mappings. Pure functions (no database); each raises Django's
ValidationError with a plain message, and the services key it by their argument names."""

from __future__ import annotations

import math
import re
from typing import Any

from django.core.exceptions import ValidationError
from jsonpath_ng.exceptions import JsonPathParserError
from jsonpath_ng.ext import parse as jsonpath_parse

ROLES = ("system", "user", "assistant")
VARIABLE_RE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.\-]*)\s*\}\}")
DATA_TYPES = ("NUMERIC", "BOOLEAN", "CATEGORICAL")
# Langfuse's variable-mapping sources (PromptVariableMappingSource).
SOURCES = ("input", "output", "metadata", "tool_calls", "expected_output", "experiment_item_metadata")
# A prompt using both is a pairwise judge (evaluators/pairwise.py): it compares two runs' outputs and
# is started on a pair of runs, never assigned to single targets.
PAIR_VARIABLES = ("output_a", "output_b")
MAX_MESSAGES = 50
MAX_MESSAGE_LENGTH = 100_000
MAX_CATEGORIES = 100
INSTRUCTIONS_MAX_LENGTH = 5_000


def prompt_clean(prompt: Any) -> list[dict[str, str]]:
    """A user prompt string, or chat messages `[{"role", "content"}]`, as chat messages."""
    if isinstance(prompt, str):
        prompt = [{"role": "user", "content": prompt}]
    if not isinstance(prompt, list) or not prompt:
        raise ValidationError("A prompt is a non-empty string or a non-empty list of chat messages.")
    if len(prompt) > MAX_MESSAGES:
        raise ValidationError(f"A prompt has at most {MAX_MESSAGES} messages.")
    messages = []
    for index, message in enumerate(prompt):
        if not isinstance(message, dict):
            raise ValidationError(f"Message {index} must be an object with role and content.")
        role, content = message.get("role"), message.get("content")
        if role not in ROLES:
            raise ValidationError(f"Message {index}: role must be one of {', '.join(ROLES)}.")
        if not isinstance(content, str) or not content.strip():
            raise ValidationError(f"Message {index}: content must be a non-empty string.")
        if len(content) > MAX_MESSAGE_LENGTH:
            raise ValidationError(f"Message {index}: content has at most {MAX_MESSAGE_LENGTH} characters.")
        messages.append({"role": role, "content": content})
    return messages


def prompt_variables(messages: list[dict[str, str]]) -> list[str]:
    """The {{variables}} of the messages, each once, in order of first appearance."""
    seen: dict[str, None] = {}
    for message in messages:
        for name in VARIABLE_RE.findall(message["content"]):
            seen.setdefault(name, None)
    return list(seen)


def is_pairwise(variables: list[str]) -> bool:
    return all(name in variables for name in PAIR_VARIABLES)


def _finite(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValidationError(f"{name} must be a finite number.")
    return float(value)


def _instructions(definition: dict, name: str) -> str | None:
    value = definition.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > INSTRUCTIONS_MAX_LENGTH:
        raise ValidationError(f"{name} must be a string of at most {INSTRUCTIONS_MAX_LENGTH} characters.")
    return value or None


def output_definition_clean(definition: Any) -> dict[str, Any]:
    """A NUMERIC (min/max), BOOLEAN or CATEGORICAL (categories, multiple matches) output definition."""
    if not isinstance(definition, dict):
        raise ValidationError("The output definition must be an object with a dataType.")
    data_type = definition.get("dataType")
    if data_type not in DATA_TYPES:
        raise ValidationError(f"dataType must be one of {', '.join(DATA_TYPES)}.")
    if definition.get("version") is not None:
        raise ValidationError("Do not send an output definition version: it is internal.")
    cleaned: dict[str, Any] = {"dataType": data_type}
    if data_type == "NUMERIC":
        low = _finite(definition.get("minValue"), "minValue")
        high = _finite(definition.get("maxValue"), "maxValue")
        if low is not None and high is not None and low > high:
            raise ValidationError("minValue must not exceed maxValue.")
        cleaned.update(minValue=low, maxValue=high)
    elif data_type == "CATEGORICAL":
        categories = definition.get("categories")
        if not isinstance(categories, list) or not all(isinstance(c, str) and c.strip() for c in categories):
            raise ValidationError("categories must be a list of non-empty strings.")
        categories = [c.strip() for c in categories]
        if len(set(categories)) < 2 or len(set(categories)) != len(categories):
            raise ValidationError("categories needs at least two values, each once.")
        if len(categories) > MAX_CATEGORIES:
            raise ValidationError(f"categories has at most {MAX_CATEGORIES} values.")
        multiple = definition.get("shouldAllowMultipleMatches")
        if not isinstance(multiple, bool):
            raise ValidationError("shouldAllowMultipleMatches must be true or false.")
        cleaned.update(categories=categories, shouldAllowMultipleMatches=multiple)
    for name in ("scoreReasoningInstructions", "scoreValueInstructions"):
        cleaned[name] = _instructions(definition, name)
    return cleaned


def json_path_clean(path: Any) -> str | None:
    if path is None or path == "":
        return None
    if not isinstance(path, str) or not path.startswith("$"):
        raise ValidationError("jsonPath must be a string starting with $.")
    try:
        jsonpath_parse(path)
    except (JsonPathParserError, Exception) as error:  # the parser raises several exception types
        raise ValidationError(f"jsonPath {path!r} is not a valid JSONPath expression: {error}") from None
    return path


def variable_mapping_clean(mapping: Any, *, variables: list[str] | None = None) -> list[dict] | None:
    """`[{"variable", "source", "jsonPath"?}]`, one per variable; null means "no mapping given".

    With `variables`, every mapped variable must be one of them (the evaluator's)."""
    if mapping is None:
        return None
    if not isinstance(mapping, list):
        raise ValidationError("variableMapping must be a list of {variable, source, jsonPath} objects.")
    cleaned, seen = [], set()
    for index, entry in enumerate(mapping):
        if not isinstance(entry, dict):
            raise ValidationError(f"variableMapping[{index}] must be an object.")
        variable, source = entry.get("variable"), entry.get("source")
        if not isinstance(variable, str) or not variable:
            raise ValidationError(f"variableMapping[{index}].variable must be a non-empty string.")
        variable = variable.strip().removeprefix("{{").removesuffix("}}").strip()
        if variable in seen:
            raise ValidationError(f"variableMapping maps {variable!r} twice.")
        if variables is not None and variable not in variables:
            known = ", ".join(variables) or "none"
            raise ValidationError(f"variableMapping names {variable!r}, which the prompt does not use (it uses: {known}).")
        if source not in SOURCES:
            raise ValidationError(f"variableMapping[{index}].source must be one of {', '.join(SOURCES)}.")
        try:
            path = json_path_clean(entry.get("jsonPath"))
        except ValidationError as error:
            raise ValidationError(f"variableMapping[{index}]: {error.messages[0]}") from None
        seen.add(variable)
        cleaned.append({"variable": variable, "source": source, "jsonPath": path})
    return cleaned
