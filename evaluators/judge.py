"""The LLM judge: the messages it is sent, the structured output it is asked for, and how its
answer becomes a score value — or an error, never a made-up score.

The judge asks for `{"reasoning": str, "score": …}` through `response_format` (a JSON schema,
strict), and the same instruction is written into the messages, so a provider that ignores
`response_format` still answers in JSON; the answer is then read with the core client's
`parse_json_answer` (the whole text, a fenced block, or the first object in the text).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from evalsite.llm.client import LLMBadResponse, parse_json_answer


class AnswerError(Exception):
    """The judge answered, but not with something that fits the output definition."""


@dataclass(frozen=True)
class JudgeScore:
    data_type: str  # NUMERIC | BOOLEAN | CATEGORICAL
    values: list[Any]  # one value, or several categories when multiple matches are allowed
    reasoning: str | None


def score_schema(definition: dict) -> dict:
    data_type = definition["dataType"]
    if data_type == "NUMERIC":
        score: dict[str, Any] = {"type": "number"}
        bounds = [f"at least {definition['minValue']:g}" if definition.get("minValue") is not None else None,
                  f"at most {definition['maxValue']:g}" if definition.get("maxValue") is not None else None]
        if any(bounds):
            score["description"] = "A number " + " and ".join(b for b in bounds if b) + "."
    elif data_type == "BOOLEAN":
        score = {"type": "boolean"}
    elif definition.get("shouldAllowMultipleMatches"):
        score = {"type": "array", "items": {"type": "string", "enum": definition["categories"]}}
    else:
        score = {"type": "string", "enum": definition["categories"]}
    if definition.get("scoreValueInstructions"):
        score["description"] = (score.get("description", "") + " " + definition["scoreValueInstructions"]).strip()
    reasoning = {"type": "string"}
    if definition.get("scoreReasoningInstructions"):
        reasoning["description"] = definition["scoreReasoningInstructions"]
    return {
        "type": "object",
        "properties": {"reasoning": reasoning, "score": score},
        "required": ["reasoning", "score"],
        "additionalProperties": False,
    }


def response_format(definition: dict) -> dict:
    return {"type": "json_schema", "json_schema": {"name": "evaluation", "strict": True, "schema": score_schema(definition)}}


def output_instructions(definition: dict) -> str:
    """The answer format in words, appended to the last message."""
    data_type = definition["dataType"]
    if data_type == "NUMERIC":
        low, high = definition.get("minValue"), definition.get("maxValue")
        kind = "a number"
        if low is not None and high is not None:
            kind = f"a number from {low:g} to {high:g}"
        elif low is not None:
            kind = f"a number of at least {low:g}"
        elif high is not None:
            kind = f"a number of at most {high:g}"
    elif data_type == "BOOLEAN":
        kind = "true or false"
    elif definition.get("shouldAllowMultipleMatches"):
        kind = "a list of one or more of " + json.dumps(definition["categories"], ensure_ascii=False)
    else:
        kind = "exactly one of " + json.dumps(definition["categories"], ensure_ascii=False)
    lines = [
        "",
        "Answer with a JSON object only, no other text: "
        f'{{"reasoning": "<why, in a few sentences>", "score": <{kind}>}}.',
    ]
    if definition.get("scoreValueInstructions"):
        lines.append(f"Score: {definition['scoreValueInstructions']}")
    if definition.get("scoreReasoningInstructions"):
        lines.append(f"Reasoning: {definition['scoreReasoningInstructions']}")
    return "\n".join(lines)


def judge_messages(filled: list[dict[str, str]], definition: dict) -> list[dict[str, str]]:
    messages = [dict(m) for m in filled]
    messages[-1]["content"] += "\n" + output_instructions(definition)
    return messages


def _boolean(value: Any) -> float | None:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)) and value in (0, 1):
        return float(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "yes", "no"):
        return 1.0 if value.strip().lower() in ("true", "yes") else 0.0
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    return None


def parse_answer(text: str, definition: dict) -> JudgeScore:
    """The score in a judge's answer; AnswerError (with a message fit for the ledger) otherwise."""
    try:
        answer = parse_json_answer(text)
    except LLMBadResponse as error:
        raise AnswerError(str(error)) from None
    if "score" not in answer:
        raise AnswerError("The judge's JSON has no \"score\".")
    raw, reasoning = answer["score"], answer.get("reasoning")
    reasoning = reasoning if isinstance(reasoning, str) and reasoning.strip() else None
    data_type = definition["dataType"]
    if data_type == "NUMERIC":
        value = _number(raw)
        if value is None:
            raise AnswerError(f"The score {raw!r} is not a number.")
        low, high = definition.get("minValue"), definition.get("maxValue")
        if (low is not None and value < low) or (high is not None and value > high):
            raise AnswerError(f"The score {value:g} is outside the range {low if low is not None else '-∞'}–{high if high is not None else '∞'}.")
        return JudgeScore(data_type, [value], reasoning)
    if data_type == "BOOLEAN":
        value = _boolean(raw)
        if value is None:
            raise AnswerError(f"The score {raw!r} is not true or false.")
        return JudgeScore(data_type, [value], reasoning)
    categories = definition["categories"]
    by_folded = {c.casefold(): c for c in categories}
    picked = raw if isinstance(raw, list) else [raw]
    if not picked or not all(isinstance(p, str) and p.strip().casefold() in by_folded for p in picked):
        raise AnswerError(f"The score {raw!r} is not among the categories {categories}.")
    values = list(dict.fromkeys(by_folded[p.strip().casefold()] for p in picked))
    if len(values) > 1 and not definition.get("shouldAllowMultipleMatches"):
        raise AnswerError(f"The judge picked {len(values)} categories; one is allowed.")
    return JudgeScore(data_type, values, reasoning)
