"""A project with a connection to the fake LLM, a price, and evaluators to judge with."""

from decimal import Decimal

from evalsite.llm.connections import llm_connection_create
from evalsite.llm.prices import model_price_create
from evaluators.services import evaluator_create

MODEL = "fake-judge"
INPUT_PRICE = Decimal("0.000001")
OUTPUT_PRICE = Decimal("0.000002")


def judge_connection(project, llm, provider: str = "fake"):
    connection = llm_connection_create(
        project=project, provider=provider, secret_key="sk-fake", base_url=llm.base_url, custom_models=[MODEL]
    )
    model_price_create(project=project, model_name=MODEL, match_pattern=MODEL, input_price=INPUT_PRICE,
                       output_price=OUTPUT_PRICE)
    return connection


def boolean_judge(project, *, name="correct", provider="fake", prompt=None, **extra):
    return evaluator_create(
        project=project,
        name=name,
        kind="llm_as_judge",
        prompt=prompt or [
            {"role": "system", "content": "You grade answers."},
            {"role": "user", "content": "Question: {{input}}\nAnswer: {{output}}\nExpected: {{expected_output}}"},
        ],
        model_config={"provider": provider, "model": MODEL},
        output_definition={"dataType": "BOOLEAN"},
        **extra,
    )


def numeric_judge(project, *, name="helpful", provider="fake", **extra):
    return evaluator_create(
        project=project,
        name=name,
        kind="llm_as_judge",
        prompt="Rate the answer {{output}} to {{input}} from 0 to 10.",
        model_config={"provider": provider, "model": MODEL},
        output_definition={"dataType": "NUMERIC", "minValue": 0, "maxValue": 10},
        **extra,
    )


def check_evaluator(project, check: dict, *, name="check"):
    return evaluator_create(project=project, name=name, kind="check", check=check)


PAIRWISE_PROMPT = [
    {"role": "system", "content": "You compare two answers to the same question."},
    {
        "role": "user",
        "content": "Question: {{input}}\nReference: {{expected_output}}\n"
                   "Answer A: {{output_a}}\nAnswer B: {{output_b}}\nWhich answer is better?",
    },
]


def pairwise_judge(project, *, name="preference", provider="fake", **extra):
    return evaluator_create(
        project=project,
        name=name,
        kind="llm_as_judge",
        prompt=PAIRWISE_PROMPT,
        model_config={"provider": provider, "model": MODEL},
        output_definition={"dataType": "CATEGORICAL", "categories": ["A", "B", "tie"], "shouldAllowMultipleMatches": False},
        **extra,
    )
