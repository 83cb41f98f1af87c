"""Repeated trials in the comparison: per-item means first, then the paired tests (STATISTICS.md)."""

from decimal import Decimal

import numpy as np
import pytest
from scipy import stats

from experiments.comparison import comparison_build
from tests.experiments.factories import scored_runs

pytestmark = pytest.mark.django_db

# Three trials per item, 12 items: the candidate is better on most items, but noisy.
BASE_TRIALS = [
    [0.2, 0.3, 0.1], [0.5, 0.5, 0.5], [0.9, 0.7, 0.8], [0.4, 0.6, 0.5], [0.3, 0.3, 0.2], [0.8, 0.9, 0.8],
    [0.6, 0.4, 0.5], [0.1, 0.2, 0.1], [0.7, 0.7, 0.6], [0.5, 0.3, 0.4], [0.3, 0.5, 0.4], [0.6, 0.6, 0.6],
]
CAND_TRIALS = [
    [0.4, 0.5, 0.3], [0.6, 0.8, 0.7], [0.9, 0.9, 0.7], [0.7, 0.6, 0.8], [0.3, 0.5, 0.4], [0.8, 0.9, 1.0],
    [0.7, 0.6, 0.8], [0.1, 0.3, 0.2], [0.6, 0.8, 0.7], [0.6, 0.6, 0.6], [0.5, 0.6, 0.4], [0.7, 0.9, 0.8],
]


def build(project, runs, **options):
    return comparison_build(project=project, run_ids=[run.run_id for run in runs], **options)


def test_the_paired_test_runs_on_per_item_means_and_matches_scipy(project):
    base, cand = scored_runs(project, {"baseline": BASE_TRIALS, "candidate": CAND_TRIALS})
    result = build(project, [base, cand], baseline_id=base.run_id)
    (test,) = result.tests

    base_means = np.array([np.mean(t) for t in BASE_TRIALS])
    cand_means = np.array([np.mean(t) for t in CAND_TRIALS])
    diffs = cand_means - base_means
    changed = diffs[~np.isclose(diffs, 0, rtol=1e-9, atol=1e-12)]
    expected = stats.wilcoxon(changed, zero_method="wilcox")
    assert test.result.n_pairs == 12
    assert test.result.mean_difference == pytest.approx(diffs.mean())
    assert test.result.p_value == pytest.approx(expected.pvalue, rel=1e-9)

    summary = result.summaries[0]
    assert (summary.item_count, summary.trial_count, summary.max_trials) == (12, 36, 3)
    assert summary.scores["accuracy"].mean == pytest.approx(base_means.mean())
    assert summary.scores["accuracy"].n == 12  # items, not trials: the trials of an item are not independent


def test_spread_variation_and_flips_per_item(project):
    base, cand = scored_runs(project, {"baseline": BASE_TRIALS, "candidate": CAND_TRIALS})
    result = build(project, [base, cand], baseline_id=base.run_id)
    base_summary = result.summaries[0]
    varying = [t for t in BASE_TRIALS if len(set(t)) > 1]
    variances = [np.var(t, ddof=1) for t in BASE_TRIALS]
    assert base_summary.variation["accuracy"]["items"] == 12
    assert base_summary.variation["accuracy"]["varying"] == len(varying)
    assert base_summary.variation["accuracy"]["shareVarying"] == pytest.approx(len(varying) / 12)
    assert base_summary.variation["accuracy"]["meanVariance"] == pytest.approx(np.mean(variances))

    rows = {row.key: row for row in result.rows}
    steady = rows["item-001"].cells[0]  # [0.5, 0.5, 0.5] in the baseline
    assert steady.spread["accuracy"] == 0 and "accuracy" not in steady.varies
    noisy = rows["item-000"].cells[0]
    assert noisy.spread["accuracy"] == pytest.approx(np.std(BASE_TRIALS[0], ddof=1))
    assert [trial.trial for trial in noisy.trials] == [1, 2, 3]
    # item-011 is steady in the baseline but not in the candidate: it still flips.
    assert rows["item-011"].flips == {"accuracy"}
    item = next(i for i in result.to_dict()["items"] if i["itemId"] == "item-011")
    assert item["flips"] == ["accuracy"]
    assert len(item["runs"][cand.run_id]["trials"]) == 3


def test_boolean_scores_with_trials_are_tested_as_pass_shares(project):
    base_trials = [[True, False, False], [False, False, False], [True, True, False], [False, False, True]] * 4
    cand_trials = [[True, True, False], [True, False, True], [True, True, True], [True, False, True]] * 4
    base, cand = scored_runs(
        project, {"baseline": base_trials, "candidate": cand_trials}, data_type="BOOLEAN", score="pass"
    )
    result = build(project, [base, cand], baseline_id=base.run_id)
    (test,) = result.tests
    assert test.kind == "boolean" and test.result.method == "wilcoxon"
    diffs = np.array([np.mean(c) - np.mean(b) for b, c in zip(base_trials, cand_trials, strict=True)])
    expected = stats.wilcoxon(diffs[diffs != 0], zero_method="wilcox")
    assert test.result.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    assert result.summaries[1].scores["pass"].mean == pytest.approx(np.mean([np.mean(t) for t in cand_trials]))
    assert {row.key for row in result.rows if "pass" in row.flips} == {row.key for row in result.rows}


def test_cost_and_latency_count_every_trial(project):
    (run,) = scored_runs(
        project, {"only": [[0.1, 0.2], [0.3, 0.4, 0.5]]}, latency=lambda i: 10.0 * (i + 1), cost=Decimal("0.01")
    )
    (summary,) = build(project, [run]).summaries
    assert summary.cost_total == Decimal("0.05") and summary.cost_n == 5
    assert summary.latency["p50"] == pytest.approx(np.percentile([10, 10, 20, 20, 20], 50))
    rows = {row.key: row for row in build(project, [run]).rows}
    assert rows["item-001"].cells[0].cost == Decimal("0.03")  # an item's cost is all its trials'


def test_a_categorical_score_with_trials_shows_every_trials_label_and_its_most_frequent(project):
    (run,) = scored_runs(
        project, {"only": [["good", "bad", "good"], ["bad"]]}, data_type="CATEGORICAL", score="tone"
    )
    result = build(project, [run])
    (summary,) = result.summaries
    assert dict(summary.categories["tone"]) == {"good": 2, "bad": 2}
    rows = {row.key: row for row in result.rows}
    assert rows["item-000"].cells[0].scores["tone"] == "good" and rows["item-000"].flips == {"tone"}
    assert summary.variation["tone"] == {"items": 1, "varying": 1, "shareVarying": 1.0, "meanVariance": None}
