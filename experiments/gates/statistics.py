"""The two pieces of statistics the gates add to the comparison's (experiments/statistics.py):
the one-sided confidence bounds of a non-inferiority rule, and the number of paired items a rule
that could not decide would need. Pure numpy/scipy; GATES.md explains both and their assumptions.

Sign convention as in the comparison: a difference is candidate - baseline.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

POWER = 0.8
# Past this the answer is "no realistic number of items": the search stops instead of looping on.
MAX_PAIRS = 10_000_000


@dataclass(frozen=True)
class NonInferiority:
    """Paired t bounds of the mean difference: `lower` and `upper` are each one-sided at 1 - alpha
    (together the two-sided 1 - 2 alpha interval), `p_value` is for H0 "mean difference <= -delta"."""

    n: int
    mean_difference: float | None
    sd: float | None
    lower: float | None
    upper: float | None
    p_value: float | None


def non_inferiority(differences: ArrayLike, *, delta: float, alpha: float) -> NonInferiority:
    """One-sided t bounds of the mean paired difference, and the p-value of "the candidate is worse
    by delta or more". Needs two differences (the spread is unknown with one)."""
    diffs = np.asarray(differences, dtype=float)
    n = int(diffs.size)
    if n == 0:
        return NonInferiority(n=0, mean_difference=None, sd=None, lower=None, upper=None, p_value=None)
    mean = float(diffs.mean())
    if n < 2:
        return NonInferiority(n=1, mean_difference=mean, sd=None, lower=None, upper=None, p_value=None)
    sd = float(diffs.std(ddof=1))
    margin = float(stats.t.ppf(1 - alpha, n - 1)) * sd / math.sqrt(n)
    if sd == 0:
        # Every item moved by the same amount: the bounds are the mean itself, and the p-value is 0 or 1.
        p_value = 0.0 if mean > -delta else 1.0
    else:
        statistic = (mean + delta) / (sd / math.sqrt(n))
        p_value = float(stats.t.sf(statistic, n - 1))
    return NonInferiority(n=n, mean_difference=mean, sd=sd, lower=mean - margin, upper=mean + margin, p_value=p_value)


def t_test_power(*, effect_size: float, n: int, alpha: float, alternative: str) -> float:
    """Power of a one-sample (paired) t-test with n pairs for a standardised effect (mean / sd).

    `alternative` is "larger" (one-sided, the effect is positive) or "two-sided"; the noncentral t
    distribution with n - 1 degrees of freedom and noncentrality effect * sqrt(n) is exact for normal
    differences.
    """
    df = n - 1
    noncentrality = effect_size * math.sqrt(n)
    if alternative == "larger":
        return float(stats.nct.sf(stats.t.ppf(1 - alpha, df), df, noncentrality))
    if alternative != "two-sided":
        raise ValueError("alternative must be 'larger' or 'two-sided'")
    critical = stats.t.ppf(1 - alpha / 2, df)
    # The far tail P(T < -c) is written as P(T' > c) with T' of noncentrality -nc: scipy's nct.cdf
    # returns NaN deep in that tail (a large nc) where sf of the mirrored distribution returns ~0.
    return float(stats.nct.sf(critical, df, noncentrality) + stats.nct.sf(critical, df, -noncentrality))


def pairs_needed(*, effect_size: float, alpha: float, alternative: str, power: float = POWER) -> int | None:
    """The smallest number of pairs (at least 2) whose t-test reaches `power`; None past MAX_PAIRS.

    Power grows with n for a non-zero effect, so doubling then bisecting finds the first n that
    reaches it in about 2 log2(n) power evaluations.
    """
    if alternative == "two-sided":
        effect_size = abs(effect_size)
    if not effect_size > 0 or not math.isfinite(effect_size):
        return None

    def enough(n: int) -> bool:
        return t_test_power(effect_size=effect_size, n=n, alpha=alpha, alternative=alternative) >= power

    low, high = 1, 2  # enough(low) is False by convention: one pair has no spread to test against
    while not enough(high):
        if high >= MAX_PAIRS:
            return None
        low, high = high, min(high * 2, MAX_PAIRS)
    while high - low > 1:
        middle = (low + high) // 2
        if enough(middle):
            high = middle
        else:
            low = middle
    return high
