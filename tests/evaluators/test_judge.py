"""The judge's answer format and parsing (evaluators/judge.py): a score, or an error, never a guess."""

import pytest

from evaluators.judge import AnswerError, output_instructions, parse_answer, score_schema

NUMERIC = {"dataType": "NUMERIC", "minValue": 0, "maxValue": 10}
BOOLEAN = {"dataType": "BOOLEAN"}
ONE_OF = {"dataType": "CATEGORICAL", "categories": ["good", "bad"], "shouldAllowMultipleMatches": False}
MANY_OF = {"dataType": "CATEGORICAL", "categories": ["rude", "vague", "wrong"], "shouldAllowMultipleMatches": True}


def test_structured_answers_are_read():
    assert parse_answer('{"reasoning": "fine", "score": 7}', NUMERIC).values == [7.0]
    score = parse_answer('{"reasoning": "yes", "score": true}', BOOLEAN)
    assert score.values == [1.0] and score.reasoning == "yes"
    assert parse_answer('{"reasoning": "", "score": "Good"}', ONE_OF).values == ["good"]
    assert parse_answer('{"reasoning": "", "score": ["rude", "wrong"]}', MANY_OF).values == ["rude", "wrong"]


def test_json_is_found_in_a_text_answer():
    text = 'Let me think.\n```json\n{"reasoning": "close", "score": "8"}\n```'
    assert parse_answer(text, NUMERIC).values == [8.0]


@pytest.mark.parametrize(
    ("text", "definition", "fragment"),
    [
        ("I think it is good.", NUMERIC, "no JSON"),
        ('{"reasoning": "x"}', NUMERIC, "no \"score\""),
        ('{"score": 11}', NUMERIC, "outside the range"),
        ('{"score": "maybe"}', BOOLEAN, "not true or false"),
        ('{"score": "great"}', ONE_OF, "not among the categories"),
        ('{"score": ["good", "bad"]}', ONE_OF, "one is allowed"),
    ],
)
def test_answers_that_do_not_fit_are_errors(text, definition, fragment):
    with pytest.raises(AnswerError) as error:
        parse_answer(text, definition)
    assert fragment.lower() in str(error.value).lower()


def test_the_schema_and_the_instructions_follow_the_output_definition():
    assert score_schema(ONE_OF)["properties"]["score"]["enum"] == ["good", "bad"]
    assert score_schema(MANY_OF)["properties"]["score"]["type"] == "array"
    assert "from 0 to 10" in output_instructions(NUMERIC)
