"""The API's JSON parser: DRF's, decoding through `evalsite.text.loads` and refusing what would fail later.

Every JSON body of the API (scores, dataset items, prompts, score configs, LLM connections…)
arrives without NUL characters or lone surrogates (evalsite/text.py has the rule), with numbers no
double can hold kept as the text they were written as, and within the platform's bounds
(evalsite/json_values.py: at most 100 levels deep). A body nested so deep that Python's decoder
gives up (`RecursionError`) or beyond those bounds is a 400, never a 500.
"""

from rest_framework import parsers
from rest_framework.exceptions import ParseError

from evalsite import text
from evalsite.json_values import TOO_DEEP, json_value_problem


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        encoding = parsers.get_encoding(parser_context or {})
        try:
            data = text.loads(stream.read().decode(encoding, "surrogatepass"))
        except RecursionError:
            raise ParseError(f"JSON parse error - the body {TOO_DEEP}") from None
        except (ValueError, LookupError) as error:
            raise ParseError(f"JSON parse error - {error}") from None
        problem = json_value_problem(data)
        if problem:
            raise ParseError(f"JSON parse error - the body {problem}")
        return data
