import dataclasses
import json
import math
import uuid

import numpy as np
import pytest
from scipy import stats

from experiments import statistics
from experiments.statistics import (
    MCNEMAR_EXACT_BELOW,
    MIN_CHANGED_PAIRS_WILCOXON,
    MIN_DISCORDANT_MCNEMAR,
    MIN_PAIRS_BOOTSTRAP,
    mean_with_ci,
    pair_scores,
    paired_boolean_test,
    paired_numeric_test,
    percentiles,
)

NUMERIC_KEYS = {
    "method",
    "confidence",
    "nPairs",
    "meanDifference",
    "ciLow",
    "ciHigh",
    "pValue",
    "effectSize",
    "effectSizeName",
    "improved",
    "regressed",
    "unchanged",
    "tooFew",
    "warning",
}
BOOLEAN_KEYS = NUMERIC_KEYS | {"bothTrue", "bothFalse", "oddsRatio"}

# Fixed paired scores with no zero and no tied differences, so scipy uses its exact null distribution.
BASELINE = np.array([0.61, 0.42, 0.75, 0.30, 0.55, 0.80, 0.47, 0.66, 0.52, 0.38, 0.71, 0.59])
CANDIDATE = np.array([0.70, 0.40, 0.88, 0.46, 0.62, 0.79, 0.68, 0.73, 0.51, 0.57, 0.84, 0.63])


def booleans_from_table(*, both_true: int, regressed: int, improved: int, both_false: int):
    """Paired pass/fail arrays with the given 2x2 counts (regressed: True -> False)."""
    baseline = [True] * both_true + [True] * regressed + [False] * improved + [False] * both_false
    candidate = [True] * both_true + [False] * regressed + [True] * improved + [False] * both_false
    return np.array(baseline), np.array(candidate)


def assert_json_safe(data: dict) -> None:
    # allow_nan=False raises on NaN and infinity; numpy integers are not JSON-serialisable at all.
    json.dumps(data, allow_nan=False)


# mean_with_ci


def test_bootstrap_ci_contains_the_true_mean_of_a_seeded_sample():
    sample = np.random.default_rng(42).normal(loc=5.0, scale=2.0, size=300)

    result = mean_with_ci(sample)

    assert result.n == 300
    assert result.mean == pytest.approx(sample.mean())
    assert result.ci_low < 5.0 < result.ci_high


def test_bootstrap_ci_width_matches_normal_theory_on_a_large_sample():
    sample = np.random.default_rng(7).normal(loc=0.0, scale=1.0, size=400)
    half_width = 1.959964 * sample.std(ddof=1) / math.sqrt(sample.size)

    result = mean_with_ci(sample)

    assert result.ci_low == pytest.approx(sample.mean() - half_width, abs=0.1 * half_width)
    assert result.ci_high == pytest.approx(sample.mean() + half_width, abs=0.1 * half_width)


def test_bootstrap_ci_narrows_when_confidence_drops():
    sample = np.random.default_rng(3).normal(size=100)

    wide = mean_with_ci(sample, confidence=0.99)
    narrow = mean_with_ci(sample, confidence=0.80)

    assert wide.ci_low < narrow.ci_low < narrow.ci_high < wide.ci_high


def test_bootstrap_ci_is_deterministic_given_the_seed():
    sample = np.random.default_rng(1).exponential(size=50)

    assert mean_with_ci(sample, seed=123) == mean_with_ci(sample, seed=123)
    assert mean_with_ci(sample, seed=123) != mean_with_ci(sample, seed=124)


def test_bootstrap_result_does_not_depend_on_the_memory_chunk_size(monkeypatch):
    sample = np.random.default_rng(5).normal(size=40)
    in_one_chunk = mean_with_ci(sample, resamples=500)

    monkeypatch.setattr(statistics, "_MAX_CHUNK_ELEMENTS", 40 * 7)
    in_many_chunks = mean_with_ci(sample, resamples=500)

    assert in_many_chunks == in_one_chunk


def test_mean_of_no_values_has_no_mean_and_no_interval():
    assert mean_with_ci([]) == statistics.MeanCI(n=0, mean=None, ci_low=None, ci_high=None)


def test_mean_of_one_value_has_no_interval():
    assert mean_with_ci([0.7]) == statistics.MeanCI(n=1, mean=0.7, ci_low=None, ci_high=None)


def test_identical_values_give_a_zero_width_interval():
    result = mean_with_ci([0.25] * 8)

    assert result.mean == pytest.approx(0.25)
    assert result.ci_low == pytest.approx(0.25)
    assert result.ci_high == pytest.approx(0.25)


def test_mean_ci_to_dict_uses_camel_case_and_is_json_safe():
    data = mean_with_ci([1.0, 2.0, 3.0]).to_dict()

    assert set(data) == {"n", "mean", "ciLow", "ciHigh"}
    assert_json_safe(data)
    assert mean_with_ci([]).to_dict() == {"n": 0, "mean": None, "ciLow": None, "ciHigh": None}


def test_mean_with_ci_rejects_missing_values_instead_of_returning_nan():
    with pytest.raises(ValueError, match="NaN"):
        mean_with_ci([1.0, float("nan")])
    with pytest.raises(ValueError, match="None"):
        mean_with_ci([1.0, None])


@pytest.mark.parametrize("confidence", [0, 1, 1.5, -0.1])
def test_confidence_outside_zero_and_one_is_rejected(confidence):
    with pytest.raises(ValueError, match="confidence"):
        mean_with_ci([1.0, 2.0], confidence=confidence)


# percentiles


def test_percentiles_match_numpy_linear_interpolation():
    latencies = np.random.default_rng(0).lognormal(mean=5, sigma=1, size=1000)

    result = percentiles(latencies)

    assert list(result) == ["p50", "p90", "p95", "p99"]
    for key, q in zip(result, (50, 90, 95, 99), strict=True):
        assert result[key] == pytest.approx(np.percentile(latencies, q))


def test_percentile_keys_keep_fractional_quantiles():
    result = percentiles(range(1, 11), qs=(50, 99.9))

    assert result == {"p50": pytest.approx(5.5), "p99.9": pytest.approx(9.991)}


def test_percentiles_of_no_values_are_none():
    assert percentiles([]) == {"p50": None, "p90": None, "p95": None, "p99": None}


def test_percentiles_outside_zero_to_hundred_are_rejected():
    with pytest.raises(ValueError, match="between 0 and 100"):
        percentiles([1.0], qs=(50, 101))


# pair_scores


def test_pair_scores_keeps_only_items_both_runs_scored():
    paired = pair_scores(
        {"a": 0.1, "b": 0.2, "c": 0.3, "only-baseline": 0.9},
        {"c": 0.6, "only-candidate": 0.5, "a": 0.4, "b": None},
    )

    assert paired.item_ids == ["a", "c"]
    assert paired.baseline.tolist() == [0.1, 0.3]
    assert paired.candidate.tolist() == [0.4, 0.6]


def test_pair_scores_order_does_not_depend_on_dict_order():
    ids = [uuid.UUID(int=i) for i in (3, 1, 2)]
    baseline = {ids[0]: 3.0, ids[1]: 1.0, ids[2]: 2.0}
    candidate = {ids[2]: 20.0, ids[0]: 30.0, ids[1]: 10.0}

    ids_out, base, cand = pair_scores(baseline, candidate)

    assert ids_out == sorted(ids)
    assert base.tolist() == [1.0, 2.0, 3.0]
    assert cand.tolist() == [10.0, 20.0, 30.0]


def test_pair_scores_with_no_common_items_gives_empty_arrays_that_the_tests_accept():
    paired = pair_scores({"a": 1.0}, {"b": 2.0})

    assert paired.item_ids == []
    assert paired.baseline.size == paired.candidate.size == 0
    assert paired_numeric_test(paired.baseline, paired.candidate).n_pairs == 0
    assert paired_boolean_test(paired.baseline, paired.candidate).n_pairs == 0


def test_pair_scores_output_feeds_the_boolean_test():
    paired = pair_scores({"a": True, "b": False, "c": True}, {"a": True, "b": True, "c": False})

    result = paired_boolean_test(paired.baseline, paired.candidate)

    assert (result.both_true, result.improved, result.regressed) == (1, 1, 1)


# paired_numeric_test: Wilcoxon


def test_wilcoxon_p_value_matches_scipy_on_fixed_data():
    result = paired_numeric_test(BASELINE, CANDIDATE, method="wilcoxon")

    expected = stats.wilcoxon(CANDIDATE, BASELINE, zero_method="wilcox").pvalue
    assert result.method == "wilcoxon"
    assert result.p_value == pytest.approx(expected)
    assert result.p_value < 0.05


def test_wilcoxon_ignores_unchanged_items_like_scipy_zero_method_wilcox():
    baseline = np.array([1, 2, 3, 4, 5, 6, 7, 8], dtype=float)
    candidate = np.array([2, 2, 5, 4, 4.5, 9, 7, 8.25])
    changed = (candidate - baseline)[candidate != baseline]

    result = paired_numeric_test(baseline, candidate)

    assert result.p_value == pytest.approx(stats.wilcoxon(changed, zero_method="wilcox").pvalue)
    assert result.p_value == pytest.approx(stats.wilcoxon(candidate, baseline, zero_method="wilcox").pvalue)
    assert (result.improved, result.regressed, result.unchanged) == (4, 1, 3)


def test_wilcoxon_uses_the_exact_distribution_when_the_changed_items_allow_it():
    # 30 items, 20 changed by distinct amounts. Handed all 30, scipy would see zeros and fall back to the
    # normal approximation; the 20 changed items alone qualify for the exact null distribution.
    baseline = np.zeros(30)
    candidate = np.zeros(30)
    candidate[:20] = [i if i % 4 else -i for i in range(1, 21)]
    changed = candidate[:20]

    result = paired_numeric_test(baseline, candidate)

    exact = stats.wilcoxon(changed, method="exact").pvalue
    assert result.p_value == pytest.approx(exact)
    assert exact != pytest.approx(stats.wilcoxon(candidate, baseline, zero_method="wilcox").pvalue)


def test_rank_biserial_matches_a_hand_computation_with_ties_and_zeros():
    # Differences 1, -1, 2, 2, -3, 0. The zero is dropped; |d| = 1, 1, 2, 2, 3 rank 1.5, 1.5, 3.5, 3.5, 5.
    # T+ = 1.5 + 3.5 + 3.5 = 8.5, T- = 1.5 + 5 = 6.5, r = (8.5 - 6.5) / 15 = 2 / 15.
    baseline = np.array([5.0, 5.0, 5.0, 5.0, 5.0, 5.0])
    candidate = np.array([6.0, 4.0, 7.0, 7.0, 2.0, 5.0])

    result = paired_numeric_test(baseline, candidate, method="wilcoxon")

    assert result.effect_size_name == "rank-biserial"
    assert result.effect_size == pytest.approx(2 / 15)


def test_rank_biserial_is_plus_one_when_every_changed_item_improved():
    result = paired_numeric_test([1.0, 2.0, 3.0, 4.0], [2.0, 2.0, 5.0, 4.5])

    assert result.effect_size == pytest.approx(1.0)


def test_rank_biserial_is_negative_when_the_candidate_is_worse():
    result = paired_numeric_test(CANDIDATE, BASELINE, method="wilcoxon")

    assert result.effect_size == pytest.approx(-paired_numeric_test(BASELINE, CANDIDATE).effect_size)
    assert result.effect_size < 0


def test_wilcoxon_with_all_differences_zero_has_p_value_one_and_no_effect_size():
    scores = [0.2, 0.5, 0.5, 0.9, 1.0, 0.0, 0.3]

    result = paired_numeric_test(scores, list(scores), method="wilcoxon")

    assert result.p_value == 1.0
    assert result.effect_size is None
    assert result.mean_difference == 0.0
    assert (result.ci_low, result.ci_high) == (0.0, 0.0)
    assert (result.improved, result.regressed, result.unchanged) == (0, 0, 7)


def test_wilcoxon_cannot_reach_significance_below_the_threshold_and_warns():
    # The most extreme outcome possible (every changed item improved) is the smallest p-value there is.
    below = paired_numeric_test([0.0] * 5, [1.0, 2.0, 3.0, 4.0, 5.0])
    at = paired_numeric_test([0.0] * 6, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0])

    assert MIN_CHANGED_PAIRS_WILCOXON == 6
    assert below.p_value > 0.05
    assert below.too_few is True
    assert "fewer than 6" in below.warning
    assert at.p_value < 0.05
    assert at.too_few is False
    assert at.warning is None


def test_wilcoxon_warns_when_many_items_but_few_changed():
    baseline = np.zeros(40)
    candidate = np.zeros(40)
    candidate[:3] = 1.0

    result = paired_numeric_test(baseline, candidate)

    assert result.n_pairs == 40
    assert result.too_few is True
    assert "Only 3 of 40 items changed" in result.warning


def test_differences_within_float_rounding_count_as_unchanged():
    result = paired_numeric_test([0.3, 0.0], [0.1 + 0.2, 0.1 + 0.2 - 0.3])

    assert (result.improved, result.regressed, result.unchanged) == (0, 0, 2)
    assert result.mean_difference == 0.0
    assert result.p_value == 1.0


# paired_numeric_test: bootstrap


def test_paired_bootstrap_ci_contains_the_true_mean_difference():
    rng = np.random.default_rng(11)
    baseline = rng.uniform(0, 1, size=200)
    candidate = baseline + rng.normal(loc=0.1, scale=0.2, size=200)

    result = paired_numeric_test(baseline, candidate, method="bootstrap")

    assert result.mean_difference == pytest.approx((candidate - baseline).mean())
    assert result.ci_low < 0.1 < result.ci_high
    assert result.ci_low > 0


def test_paired_ci_uses_the_pairing_and_is_narrower_than_ignoring_it():
    # Item difficulty varies a lot but the candidate adds a steady +0.05: only a paired analysis sees it.
    rng = np.random.default_rng(2)
    baseline = rng.uniform(0, 1, size=60)
    candidate = baseline + 0.05 + rng.normal(scale=0.01, size=60)

    result = paired_numeric_test(baseline, candidate, method="bootstrap")
    unpaired_base, unpaired_cand = mean_with_ci(baseline), mean_with_ci(candidate)

    assert result.ci_high - result.ci_low < 0.1 * (unpaired_base.ci_high - unpaired_base.ci_low)
    assert unpaired_cand.ci_low < unpaired_base.ci_high  # unpaired intervals overlap
    assert result.ci_low > 0


def test_bootstrap_p_value_agrees_with_a_paired_t_test_on_normal_data():
    rng = np.random.default_rng(4)
    baseline = rng.normal(size=80)
    candidate = baseline + rng.normal(loc=0.25, scale=1.0, size=80)

    result = paired_numeric_test(baseline, candidate, method="bootstrap", resamples=20_000)

    expected = stats.ttest_rel(candidate, baseline).pvalue
    assert result.method == "bootstrap"
    assert result.p_value == pytest.approx(expected, abs=0.01)


def test_bootstrap_p_value_is_never_zero():
    rng = np.random.default_rng(9)
    baseline = rng.normal(size=50)

    result = paired_numeric_test(baseline, baseline + 10, method="bootstrap", resamples=999)

    assert result.p_value == pytest.approx(1 / 1000)


def test_bootstrap_with_all_differences_zero_has_p_value_one_and_no_effect_size():
    scores = np.linspace(0, 1, 15)

    result = paired_numeric_test(scores, scores.copy(), method="bootstrap")

    assert result.p_value == 1.0
    assert result.effect_size is None
    assert result.too_few is False


def test_paired_bootstrap_is_deterministic_given_the_seed():
    first = paired_numeric_test(BASELINE, CANDIDATE, method="bootstrap", seed=5)
    again = paired_numeric_test(BASELINE, CANDIDATE, method="bootstrap", seed=5)
    other = paired_numeric_test(BASELINE, CANDIDATE, method="bootstrap", seed=6)

    assert first == again
    assert (first.ci_low, first.ci_high, first.p_value) != (other.ci_low, other.ci_high, other.p_value)


def test_cohens_dz_matches_a_hand_computation():
    # Differences 1, 2, 3, 4: mean 2.5, sample sd sqrt(5 / 3).
    result = paired_numeric_test([0.0, 0.0, 0.0, 0.0], [1.0, 2.0, 3.0, 4.0], method="bootstrap")

    assert result.effect_size_name == "cohens-dz"
    assert result.effect_size == pytest.approx(2.5 / math.sqrt(5 / 3))


def test_cohens_dz_is_none_when_every_item_moved_by_the_same_amount():
    result = paired_numeric_test([0.3, 0.6, 0.2], [0.4, 0.7, 0.3], method="bootstrap")

    assert result.mean_difference == pytest.approx(0.1)
    assert result.effect_size is None


def test_bootstrap_warns_below_the_minimum_number_of_pairs():
    rng = np.random.default_rng(0)
    below = paired_numeric_test(rng.normal(size=9), rng.normal(size=9), method="bootstrap")
    at = paired_numeric_test(rng.normal(size=10), rng.normal(size=10), method="bootstrap")

    assert MIN_PAIRS_BOOTSTRAP == 10
    assert below.too_few is True
    assert "fewer than 10" in below.warning
    assert at.too_few is False
    assert at.warning is None


# paired_numeric_test: edge cases shared by both methods


@pytest.mark.parametrize("method", ["wilcoxon", "bootstrap"])
def test_no_pairs_gives_an_empty_result_with_a_warning(method):
    result = paired_numeric_test([], [], method=method)

    assert result.n_pairs == 0
    assert result.mean_difference is None
    assert result.p_value is None
    assert result.ci_low is None and result.ci_high is None
    assert result.too_few is True
    assert "No items" in result.warning


@pytest.mark.parametrize("method", ["wilcoxon", "bootstrap"])
def test_one_pair_has_a_difference_but_no_interval(method):
    result = paired_numeric_test([0.25], [0.75], method=method)

    assert result.n_pairs == 1
    assert result.mean_difference == pytest.approx(0.5)
    assert result.ci_low is None and result.ci_high is None
    assert result.improved == 1
    assert result.too_few is True
    assert "1 item" in result.warning


def test_one_pair_bootstrap_reports_no_p_value():
    assert paired_numeric_test([0.25], [0.75], method="bootstrap").p_value is None


def test_paired_numeric_test_rejects_arrays_of_different_lengths():
    with pytest.raises(ValueError, match="same length"):
        paired_numeric_test([1.0, 2.0], [1.0])


def test_paired_numeric_test_rejects_an_unknown_method():
    with pytest.raises(ValueError, match="unknown method"):
        paired_numeric_test([1.0], [2.0], method="t-test")


# paired_boolean_test


def test_exact_mcnemar_matches_scipy_binomtest_on_discordant_pairs():
    baseline, candidate = booleans_from_table(both_true=30, regressed=2, improved=9, both_false=14)

    result = paired_boolean_test(baseline, candidate)

    assert result.method == "mcnemar-exact"
    assert result.p_value == pytest.approx(stats.binomtest(9, 11, p=0.5).pvalue)
    assert (result.both_true, result.regressed, result.improved, result.both_false) == (30, 2, 9, 14)
    assert result.unchanged == 44


def test_corrected_chi_square_mcnemar_matches_scipy_chi2():
    baseline, candidate = booleans_from_table(both_true=50, regressed=8, improved=20, both_false=22)

    result = paired_boolean_test(baseline, candidate)

    statistic = (abs(20 - 8) - 1) ** 2 / 28
    assert result.method == "mcnemar-chi2"
    assert result.p_value == pytest.approx(stats.chi2.sf(statistic, df=1))


def test_mcnemar_switches_to_chi_square_at_twenty_five_discordant_pairs():
    exact = paired_boolean_test(*booleans_from_table(both_true=5, regressed=8, improved=16, both_false=5))
    chi2 = paired_boolean_test(*booleans_from_table(both_true=5, regressed=8, improved=17, both_false=5))

    assert MCNEMAR_EXACT_BELOW == 25
    assert exact.method == "mcnemar-exact"
    assert exact.p_value == pytest.approx(stats.binomtest(16, 24).pvalue)
    assert chi2.method == "mcnemar-chi2"
    assert chi2.p_value == pytest.approx(stats.chi2.sf((abs(17 - 8) - 1) ** 2 / 25, df=1))


def test_mcnemar_chi_square_with_equal_discordant_counts_has_p_value_one():
    result = paired_boolean_test(*booleans_from_table(both_true=3, regressed=15, improved=15, both_false=3))

    assert result.method == "mcnemar-chi2"
    assert result.p_value == pytest.approx(1.0)


def test_boolean_effect_size_is_the_difference_in_pass_rates():
    baseline, candidate = booleans_from_table(both_true=30, regressed=2, improved=9, both_false=14)

    result = paired_boolean_test(baseline, candidate)

    assert result.effect_size_name == "proportion-difference"
    assert result.effect_size == pytest.approx(candidate.mean() - baseline.mean())
    assert result.mean_difference == pytest.approx(7 / 55)
    assert result.ci_low < result.mean_difference < result.ci_high


def test_odds_ratio_is_improved_over_regressed_and_none_without_regressions():
    with_regressions = paired_boolean_test(
        *booleans_from_table(both_true=30, regressed=2, improved=9, both_false=14)
    )
    without = paired_boolean_test(*booleans_from_table(both_true=3, regressed=0, improved=7, both_false=3))

    assert with_regressions.odds_ratio == pytest.approx(4.5)
    assert without.odds_ratio is None
    assert without.to_dict()["oddsRatio"] is None


def test_exact_mcnemar_cannot_reach_significance_below_the_threshold_and_warns():
    below = paired_boolean_test(*booleans_from_table(both_true=10, regressed=0, improved=5, both_false=10))
    at = paired_boolean_test(*booleans_from_table(both_true=10, regressed=0, improved=6, both_false=10))

    assert MIN_DISCORDANT_MCNEMAR == 6
    assert below.p_value > 0.05
    assert below.too_few is True
    assert "Only 5 of 25 items flipped" in below.warning
    assert at.p_value < 0.05
    assert at.too_few is False
    assert at.warning is None


def test_boolean_runs_that_agree_everywhere_have_p_value_one():
    result = paired_boolean_test([True, False, True, True], [True, False, True, True])

    assert result.p_value == 1.0
    assert result.mean_difference == 0.0
    assert result.unchanged == 4
    assert result.too_few is True


def test_boolean_test_accepts_zero_and_one():
    as_ints = paired_boolean_test([1, 0, 1, 0], [1, 1, 0, 1])
    as_bools = paired_boolean_test([True, False, True, False], [True, True, False, True])

    assert as_ints == as_bools


def test_boolean_test_rejects_non_boolean_scores():
    with pytest.raises(ValueError, match="booleans"):
        paired_boolean_test([0.5, 1.0], [1.0, 1.0])


def test_boolean_test_rejects_arrays_of_different_lengths():
    with pytest.raises(ValueError, match="same length"):
        paired_boolean_test([True], [True, False])


# to_dict


def test_numeric_to_dict_has_exactly_the_documented_camel_case_keys():
    data = paired_numeric_test(BASELINE, CANDIDATE).to_dict()

    assert set(data) == NUMERIC_KEYS
    assert data["nPairs"] == 12
    assert data["effectSizeName"] == "rank-biserial"


def test_boolean_to_dict_adds_the_mcnemar_counts():
    data = paired_boolean_test(
        *booleans_from_table(both_true=4, regressed=1, improved=3, both_false=2)
    ).to_dict()

    assert set(data) == BOOLEAN_KEYS
    assert (data["bothTrue"], data["regressed"], data["improved"], data["bothFalse"]) == (4, 1, 3, 2)


@pytest.mark.parametrize(
    "result",
    [
        paired_numeric_test([], [], method="wilcoxon"),
        paired_numeric_test([], [], method="bootstrap"),
        paired_numeric_test([1.0], [2.0], method="wilcoxon"),
        paired_numeric_test([1.0], [2.0], method="bootstrap"),
        paired_numeric_test([0.5] * 12, [0.5] * 12, method="wilcoxon"),
        paired_numeric_test([0.5] * 12, [0.5] * 12, method="bootstrap"),
        paired_numeric_test([0.3, 0.6, 0.2], [0.4, 0.7, 0.3], method="bootstrap"),
        paired_numeric_test(BASELINE, CANDIDATE, method="bootstrap"),
        paired_boolean_test([], []),
        paired_boolean_test([True], [True]),
        paired_boolean_test([True] * 5, [False] * 5),
        paired_boolean_test(*booleans_from_table(both_true=0, regressed=0, improved=40, both_false=0)),
    ],
    ids=lambda result: f"{result.method}-{result.n_pairs}",
)
def test_to_dict_never_contains_nan_infinity_or_numpy_types(result):
    data = result.to_dict()

    assert_json_safe(data)
    for value in data.values():
        assert value is None or type(value) in (str, bool, int, float)


def test_to_dict_turns_non_finite_numbers_into_none():
    result = dataclasses.replace(
        paired_boolean_test([True, False], [False, True]),
        mean_difference=float("nan"),
        p_value=np.float64("nan"),
        effect_size=float("inf"),
        odds_ratio=float("-inf"),
        ci_low=np.float64(0.25),
    )

    data = result.to_dict()

    assert_json_safe(data)
    assert (data["meanDifference"], data["pValue"], data["effectSize"], data["oddsRatio"]) == (None,) * 4
    assert type(data["ciLow"]) is float
    mean = statistics.MeanCI(n=2, mean=float("nan"), ci_low=float("-inf"), ci_high=np.float64(1.0)).to_dict()
    assert mean == {"n": 2, "mean": None, "ciLow": None, "ciHigh": 1.0}
    assert type(mean["ciHigh"]) is float
