"""Deterministic checks (evaluators/checks.py): each passes and fails on the data it should."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from evaluators.checks import check_clean, check_run
from evaluators.context import Context


def run(check: dict, **context) -> tuple[float, str]:
    cleaned, _ = check_clean(check)
    result = check_run(cleaned, Context(**context))
    return result.value, result.comment


def test_exact_match_compares_with_the_expected_output_by_default():
    assert run({"type": "exact_match"}, output="Paris", expected_output="Paris")[0] == 1.0
    assert run({"type": "exact_match"}, output="paris", expected_output="Paris")[0] == 0.0
    assert run({"type": "exact_match", "caseSensitive": False}, output="paris", expected_output="Paris")[0] == 1.0


def test_contains_and_not_contains():
    assert run({"type": "contains", "value": "sorry"}, output="I am sorry")[0] == 1.0
    assert run({"type": "not_contains", "value": "sorry"}, output="I am sorry")[0] == 0.0
    assert run({"type": "not_contains", "value": "sorry"}, output="Sure")[0] == 1.0


def test_regex_searches_the_text():
    assert run({"type": "regex", "pattern": r"\d{4}"}, output="in 1969")[0] == 1.0
    assert run({"type": "regex", "pattern": r"^\d+$"}, output="in 1969")[0] == 0.0


def test_valid_json_and_json_schema():
    assert run({"type": "valid_json"}, output='{"a": 1}')[0] == 1.0
    value, comment = run({"type": "valid_json"}, output="{a: 1}")
    assert value == 0.0 and "Not valid JSON" in comment
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    assert run({"type": "json_schema", "schema": schema}, output='{"a": 1}')[0] == 1.0
    value, comment = run({"type": "json_schema", "schema": schema}, output={"a": "x"})
    assert value == 0.0 and "Invalid at a" in comment


def test_numeric_tolerance_absolute_and_relative():
    assert run({"type": "numeric_tolerance", "tolerance": 0.5}, output="3.4", expected_output=3)[0] == 1.0
    assert run({"type": "numeric_tolerance", "tolerance": 0.1}, output="3.4", expected_output=3)[0] == 0.0
    assert run({"type": "numeric_tolerance", "tolerance": 0.2, "relative": True}, output=110, expected_output=100)[0] == 1.0
    assert run({"type": "numeric_tolerance", "tolerance": 0.1}, output="n/a", expected_output=3)[0] == 0.0


def test_similarity_is_numeric_without_a_threshold_and_boolean_with_one():
    cleaned, output = check_clean({"type": "similarity"})
    assert output["dataType"] == "NUMERIC"
    value, _ = run({"type": "similarity"}, output="kitten", expected_output="sitting")
    assert 0.5 < value < 0.7
    value, _ = run({"type": "similarity", "method": "levenshtein", "threshold": 0.9}, output="kitten", expected_output="sitting")
    assert value == 0.0
    assert run({"type": "similarity", "method": "token_set_ratio", "threshold": 0.9}, output="b a", expected_output="a b")[0] == 1.0


def test_length_bounds_in_characters_and_words():
    assert run({"type": "length", "max": 5}, output="short")[0] == 1.0
    assert run({"type": "length", "max": 4}, output="short")[0] == 0.0
    assert run({"type": "length", "min": 3, "unit": "words"}, output="one two")[0] == 0.0


def test_latency_and_cost_thresholds():
    assert run({"type": "latency", "maxMs": 200}, latency_ms=150)[0] == 1.0
    assert run({"type": "latency", "maxMs": 100}, latency_ms=150)[0] == 0.0
    assert run({"type": "cost", "max": 0.01}, cost=Decimal("0.02"))[0] == 0.0
    assert run({"type": "cost", "max": 0.01}, cost=None)[0] == 0.0


def test_a_check_reads_a_json_path_of_another_source():
    check = {"type": "exact_match", "expected": "fr", "source": "metadata", "jsonPath": "$.lang"}
    assert run(check, metadata={"lang": "fr"})[0] == 1.0


@pytest.mark.parametrize(
    "check",
    [
        {"type": "eval_python"},
        {"type": "regex", "pattern": "("},
        {"type": "json_schema", "schema": {"type": "nope"}},
        {"type": "numeric_tolerance"},
        {"type": "length"},
        {"type": "contains", "value": ""},
        {"type": "similarity", "threshold": 2},
        {"type": "exact_match", "source": "nowhere"},
    ],
)
def test_bad_checks_are_refused(check):
    with pytest.raises(ValidationError):
        check_clean(check)
