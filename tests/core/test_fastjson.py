"""evalsite.fastjson: msgspec's speed with the json module's answers."""

import json
import math
from datetime import datetime, timedelta, timezone

import pytest

from evalsite import fastjson

STANDARD = json.JSONDecoder(parse_constant=lambda name: (_ for _ in ()).throw(ValueError(name)))

TEXTS = [
    '{"a": {"b": [1, 2.5, {"c": null}]}, "d": true}',
    '"plain"',
    "12345678901234567890123",  # beyond 64 bits: an exact int, not a float
    "9007199254740993",
    "0.30000000000000004",
    "1e-400",
    "-0",
    '{"a": 1, "a": 2}',
    '"\\u00e9\\ud83d\\ude00\\u0000"',
    '"\\udfff"',  # a lone surrogate: msgspec refuses, json decides
    "[1e999]",  # beyond a double: json reads infinity
]
REFUSED = ["NaN", "[Infinity]", "hello", "", "01", "[1,]", '"a\nb"', "1" * 5000, "[" * 5000 + "]" * 5000]


@pytest.mark.parametrize("text", TEXTS)
def test_loads_answers_what_the_json_module_answers(text):
    assert repr(fastjson.loads(text)) == repr(STANDARD.decode(text))


@pytest.mark.parametrize("text", REFUSED)
def test_loads_refuses_what_the_json_module_refuses(text):
    with pytest.raises((ValueError, RecursionError)):
        STANDARD.decode(text)
    with pytest.raises((ValueError, RecursionError)):
        fastjson.loads(text)


@pytest.mark.parametrize(
    "value",
    [{"q": "é\u2028", "n": [1, 2.5, -0.0, 10**30, None, True]}, "\x00 nul", {"1": {}}, [], "\ud800"],
)
def test_dumps_writes_the_same_json_value_as_the_json_module(value):
    text = fastjson.dumps(value)
    standard = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    assert json.loads(text) == json.loads(standard)
    assert ("\\u0000" in text) == ("\\u0000" in standard)


def test_dumps_writes_a_non_finite_float_as_null():
    assert fastjson.dumps({"x": math.inf, "y": [-math.inf]}) == '{"x":null,"y":[null]}'


def test_dumps_writes_datetimes_in_iso_8601_also_when_the_standard_encoder_takes_over():
    moment = datetime(2026, 1, 15, 12, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    fast = json.loads(fastjson.dumps([moment, "a"]))[0]
    fallback = json.loads(fastjson.dumps([moment, "\ud800"]))[0]  # a lone surrogate: msgspec refuses
    assert datetime.fromisoformat(fast) == datetime.fromisoformat(fallback) == moment
