"""The preference statistics against independent computations: scipy's binomtest for the sign test
and its interval, a direct maximum-likelihood fit for Bradley–Terry, statsmodels for Cohen's kappa."""

import itertools

import numpy as np
import pytest
from scipy import optimize, stats
from statsmodels.stats.inter_rater import cohens_kappa

from experiments.preference_statistics import agreement, bradley_terry, sign_test


@pytest.mark.parametrize(("wins", "losses"), [(0, 1), (1, 0), (3, 3), (7, 2), (2, 9), (15, 4), (40, 29), (0, 12), (50, 50)])
def test_the_sign_test_is_scipys_exact_binomial_test_of_wins_among_decisive_items(wins, losses):
    result = sign_test(wins, losses, ties=5)
    reference = stats.binomtest(wins, wins + losses, 0.5, alternative="two-sided")
    assert result.p_value == pytest.approx(reference.pvalue, rel=1e-12, abs=1e-15)
    interval = reference.proportion_ci(confidence_level=0.95, method="exact")
    assert (result.ci_low, result.ci_high) == pytest.approx((interval.low, interval.high), rel=1e-9, abs=1e-12)
    assert result.win_rate == wins / (wins + losses)
    assert result.ties == 5


def test_ties_do_not_move_the_sign_test():
    assert sign_test(9, 1, ties=0).p_value == sign_test(9, 1, ties=40).p_value


def test_without_a_decisive_item_there_is_nothing_to_test():
    result = sign_test(0, 0, ties=4)
    assert result.p_value is None and result.win_rate is None and result.too_few


def test_fewer_than_six_decisive_items_are_flagged_as_too_few():
    assert sign_test(5, 0).too_few and sign_test(5, 0).p_value == pytest.approx(0.0625)
    assert not sign_test(6, 0).too_few and sign_test(6, 0).p_value == pytest.approx(0.03125)


def direct_fit(wins: np.ndarray) -> np.ndarray:
    """Bradley–Terry by maximising its log-likelihood over log-strengths with a generic optimiser."""
    players = wins.shape[0]

    def negative_log_likelihood(theta):
        total = 0.0
        for i, j in itertools.permutations(range(players), 2):
            if wins[i, j]:
                total -= wins[i, j] * (theta[i] - np.logaddexp(theta[i], theta[j]))
        return total

    theta = optimize.minimize(negative_log_likelihood, np.zeros(players), method="BFGS", options={"gtol": 1e-10}).x
    strengths = np.exp(theta - theta.max())
    return strengths / strengths.sum()


@pytest.mark.parametrize(
    "wins",
    [
        [[0, 7, 3], [4, 0, 6], [2, 5, 0]],
        [[0, 10, 8, 9], [2, 0, 6, 7], [3, 5, 0, 6.5], [1, 4, 3.5, 0]],
        [[0, 1, 0], [0, 0, 1], [1, 0, 0]],  # a cycle: all equal
    ],
)
def test_bradley_terry_matches_a_direct_maximum_likelihood_fit(wins):
    wins = np.asarray(wins, dtype=float)
    fitted = bradley_terry(wins)
    assert fitted.warning is None
    assert fitted.strengths == pytest.approx(list(direct_fit(wins)), abs=1e-6)
    assert sum(fitted.strengths) == pytest.approx(1.0)


def test_with_two_runs_the_strength_ratio_is_the_win_ratio():
    fitted = bradley_terry(np.array([[0, 12], [4, 0]]))
    assert fitted.strengths[0] / fitted.strengths[1] == pytest.approx(3.0)
    assert fitted.win_probability(0, 1) == pytest.approx(0.75)


def test_a_run_that_never_loses_has_no_finite_strength():
    fitted = bradley_terry(np.array([[0, 3, 2], [0, 0, 1], [0, 1, 0]]))
    assert fitted.strengths is None and "never" in fitted.warning


def test_agreement_and_kappa_match_statsmodels():
    judge = ["first", "second", "tie", "second", "second", "first", "tie", "second", "first", "second"]
    human = ["first", "second", "second", "second", "tie", "first", "tie", "first", "first", "second"]
    result = agreement(judge, human)
    labels = sorted(set(judge) | set(human))
    table = np.zeros((3, 3))
    for a, b in zip(judge, human, strict=True):
        table[labels.index(a), labels.index(b)] += 1
    assert result.n == 10 and result.agreement == pytest.approx(0.7)
    assert result.kappa == pytest.approx(cohens_kappa(table).kappa)
