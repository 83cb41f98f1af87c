"""Judging a candidate run by a gate policy: every rule gives pass, fail or cannot tell, with its figures.

The figures come from the comparison of the baseline with the candidate (experiments/comparison.py):
its run summaries (error count, cost per item, latency percentiles, score means with their bootstrap
interval), its paired test per score (the "no regression" rules read it as it is), and its item rows
(paired for the non-inferiority bound). GATES.md beside this file gives each rule's decision.

The gate's outcome: fail when any rule fails, else cannot tell when any rule cannot tell, else pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from experiments import comparison as cmp
from experiments.gates import statistics as gate_stats
from experiments.gates.models import GateOutcome

PASS, FAIL, CANNOT_TELL = GateOutcome.PASS.value, GateOutcome.FAIL.value, GateOutcome.CANNOT_TELL.value
PAIRED_RULES = ("noRegression", "nonInferiority")
SCORE_RULES = ("minMean", *PAIRED_RULES)
RUN_RULES = ("maxErrorRate", "maxCostPerItem", "maxLatencyP90")


@dataclass
class RuleResult:
    rule: dict[str, Any]
    outcome: str
    criterion: str
    value: float | None = None
    bound: float | None = None
    p_value: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    confidence: float | None = None
    n: int = 0
    required_n: int | None = None
    reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "type": self.rule["type"],
            "score": self.rule.get("score"),
            "outcome": self.outcome,
            "criterion": self.criterion,
            "value": _finite(self.value),
            "bound": _finite(self.bound),
            "pValue": _finite(self.p_value),
            "ciLow": _finite(self.ci_low),
            "ciHigh": _finite(self.ci_high),
            "confidence": self.confidence,
            "n": self.n,
            "requiredN": self.required_n,
            "reason": self.reason,
            **self.extra,
        }


def overall_outcome(results: list[RuleResult]) -> str:
    outcomes = {result.outcome for result in results}
    if FAIL in outcomes:
        return FAIL
    if CANNOT_TELL in outcomes:
        return CANNOT_TELL
    return PASS


def judge(
    *, rules: list[dict], comparison: cmp.Comparison, candidate_index: int, baseline_note: str | None
) -> list[RuleResult]:
    """Every rule of the policy on the candidate (column `candidate_index` of the comparison)."""
    return [_judge_rule(rule, comparison, candidate_index, baseline_note) for rule in rules]


def _judge_rule(rule: dict, comparison: cmp.Comparison, column: int, baseline_note: str | None) -> RuleResult:
    kind = rule["type"]
    summary = comparison.summaries[column]
    if kind == "minMean":
        return _min_mean(rule, comparison, summary)
    if kind in PAIRED_RULES:
        if comparison.baseline is None:
            return RuleResult(
                rule=rule, outcome=CANNOT_TELL, criterion=_criterion(rule), reason=baseline_note or "no baseline run"
            )
        score_kind = comparison.score_kinds.get(rule["score"])
        if score_kind is None or score_kind == "categorical":
            return _no_score(rule, score_kind)
        if kind == "noRegression":
            return _no_regression(rule, comparison, column)
        return _non_inferiority(rule, comparison, column)
    return _run_rule(rule, summary)


def _criterion(rule: dict) -> str:
    kind = rule["type"]
    if kind == "minMean":
        return f"mean ≥ {rule['threshold']:g}"
    if kind == "noRegression":
        return f"no regression significant at α={rule['alpha']:g}"
    if kind == "nonInferiority":
        return f"{1 - rule['alpha']:.3g} lower bound of the difference > −{rule['delta']:g}"
    if kind == "maxErrorRate":
        return f"error rate ≤ {rule['threshold']:g}"
    if kind == "maxCostPerItem":
        return f"cost per item ≤ {rule['threshold']:g}"
    return f"latency p90 ≤ {rule['threshold']:g} ms"


def _no_score(rule: dict, score_kind: str | None) -> RuleResult:
    reason = (
        f"“{rule['score']}” is a categorical score: it has no mean to test"
        if score_kind == "categorical"
        else f"no numeric or boolean score “{rule['score']}” on these runs' items"
    )
    return RuleResult(
        rule=rule,
        outcome=CANNOT_TELL,
        criterion=_criterion(rule),
        reason=reason,
        required_n=rule.get("minPairs", rule.get("minItems")),
    )


def _min_mean(rule: dict, comparison: cmp.Comparison, summary: cmp.RunSummary) -> RuleResult:
    score_kind = comparison.score_kinds.get(rule["score"])
    if score_kind is None or score_kind == "categorical":
        return _no_score(rule, score_kind)
    ci = summary.scores[rule["score"]]
    result = RuleResult(
        rule=rule,
        outcome=CANNOT_TELL,
        criterion=_criterion(rule),
        value=ci.mean,
        bound=rule["threshold"],
        ci_low=ci.ci_low,
        ci_high=ci.ci_high,
        confidence=0.95,
        n=ci.n,
    )
    if ci.n < rule["minItems"]:
        result.required_n = rule["minItems"]
        result.reason = f"{ci.n} scored item(s), the rule needs at least {rule['minItems']}"
        return result
    result.outcome = PASS if ci.mean >= rule["threshold"] else FAIL
    return result


def _no_regression(rule: dict, comparison: cmp.Comparison, column: int) -> RuleResult:
    """The comparison's own paired test (Wilcoxon or bootstrap, McNemar for booleans): fail only on a
    regression significant at the rule's alpha; too few pairs cannot tell."""
    candidate = comparison.runs[column]
    test = next(t for t in comparison.tests if t.candidate.pk == candidate.pk and t.score == rule["score"])
    paired = test.result
    result = RuleResult(
        rule=rule,
        outcome=CANNOT_TELL,
        criterion=_criterion(rule),
        value=paired.mean_difference,
        bound=rule["alpha"],
        p_value=paired.p_value,
        ci_low=paired.ci_low,
        ci_high=paired.ci_high,
        confidence=paired.confidence,
        n=paired.n_pairs,
        extra={"method": paired.method, "effectSize": _finite(paired.effect_size), "effectSizeName": paired.effect_size_name},
    )
    if paired.n_pairs < rule["minPairs"]:
        result.reason = f"{paired.n_pairs} paired item(s), the rule needs at least {rule['minPairs']}"
        result.required_n = _pairs_for_regression(rule, comparison, column)
        return result
    # Wilcoxon asks whether changes lean one way (the rank-biserial sign says which); the other tests
    # are about the mean difference: the same reading as the comparison's verdicts.
    direction = paired.effect_size if paired.method == "wilcoxon" else paired.mean_difference
    significant = paired.p_value is not None and paired.p_value < rule["alpha"]
    result.outcome = FAIL if significant and direction is not None and direction < 0 else PASS
    return result


def _pairs_for_regression(rule: dict, comparison: cmp.Comparison, column: int) -> int:
    """At least minPairs; with a delta, the pairs a two-sided paired t-test needs to detect a change
    of delta at alpha with 80% power, the spread taken from the observed differences."""
    needed = rule["minPairs"]
    if rule.get("delta") is None:
        return needed
    diffs = _differences(comparison, column, rule["score"])
    sd = float(diffs.std(ddof=1)) if diffs.size >= 2 else 0.0
    if sd > 0:
        pairs = gate_stats.pairs_needed(effect_size=rule["delta"] / sd, alpha=rule["alpha"], alternative="two-sided")
        if pairs is not None:
            needed = max(needed, pairs)
    return needed


def _non_inferiority(rule: dict, comparison: cmp.Comparison, column: int) -> RuleResult:
    delta, alpha = rule["delta"], rule["alpha"]
    bound = gate_stats.non_inferiority(_differences(comparison, column, rule["score"]), delta=delta, alpha=alpha)
    result = RuleResult(
        rule=rule,
        outcome=CANNOT_TELL,
        criterion=_criterion(rule),
        value=bound.mean_difference,
        bound=-delta,
        p_value=bound.p_value,
        ci_low=bound.lower,
        ci_high=bound.upper,
        confidence=1 - 2 * alpha,
        n=bound.n,
        extra={"sd": _finite(bound.sd)},
    )
    if bound.n < rule["minPairs"]:
        result.reason = f"{bound.n} paired item(s), the rule needs at least {rule['minPairs']}"
    elif bound.lower > -delta:
        result.outcome = PASS
        return result
    elif bound.upper < -delta:
        result.outcome = FAIL
        result.reason = f"the whole interval lies below −{delta:g}: the candidate is worse by more than the margin"
        return result
    else:
        result.reason = f"the interval [{bound.lower:.4g}, {bound.upper:.4g}] contains −{delta:g}"
    result.required_n, note = _pairs_for_non_inferiority(bound, rule)
    if note:
        result.reason = f"{result.reason}; {note}"
    return result


def _pairs_for_non_inferiority(bound: gate_stats.NonInferiority, rule: dict) -> tuple[int | None, str | None]:
    """Pairs needed to show non-inferiority with 80% power if the true difference and its spread are
    what was observed: a one-sided paired t-test of "difference > -delta", effect (mean + delta) / sd."""
    minimum = rule["minPairs"]
    if bound.sd is None:
        return minimum, "too few differences to estimate their spread"
    if bound.sd == 0:
        return minimum, "every item moved by the same amount, so the spread of the differences is unknown"
    shift = bound.mean_difference + rule["delta"]
    if shift <= 0:
        return None, "the observed difference is at or below the margin, so no number of items is expected to show non-inferiority"
    pairs = gate_stats.pairs_needed(effect_size=shift / bound.sd, alpha=rule["alpha"], alternative="larger")
    if pairs is None:
        return None, "the observed difference is too close to the margin for any realistic number of items"
    return max(minimum, pairs), None


def _differences(comparison: cmp.Comparison, column: int, score: str) -> np.ndarray:
    base_column = comparison.runs.index(comparison.baseline)
    paired = cmp.paired_scores_of(comparison.rows, base_column, column, score)
    return paired.candidate.astype(float) - paired.baseline.astype(float)


def _run_rule(rule: dict, summary: cmp.RunSummary) -> RuleResult:
    kind = rule["type"]
    if kind == "maxErrorRate":
        # Over every trial: with repeated trials, each execution of an item can fail on its own.
        n = summary.trial_count
        value = summary.error_count / n if n else None
    elif kind == "maxCostPerItem":
        n = summary.cost_n
        value = float(summary.cost_mean) if summary.cost_mean is not None else None
    else:
        n = summary.latency_n
        value = summary.latency.get("p90")
    result = RuleResult(rule=rule, outcome=CANNOT_TELL, criterion=_criterion(rule), value=value, bound=rule["threshold"], n=n)
    if n < rule["minItems"] or value is None:
        result.required_n = rule["minItems"]
        what = {"maxErrorRate": "item(s)", "maxCostPerItem": "item(s) with a cost", "maxLatencyP90": "item(s) with a latency"}
        result.reason = f"{n} {what[kind]}, the rule needs at least {rule['minItems']}"
        return result
    result.outcome = PASS if value <= rule["threshold"] else FAIL
    return result


def _finite(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(value)
