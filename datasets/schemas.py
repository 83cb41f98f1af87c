"""JSON Schema checks for datasets: are the schemas themselves valid, and does an item match them.

Messages name the failing place as a path from the item's field, e.g.
`input.question: 'x' is not of type 'integer'` or `expectedOutput.choices[2]: ...`, so a client
(and an import's error report) sees what to fix without reading the schema.
"""

from collections.abc import Iterable
from typing import Any

from jsonschema import exceptions as schema_exceptions
from jsonschema.validators import validator_for

# API field names of the two validated parts of an item.
INPUT = "input"
EXPECTED_OUTPUT = "expectedOutput"
# Values are bounded in depth where they enter (evalsite/json_values.py), which keeps validation
# far from Python's recursion limit; should a self-referencing schema still reach it, the value is
# refused with this message rather than failing the request.
TOO_DEEP_TO_CHECK = "is nested too deeply to be checked against the schema"


def schema_problem(schema: Any) -> str | None:
    """Why `schema` is not a usable JSON Schema, or None when it is (None itself means "no schema").

    Only objects are accepted: `true`/`false` are valid JSON Schemas, but the SDK's `Dataset` model
    types the schemas as objects and would refuse to parse a dataset that carried one.
    """
    if schema is None:
        return None
    if not isinstance(schema, dict):
        return "must be a JSON Schema object"
    try:
        validator_for(schema).check_schema(schema)
    except schema_exceptions.SchemaError as error:
        where = _join_path("", error.absolute_path)
        return f"is not a valid JSON Schema: {error.message}" + (f" (at {where})" if where else "")
    except RecursionError:
        return TOO_DEEP_TO_CHECK
    return None


def _join_path(root: str, parts: Iterable) -> str:
    path = root
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


class ItemSchemas:
    """The compiled validators of one dataset; build once, check many items."""

    def __init__(self, input_schema: dict | None, expected_output_schema: dict | None):
        self._validators = {}
        for field, schema in ((INPUT, input_schema), (EXPECTED_OUTPUT, expected_output_schema)):
            if schema:  # `{}` accepts everything: same as no schema
                self._validators[field] = validator_for(schema)(schema)

    @classmethod
    def of(cls, dataset) -> "ItemSchemas":
        return cls(dataset.input_schema, dataset.expected_output_schema)

    @property
    def empty(self) -> bool:
        return not self._validators

    def errors(self, input: Any, expected_output: Any) -> dict[str, str]:
        """`{"input.question": "'x' is not of type 'integer'"}`: the most relevant error per field."""
        found = {}
        for field, value in ((INPUT, input), (EXPECTED_OUTPUT, expected_output)):
            validator = self._validators.get(field)
            if validator is None:
                continue
            try:
                error = schema_exceptions.best_match(validator.iter_errors(value))
            except RecursionError:
                found[field] = TOO_DEEP_TO_CHECK
                continue
            if error is not None:
                found[_join_path(field, error.absolute_path)] = error.message
        return found

    def first_error(self, input: Any, expected_output: Any) -> str | None:
        """The same as one line, `input.question: 'x' is not of type 'integer'`, or None."""
        errors = self.errors(input, expected_output)
        return "; ".join(f"{path}: {message}" for path, message in errors.items()) or None
