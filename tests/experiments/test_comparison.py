"""The comparison numbers, checked against scipy/numpy on fixed data, and its query budget."""

from datetime import timedelta
from decimal import Decimal

import numpy as np
import pytest
from django.utils import timezone
from scipy import stats

from experiments.comparison import ComparisonError, RunNotFound, comparison_build, format_p, verdict_of
from experiments.statistics import paired_boolean_test, paired_numeric_test
from tests.experiments.factories import ExperimentRunFactory, RunItemFactory, scored_runs
from tests.scoring.factories import ScoreFactory

pytestmark = pytest.mark.django_db

BASE = [0.2, 0.5, 0.9, 0.4, 0.3, 0.8, 0.6, 0.1, 0.7, 0.5, 0.3, 0.6, 0.2, 0.9, 0.4, 0.5, 0.8, 0.3, 0.6, 0.7]
CHANGE = [0.1, 0.2, -0.05, 0.3, 0.15, 0.0, 0.25, -0.1, -0.1, 0.2, 0.05, -0.12, 0.3, 0.0, 0.22, 0.18, -0.02, 0.14, 0.07, 0.11]
CAND = [b + d for b, d in zip(BASE, CHANGE, strict=True)]
# 30 items: 9 fixed by the candidate, 1 broken, 12 pass in both, 8 fail in both.
BOOL_BASE = [False] * 9 + [True] + [True] * 12 + [False] * 8
BOOL_CAND = [True] * 9 + [False] + [True] * 12 + [False] * 8


def build(project, runs, **options):
    return comparison_build(project=project, run_ids=[run.run_id for run in runs], **options)


def test_numeric_scores_get_wilcoxon_numbers_that_match_scipy(project):
    base, cand = scored_runs(project, {"baseline": BASE, "candidate": CAND})
    result = build(project, [base, cand], baseline_id=base.run_id)

    (test,) = result.tests
    diffs = np.asarray(CAND) - np.asarray(BASE)
    changed = diffs[diffs != 0]
    expected = stats.wilcoxon(changed, zero_method="wilcox")
    assert test.candidate == cand and test.score == "accuracy" and test.kind == "numeric"
    assert test.result.method == "wilcoxon"
    assert test.result.n_pairs == 20
    assert test.result.p_value == pytest.approx(expected.pvalue, rel=1e-12)
    assert test.result.mean_difference == pytest.approx(diffs.mean())
    assert (test.result.improved, test.result.regressed, test.result.unchanged) == (13, 5, 2)
    assert 0.001 < expected.pvalue < 0.05  # the data are chosen to show a p-value with digits
    ranks = stats.rankdata(np.abs(changed))
    rank_biserial = (ranks[changed > 0].sum() - ranks[changed < 0].sum()) / ranks.sum()
    assert test.result.effect_size == pytest.approx(rank_biserial)
    assert test.result.ci_low < diffs.mean() < test.result.ci_high
    assert test.verdict == f"candidate better ({format_p(expected.pvalue)})" and test.tone == "good"


def test_the_bootstrap_method_reports_cohens_dz(project):
    base, cand = scored_runs(project, {"baseline": BASE, "candidate": CAND})
    (test,) = build(project, [base, cand], baseline_id=base.run_id, method="bootstrap").tests
    diffs = np.asarray(CAND) - np.asarray(BASE)
    assert test.result.method == "bootstrap"
    assert test.result.effect_size == pytest.approx(diffs.mean() / diffs.std(ddof=1))
    assert 0 < test.result.p_value < 0.01


def test_boolean_scores_get_mcnemar_numbers_that_match_scipy(project):
    base, cand = scored_runs(project, {"baseline": BOOL_BASE, "candidate": BOOL_CAND}, data_type="BOOLEAN", score="pass")
    result = build(project, [base, cand], baseline_id=base.run_id)
    (test,) = result.tests
    assert test.kind == "boolean"
    assert test.result.method == "mcnemar-exact"
    assert (test.result.improved, test.result.regressed, test.result.both_true, test.result.both_false) == (9, 1, 12, 8)
    assert test.result.p_value == pytest.approx(stats.binomtest(9, 10, 0.5).pvalue, rel=1e-12)
    assert test.result.effect_size == pytest.approx((9 - 1) / 30)
    summary = result.summaries[0].scores["pass"]
    assert summary.mean == pytest.approx(np.mean(BOOL_BASE))


def test_summaries_hold_means_with_intervals_latency_percentiles_cost_and_errors(project):
    base, cand = scored_runs(project, {"baseline": BASE, "candidate": CAND}, latency=lambda i: 50.0 * (i + 1))
    base.items.filter(item_key="item-003").update(error="timeout", cost=Decimal("0.5"))
    base.items.filter(item_key="item-004").update(cost=Decimal("0.25"))
    base.progress_total, base.progress_done = 20, 20
    base.save()
    result = build(project, [base, cand])

    summary = result.summaries[0]
    assert summary.run == base and summary.item_count == 20 and summary.error_count == 1
    ci = summary.scores["accuracy"]
    assert ci.n == 20 and ci.mean == pytest.approx(np.mean(BASE))
    assert ci.ci_low < ci.mean < ci.ci_high
    latencies = [50.0 * (i + 1) for i in range(20)]
    assert summary.latency == {
        f"p{q}": pytest.approx(float(np.percentile(latencies, q))) for q in (50, 90, 99)
    }
    assert summary.cost_total == Decimal("0.75") and summary.cost_mean == Decimal("0.375") and summary.cost_n == 2
    assert result.summaries[1].cost_total is None
    assert result.tests == []  # no baseline, no tests
    data = result.to_dict()
    assert data["runs"][0]["progress"] == {"total": 20, "done": 20, "failed": 0}
    assert data["runs"][0]["scores"]["accuracy"]["mean"] == pytest.approx(np.mean(BASE))


def test_rows_pair_items_across_runs_and_tests_use_only_the_common_ones(project):
    base, cand = scored_runs(project, {"baseline": [0.1, 0.2, 0.3, None], "candidate": [None, 0.5, 0.1, 0.9]})
    result = build(project, [base, cand], baseline_id=base.run_id)
    assert [row.key for row in result.rows] == ["item-000", "item-001", "item-002", "item-003"]
    assert result.rows[0].cells[1] is None and result.rows[3].cells[0] is None
    assert result.rows[1].deltas == {cand.run_id: {"accuracy": pytest.approx(0.3)}}
    (test,) = result.tests
    assert test.result.n_pairs == 2
    assert test.result.too_few and test.verdict == "too few items to tell (n=2)" and test.tone == "unsure"


def test_regressed_and_improved_filters_follow_the_deltas(project):
    base, cand = scored_runs(project, {"baseline": BASE, "candidate": CAND})
    result = build(project, [base, cand], baseline_id=base.run_id)
    regressed = {row.key for row in result.filtered_rows("regressed")}
    improved = {row.key for row in result.filtered_rows("improved", "accuracy")}
    assert regressed == {f"item-{i:03d}" for i, d in enumerate(CHANGE) if d < 0}
    assert improved == {f"item-{i:03d}" for i, d in enumerate(CHANGE) if d > 0}
    assert result.filtered_rows("improved", "another score") == []
    assert len(result.filtered_rows(None)) == 20


def test_near_equal_scores_are_unchanged_not_improved(project):
    base, cand = scored_runs(project, {"baseline": [0.3, 0.5], "candidate": [0.1 + 0.2, 0.5]})
    result = build(project, [base, cand], baseline_id=base.run_id)
    assert result.filtered_rows("improved") == [] and result.filtered_rows("regressed") == []
    assert result.rows[0].deltas[cand.run_id]["accuracy"] == 0.0


def test_categorical_scores_are_counted_but_not_tested(project):
    base, cand = scored_runs(
        project, {"baseline": ["good", "bad", "good"], "candidate": ["good", "good", "good"]}, data_type="CATEGORICAL", score="tone"
    )
    result = build(project, [base, cand], baseline_id=base.run_id)
    assert result.score_kinds == {"tone": "categorical"}
    assert dict(result.summaries[0].categories["tone"]) == {"good": 2, "bad": 1}
    (test,) = result.tests
    assert test.result is None and "no paired test" in test.verdict


def test_the_latest_score_of_a_name_on_an_item_counts(project):
    run = ExperimentRunFactory(project=project)
    item = RunItemFactory(run=run)
    ScoreFactory(project=project, trace_id=item.trace_id, name="accuracy", value=0.1, timestamp=timezone.now())
    ScoreFactory(
        project=project, trace_id=item.trace_id, name="accuracy", value=0.9, timestamp=timezone.now() + timedelta(seconds=5)
    )
    assert build(project, [run]).rows[0].cells[0].scores == {"accuracy": 0.9}


def test_run_level_scores_attach_to_their_run(project):
    base, cand = scored_runs(project, {"baseline": [1.0], "candidate": [0.0]})
    ScoreFactory(project=project, trace_id=None, dataset_run_id=cand.run_id, name="average", value=0.42)
    result = build(project, [base, cand])
    assert result.summaries[0].run_scores == []
    assert [(s["name"], s["value"]) for s in result.summaries[1].run_scores] == [("average", 0.42)]


def test_runs_of_another_project_are_not_found(project, victim_project):
    mine = ExperimentRunFactory(project=project)
    theirs = ExperimentRunFactory(project=victim_project)
    with pytest.raises(RunNotFound):
        comparison_build(project=project, run_ids=[mine.run_id, theirs.run_id])


def test_bad_requests_name_the_parameter(project):
    run = ExperimentRunFactory(project=project)
    with pytest.raises(ComparisonError) as raised:
        comparison_build(project=project, run_ids=[run.run_id], method="t-test")
    assert raised.value.field == "method"
    with pytest.raises(ComparisonError) as raised:
        comparison_build(project=project, run_ids=[run.run_id], baseline_id="elsewhere")
    assert raised.value.field == "baseline"


@pytest.mark.parametrize("items", [10, 100])
def test_the_number_of_queries_does_not_depend_on_items_or_runs(project, items, django_assert_num_queries):
    rng = np.random.default_rng(items)
    columns = {f"run {n}": list(rng.random(items)) for n in range(3)}
    runs = scored_runs(project, columns)
    for run in runs:
        ScoreFactory(project=project, trace_id=None, dataset_run_id=run.run_id, name="avg")
    # runs, their items, the items' scores, the runs' scores, the traces' costs
    with django_assert_num_queries(5):
        result = build(project, runs, baseline_id=runs[0].run_id)
    assert len(result.rows) == items and len(result.tests) == 2


def test_verdicts_read_clearly():
    worse = paired_numeric_test([0.9] * 12, [0.1 * i for i in range(12)])
    assert verdict_of(worse)[0].startswith("candidate worse (p=") and verdict_of(worse)[1] == "bad"
    same = paired_numeric_test([0.1, 0.9] * 10, [0.9, 0.1] * 10)
    assert verdict_of(same) == (f"no significant difference ({format_p(same.p_value)})", "neutral")
    few = paired_boolean_test([True] * 40 + [False], [True] * 40 + [True])
    assert verdict_of(few) == ("too few changed items to tell (1 of 41 changed)", "unsure")
    assert format_p(0.0004) == "p<0.001" and format_p(0.0123) == "p=0.012" and format_p(0.5) == "p=0.5"
