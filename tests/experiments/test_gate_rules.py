"""Every rule type on hand-computed data: pass, fail, cannot tell, and exactly at the bound.

Runs are made with `scored_runs` (one item per value, items item-000, item-001…, latency 100 + index
ms unless given), and judged through `gate_evaluate`, the service the API and the commands call.
"""

import math

import pytest

from experiments.gates.services import gate_evaluate, gate_policy_create
from tests.experiments.factories import scored_runs

pytestmark = pytest.mark.django_db


def judge(project, rules, *, baseline=None, candidate, method="wilcoxon"):
    policy = gate_policy_create(
        project=project,
        name=f"gate-{judge.count}",
        baseline={"kind": "run", "run": baseline.run_id} if baseline else {"kind": "latestReleased"},
        method=method,
        rules=rules,
    )
    judge.count += 1
    return gate_evaluate(project=project, policy=policy, candidate=candidate.run_id)


judge.count = 0


def only_rule(result):
    (rule,) = result.rules
    return rule


# --- minMean: the candidate's mean score at least the threshold ------------------------------------


@pytest.mark.parametrize(
    "values,threshold,outcome",
    [
        ([0.5, 1.0, 0.75, 0.75], 0.7, "pass"),  # mean 0.75
        ([0.5, 1.0, 0.75, 0.75], 0.75, "pass"),  # exactly at the bound: ≥ passes
        ([0.5, 1.0, 0.75, 0.75], 0.76, "fail"),
    ],
)
def test_min_mean_compares_the_candidates_mean_with_the_threshold(project, values, threshold, outcome):
    (run,) = scored_runs(project, {"candidate": values})
    result = judge(project, [{"type": "minMean", "score": "accuracy", "threshold": threshold}], candidate=run)
    rule = only_rule(result)
    assert (rule["outcome"], rule["value"], rule["bound"], rule["n"]) == (outcome, 0.75, threshold, 4)
    assert rule["ciLow"] <= 0.75 <= rule["ciHigh"]
    assert result.outcome == outcome


def test_min_mean_cannot_tell_below_its_minimum_of_items_and_says_how_many(project):
    (run,) = scored_runs(project, {"candidate": [0.9, 0.9, None]})
    rule = only_rule(
        judge(project, [{"type": "minMean", "score": "accuracy", "threshold": 0.5, "minItems": 3}], candidate=run)
    )
    assert (rule["outcome"], rule["n"], rule["requiredN"]) == ("cannot_tell", 2, 3)
    assert "2 scored item(s)" in rule["reason"]


def test_a_score_no_item_has_cannot_tell(project):
    (run,) = scored_runs(project, {"candidate": [0.9]})
    rule = only_rule(judge(project, [{"type": "minMean", "score": "helpfulness", "threshold": 0.5}], candidate=run))
    assert rule["outcome"] == "cannot_tell" and "helpfulness" in rule["reason"]


# --- per-run rules: error rate, cost per item, latency p90 ----------------------------------------


def test_error_rate_at_most_the_threshold(project):
    (run,) = scored_runs(project, {"candidate": [1.0] * 10})
    run.items.filter(item_key="item-004").update(error="timeout")
    for threshold, outcome in ((0.2, "pass"), (0.1, "pass"), (0.09, "fail")):  # 1 error in 10 items: 0.1
        rule = only_rule(judge(project, [{"type": "maxErrorRate", "threshold": threshold}], candidate=run))
        assert (rule["outcome"], rule["value"], rule["bound"], rule["n"]) == (outcome, 0.1, threshold, 10)


def test_cost_per_item_is_the_mean_over_the_items_with_a_cost(project):
    from decimal import Decimal

    (run,) = scored_runs(project, {"candidate": [1.0] * 4})
    for key, cost in (("item-000", "0.01"), ("item-001", "0.02"), ("item-002", "0.03")):
        run.items.filter(item_key=key).update(cost=Decimal(cost))
    for threshold, outcome in ((0.03, "pass"), (0.02, "pass"), (0.019, "fail")):  # (0.01 + 0.02 + 0.03) / 3
        rule = only_rule(judge(project, [{"type": "maxCostPerItem", "threshold": threshold}], candidate=run))
        assert (rule["outcome"], rule["value"], rule["n"]) == (outcome, 0.02, 3)


def test_latency_p90_interpolates_between_items(project):
    # 0, 100, …, 1000 ms: the 90th percentile sits exactly on the tenth value, 900 ms.
    (run,) = scored_runs(project, {"candidate": [1.0] * 11}, latency=lambda index: 100.0 * index)
    for threshold, outcome in ((1000, "pass"), (900, "pass"), (899.5, "fail")):
        rule = only_rule(judge(project, [{"type": "maxLatencyP90", "threshold": threshold}], candidate=run))
        assert (rule["outcome"], rule["value"], rule["n"]) == (outcome, 900.0, 11)


def test_run_rules_cannot_tell_without_items_costs_or_latencies(project):
    from tests.experiments.factories import ExperimentRunFactory

    empty = ExperimentRunFactory(project=project)
    result = judge(
        project,
        [
            {"type": "maxErrorRate", "threshold": 0.1},
            {"type": "maxCostPerItem", "threshold": 1},
            {"type": "maxLatencyP90", "threshold": 1000, "minItems": 5},
        ],
        candidate=empty,
    )
    assert [(rule["outcome"], rule["n"], rule["requiredN"]) for rule in result.rules] == [
        ("cannot_tell", 0, 1),
        ("cannot_tell", 0, 1),
        ("cannot_tell", 0, 5),
    ]
    assert result.outcome == "cannot_tell"


# --- noRegression: the comparison's paired test, failing only on a significant drop ------------------

# Ten items that pass in both runs but five: those the candidate breaks. McNemar's exact test on the
# five flips, all one way: p = 2 * (1/2)**5 = 0.0625.
BOOL_BASE = [True] * 10
BOOL_CAND = [False] * 5 + [True] * 5


@pytest.mark.parametrize(
    "alpha,outcome",
    [(0.1, "fail"), (0.0625, "pass"), (0.05, "pass")],  # at the bound p = alpha is not significant
)
def test_no_regression_fails_only_below_alpha(project, alpha, outcome):
    base, cand = scored_runs(project, {"b": BOOL_BASE, "c": BOOL_CAND}, data_type="BOOLEAN", score="correct")
    rule = only_rule(
        judge(project, [{"type": "noRegression", "score": "correct", "alpha": alpha}], baseline=base, candidate=cand)
    )
    assert rule["pValue"] == 0.0625 and rule["method"] == "mcnemar-exact"
    assert (rule["outcome"], rule["value"], rule["bound"], rule["n"]) == (outcome, -0.5, alpha, 10)


def test_no_regression_ignores_a_significant_improvement(project):
    base, cand = scored_runs(project, {"b": BOOL_CAND, "c": BOOL_BASE}, data_type="BOOLEAN", score="correct")
    rule = only_rule(
        judge(project, [{"type": "noRegression", "score": "correct", "alpha": 0.1}], baseline=base, candidate=cand)
    )
    assert rule["pValue"] == 0.0625 and rule["outcome"] == "pass"


def test_no_regression_on_numeric_scores_uses_the_signed_rank_test(project):
    # Eight items, every one lower by a different amount: the exact two-sided p-value is 2 / 2**8.
    base = [0.9] * 8
    cand = [0.9 - 0.01 * (index + 1) for index in range(8)]
    b, c = scored_runs(project, {"b": base, "c": cand})
    rule = only_rule(judge(project, [{"type": "noRegression", "score": "accuracy", "minPairs": 8}], baseline=b, candidate=c))
    assert rule["method"] == "wilcoxon" and rule["pValue"] == pytest.approx(2 / 2**8)
    assert rule["outcome"] == "fail" and rule["effectSize"] == -1.0


def test_no_regression_cannot_tell_below_min_pairs_and_estimates_the_pairs_for_delta(project):
    from experiments.gates.statistics import pairs_needed

    b, c = scored_runs(project, {"b": [0.5, 0.6, 0.7, 0.8], "c": [0.6, 0.5, 0.9, 0.7]})
    rules = [
        {"type": "noRegression", "score": "accuracy", "minPairs": 5},
        {"type": "noRegression", "score": "accuracy", "minPairs": 5, "delta": 0.05, "alpha": 0.1},
    ]
    # The two rules repeat a (type, score): give the second its own policy.
    without_delta = only_rule(judge(project, rules[:1], baseline=b, candidate=c))
    with_delta = only_rule(judge(project, rules[1:], baseline=b, candidate=c))
    assert (without_delta["outcome"], without_delta["n"], without_delta["requiredN"]) == ("cannot_tell", 4, 5)
    diffs = [0.1, -0.1, 0.2, -0.1]
    mean = sum(diffs) / 4
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / 3)
    expected = pairs_needed(effect_size=0.05 / sd, alpha=0.1, alternative="two-sided")
    assert expected > 5 and with_delta["requiredN"] == expected and with_delta["outcome"] == "cannot_tell"


def test_paired_rules_cannot_tell_without_a_baseline_but_run_rules_still_decide(project):
    (run,) = scored_runs(project, {"c": [0.9] * 12})
    result = judge(
        project,
        [
            {"type": "nonInferiority", "score": "accuracy", "delta": 0.05},
            {"type": "maxErrorRate", "threshold": 0.0},
        ],
        candidate=run,
    )
    paired, errors = result.rules
    assert paired["outcome"] == "cannot_tell" and "local data" in paired["reason"]
    assert errors["outcome"] == "pass"
    assert result.outcome == "cannot_tell" and result.baseline is None


# --- nonInferiority: the one-sided lower bound of the mean difference above -delta -----------------

# Differences candidate - baseline of ten items: mean 0, sd sqrt(0.08 / 9).
NI_DIFFS = [0.1, -0.1] * 4 + [0.0, 0.0]
NI_BASE = [0.5] * 10


def ni_rule(project, diffs, delta, alpha=0.05, min_pairs=10):
    b, c = scored_runs(project, {"b": NI_BASE, "c": [0.5 + d for d in diffs]})
    rule = {"type": "nonInferiority", "score": "accuracy", "delta": delta, "alpha": alpha, "minPairs": min_pairs}
    return only_rule(judge(project, [rule], baseline=b, candidate=c))


def hand_bound(diffs, alpha):
    from scipy import stats

    n = len(diffs)
    mean = sum(diffs) / n
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1))
    half = stats.t.ppf(1 - alpha, n - 1) * sd / math.sqrt(n)
    return mean, mean - half, mean + half


def test_non_inferiority_passes_when_the_lower_bound_clears_the_margin(project):
    rule = ni_rule(project, NI_DIFFS, delta=0.1)
    mean, low, high = hand_bound(NI_DIFFS, 0.05)
    assert low == pytest.approx(-0.05466, abs=1e-5)  # t(0.95, 9) = 1.8331 × 0.0943 / √10
    assert rule["outcome"] == "pass" and rule["bound"] == -0.1 and rule["n"] == 10
    assert rule["value"] == pytest.approx(mean, abs=1e-12)
    assert (rule["ciLow"], rule["ciHigh"]) == (pytest.approx(low), pytest.approx(high))
    assert rule["confidence"] == pytest.approx(0.9) and rule["requiredN"] is None


def test_non_inferiority_fails_when_the_whole_interval_is_below_the_margin(project):
    diffs = [d - 0.2 for d in NI_DIFFS]
    rule = ni_rule(project, diffs, delta=0.1)
    _, _, high = hand_bound(diffs, 0.05)
    assert high < -0.1 and rule["outcome"] == "fail"


def test_non_inferiority_cannot_tell_when_the_interval_holds_the_margin_and_says_how_many_pairs(project):
    from experiments.gates.statistics import pairs_needed

    rule = ni_rule(project, NI_DIFFS, delta=0.05)
    mean, low, high = hand_bound(NI_DIFFS, 0.05)
    assert low < -0.05 < high and rule["outcome"] == "cannot_tell"
    sd = math.sqrt(0.08 / 9)
    assert rule["requiredN"] == pairs_needed(effect_size=(mean + 0.05) / sd, alpha=0.05, alternative="larger")
    assert rule["requiredN"] > 10 and "contains −0.05" in rule["reason"]


def test_non_inferiority_exactly_at_the_bound_is_not_a_pass(project):
    # Every item 0.25 lower: the bounds are -0.25 itself, equal to -delta, and "greater than" fails.
    rule = ni_rule(project, [-0.25] * 10, delta=0.25)
    assert (rule["ciLow"], rule["ciHigh"], rule["bound"]) == (-0.25, -0.25, -0.25)
    assert rule["outcome"] == "cannot_tell" and rule["pValue"] == 1.0
    # The same with spread: delta set to minus the lower bound the gate computed.
    low = ni_rule(project, NI_DIFFS, delta=1.0)["ciLow"]
    assert low == pytest.approx(hand_bound(NI_DIFFS, 0.05)[1])
    assert ni_rule(project, NI_DIFFS, delta=-low)["outcome"] == "cannot_tell"
    assert ni_rule(project, NI_DIFFS, delta=-low + 1e-9)["outcome"] == "pass"


def test_non_inferiority_below_min_pairs_cannot_tell(project):
    rule = ni_rule(project, NI_DIFFS, delta=0.5, min_pairs=11)
    assert rule["outcome"] == "cannot_tell" and rule["n"] == 10 and rule["requiredN"] == 11


def test_non_inferiority_with_a_mean_below_the_margin_needs_no_number_of_pairs(project):
    rule = ni_rule(project, [d - 0.06 for d in NI_DIFFS], delta=0.05)
    assert rule["outcome"] == "cannot_tell" and rule["requiredN"] is None
    assert "no number of items" in rule["reason"]


def test_the_gate_fails_when_any_rule_fails_even_if_another_cannot_tell(project):
    (run,) = scored_runs(project, {"c": [0.1] * 3})
    result = judge(
        project,
        [
            {"type": "minMean", "score": "accuracy", "threshold": 0.5},
            {"type": "noRegression", "score": "accuracy"},
        ],
        candidate=run,
    )
    assert [rule["outcome"] for rule in result.rules] == ["fail", "cannot_tell"] and result.outcome == "fail"
