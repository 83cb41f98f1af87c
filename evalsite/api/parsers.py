"""The API's JSON parser: DRF's, decoding through `evalsite.text.loads`.

So every JSON body of the API (scores, dataset items, prompts, score configs, LLM connections…)
arrives without NUL characters or lone surrogates (evalsite/text.py has the rule), and without
numbers no column can hold, before any serializer sees it.
"""

from rest_framework import parsers
from rest_framework.exceptions import ParseError

from evalsite import text


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        encoding = parsers.get_encoding(parser_context or {})
        try:
            return text.loads(stream.read().decode(encoding, "surrogatepass"))
        except (ValueError, RecursionError, LookupError) as error:
            raise ParseError(f"JSON parse error - {error}") from None
