"""The API's JSON parser: DRF's, refusing what would fail later instead of storing it.

DRF's parser turns malformed JSON into a 400 but lets a `RecursionError` (a body nested thousands
of levels deep) through as a 500, and accepts `1e999` as infinity. This one answers 400 for both,
and for any value beyond the platform's bounds (evalsite/json_values.py), for every endpoint.
"""

from rest_framework import parsers
from rest_framework.exceptions import ParseError

from evalsite.json_values import TOO_DEEP, json_value_problem


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON parse error - the body {TOO_DEEP}") from None
        problem = json_value_problem(data)
        if problem:
            raise ParseError(f"JSON parse error - the body {problem}")
        return data
