"""The one bound on the JSON values the platform accepts: how deep they nest, and finite numbers.

A client's JSON value is parsed, stored in a JSON column, and later rendered, copied and (for
dataset items) validated against a JSON Schema: all of it recursive Python, bounded by the
interpreter's recursion limit (1,000 frames, shared with the request's own stack). A value nested
deeper than `MAX_JSON_DEPTH` is refused where it enters (a 400 on the API, a field error in the
admin and in imports), so every later read of a stored value stays well inside that limit.
PostgreSQL's jsonb takes far deeper values (about 10,000 levels with the default
`max_stack_depth`): Python is the bound, not the database.

Numbers must be finite: `1e999` parses as infinity, which neither JSON nor jsonb can hold.
"""

import math
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from evalsite import text

# Levels of nested arrays/objects: `[]` and `{"a": 1}` are 1 deep, `{"a": [1]}` 2. Real payloads
# (chat messages, tool calls, nested records) stay within a few dozen.
MAX_JSON_DEPTH = 100

TOO_DEEP = f"is nested more than {MAX_JSON_DEPTH} levels deep"
NOT_FINITE = "holds a number that is not finite (NaN, Infinity or out of range, e.g. 1e999)"


def json_value_problem(value: Any) -> str | None:
    """Why `value` (a parsed JSON value) cannot be accepted, or None. Iterative: any depth is safe."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            if isinstance(item, float) and not math.isfinite(item):
                return NOT_FINITE
            continue
        if depth > MAX_JSON_DEPTH:
            return TOO_DEEP
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list | tuple | float))
    return None


class JSONFormField(forms.JSONField):
    """The admin's JSON field: a value beyond the bounds is a form error, never a server error, and
    text follows the platform's rule like the API's (evalsite/text.py: NUL removed, lone
    surrogates replaced), so a `\\u0000` typed into the admin cannot fail the save."""

    def to_python(self, value):
        try:
            value = text.storable(super().to_python(value))
        except RecursionError:
            raise ValidationError(f"This value {TOO_DEEP}.", code="invalid") from None
        problem = json_value_problem(value)
        if problem:
            raise ValidationError(f"This value {problem}.", code="invalid")
        return value

    def bound_data(self, data, initial):
        # Redisplaying a refused value parses it again: show it as typed instead.
        try:
            return super().bound_data(data, initial)
        except RecursionError:
            return forms.fields.InvalidJSONInput(data)
