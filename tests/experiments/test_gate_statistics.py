"""The gates' statistics against scipy and statsmodels on the same data: the non-inferiority bound
and p-value (statsmodels' DescrStatsW, scipy's one-sample t-test) and the pairs needed for 80% power
(statsmodels' TTestPower)."""

import math
import warnings

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.power import TTestPower
from statsmodels.stats.weightstats import DescrStatsW

from experiments.gates.statistics import non_inferiority, pairs_needed, t_test_power

RNG = np.random.default_rng(13)
SAMPLES = [
    RNG.normal(-0.01, 0.08, size=40),
    RNG.normal(0.02, 0.2, size=12),
    np.asarray([0.1, -0.1] * 4 + [0.0, 0.0]),
    RNG.choice([-1.0, 0.0, 0.0, 1.0], size=200),  # a pass/fail score's paired differences
]


@pytest.mark.parametrize("diffs", SAMPLES, ids=["normal-40", "normal-12", "hand-10", "boolean-200"])
@pytest.mark.parametrize("alpha", [0.05, 0.025, 0.1])
@pytest.mark.parametrize("delta", [0.01, 0.05, 0.2])
def test_the_non_inferiority_bounds_and_p_value_match_statsmodels_and_scipy(diffs, alpha, delta):
    result = non_inferiority(diffs, delta=delta, alpha=alpha)
    described = DescrStatsW(diffs)
    low, high = described.tconfint_mean(alpha=2 * alpha)  # two-sided 1 - 2 alpha = one-sided 1 - alpha each
    assert result.lower == pytest.approx(low, rel=1e-12, abs=1e-15)
    assert result.upper == pytest.approx(high, rel=1e-12, abs=1e-15)
    _, p_statsmodels, _ = described.ttest_mean(value=-delta, alternative="larger")  # (t, p, df)
    assert result.p_value == pytest.approx(p_statsmodels, rel=1e-9, abs=1e-300)
    assert result.p_value == pytest.approx(stats.ttest_1samp(diffs, -delta, alternative="greater").pvalue, rel=1e-9)
    # The bound and the test say the same thing: non-inferior at alpha exactly when the bound clears -delta.
    assert (result.lower > -delta) == (result.p_value < alpha)


def test_no_bounds_from_fewer_than_two_differences():
    assert non_inferiority([], delta=0.1, alpha=0.05).lower is None
    one = non_inferiority([0.3], delta=0.1, alpha=0.05)
    assert one.mean_difference == 0.3 and one.lower is None and one.p_value is None


@pytest.mark.parametrize("effect_size", [0.05, 0.2, 0.5, 0.8, 1.5])
@pytest.mark.parametrize("alpha", [0.01, 0.05, 0.1])
@pytest.mark.parametrize("alternative", ["larger", "two-sided"])
def test_pairs_needed_is_statsmodels_solution_rounded_up(effect_size, alpha, alternative):
    needed = pairs_needed(effect_size=effect_size, alpha=alpha, alternative=alternative)
    solution = TTestPower().solve_power(effect_size=effect_size, alpha=alpha, power=0.8, alternative=alternative)
    assert needed == math.ceil(solution - 1e-9)
    power = TTestPower().power
    assert power(effect_size=effect_size, nobs=needed, alpha=alpha, alternative=alternative) >= 0.8
    assert power(effect_size=effect_size, nobs=needed - 1, alpha=alpha, alternative=alternative) < 0.8


@pytest.mark.parametrize("n", [2, 3, 5, 8, 9, 20, 300])
@pytest.mark.parametrize("alternative", ["larger", "two-sided"])
def test_power_matches_statsmodels_where_statsmodels_has_a_number(n, alternative):
    for effect_size in (0.1, 0.5, 2.5):
        ours = t_test_power(effect_size=effect_size, n=n, alpha=0.01, alternative=alternative)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = TTestPower().power(effect_size=effect_size, nobs=n, alpha=0.01, alternative=alternative)
        if math.isfinite(theirs):
            assert ours == pytest.approx(theirs, rel=1e-9)
        # statsmodels' two-sided power is NaN where scipy's noncentral t cdf fails deep in the far tail
        # (effect 2.5, 8 or 9 pairs); ours reads that tail from the mirrored distribution instead.
        assert 0 <= ours <= 1


def test_large_effects_need_two_pairs_where_statsmodels_solver_gives_up():
    # statsmodels' root finder returns NaN when the answer lies below its bracket; the power at 2 pairs says why.
    assert pairs_needed(effect_size=4, alpha=0.2, alternative="larger") == 2
    assert t_test_power(effect_size=4, n=2, alpha=0.2, alternative="larger") >= 0.8


def test_no_effect_or_an_unreachable_one_needs_no_number():
    assert pairs_needed(effect_size=0, alpha=0.05, alternative="larger") is None
    assert pairs_needed(effect_size=-0.3, alpha=0.05, alternative="larger") is None
    assert pairs_needed(effect_size=1e-5, alpha=0.05, alternative="larger") is None  # beyond MAX_PAIRS
    assert pairs_needed(effect_size=-0.5, alpha=0.05, alternative="two-sided") == pairs_needed(
        effect_size=0.5, alpha=0.05, alternative="two-sided"
    )
