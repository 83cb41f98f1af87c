"""Statistics behind the experiment comparison page: a baseline run against a candidate run.

Both runs score the same dataset items, so every test here is paired: it looks at the change on each
item rather than comparing two independent crowds. Pure numpy/scipy (no Django) so the maths can be
tested on its own. STATISTICS.md beside this file explains the algorithms and the thresholds.

Sign convention everywhere: difference = candidate - baseline, so a positive difference, a positive
effect size and "improved" all mean the candidate scored higher.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

# Two-sided, the smallest p-value a Wilcoxon signed-rank test can produce from k changed items is 2 / 2**k
# (every item moved the same way): k = 5 gives 0.0625, k = 6 gives 0.03125. Below 6 it cannot reach 0.05.
MIN_CHANGED_PAIRS_WILCOXON = 6
# The bootstrap has no hard floor like that. Below 10 pairs the resamples are re-shuffles of a handful of
# items (5 items allow only 126 distinct resamples) and the percentile interval is too narrow by about
# sqrt((n - 1) / n) and more for skewed data, so intervals and p-values look surer than they are.
MIN_PAIRS_BOOTSTRAP = 10
# Exact McNemar is a two-sided binomial test on the discordant pairs, so the same 2 / 2**k floor applies.
MIN_DISCORDANT_MCNEMAR = 6
# The chi-square approximation to Binomial(k, 1/2) is trusted once k * 1/2 * 1/2 >= ~6, i.e. k >= 25.
MCNEMAR_EXACT_BELOW = 25

# Two scores this close are the same score computed along different float paths (0.1 + 0.2 vs 0.3);
# counting them as a change would invent improvements out of rounding noise.
_TIE_RTOL = 1e-9
_TIE_ATOL = 1e-12

# Upper bound on the bootstrap index matrix held in memory at once (8 MB of int64 indices).
_MAX_CHUNK_ELEMENTS = 1_000_000

NumericMethod = Literal["wilcoxon", "bootstrap"]


@dataclass(frozen=True)
class MeanCI:
    n: int
    mean: float | None
    ci_low: float | None
    ci_high: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "mean": _json_float(self.mean),
            "ciLow": _json_float(self.ci_low),
            "ciHigh": _json_float(self.ci_high),
        }


@dataclass(frozen=True)
class PairedTestResult:
    method: str
    confidence: float
    n_pairs: int
    mean_difference: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    effect_size: float | None
    effect_size_name: str
    improved: int
    regressed: int
    unchanged: int
    too_few: bool
    warning: str | None
    # Only paired_boolean_test sets these. With improved (False -> True) and regressed (True -> False)
    # they make up the whole 2x2 table.
    both_true: int | None = None
    both_false: int | None = None
    odds_ratio: float | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "method": self.method,
            "confidence": float(self.confidence),
            "nPairs": self.n_pairs,
            "meanDifference": _json_float(self.mean_difference),
            "ciLow": _json_float(self.ci_low),
            "ciHigh": _json_float(self.ci_high),
            "pValue": _json_float(self.p_value),
            "effectSize": _json_float(self.effect_size),
            "effectSizeName": self.effect_size_name,
            "improved": self.improved,
            "regressed": self.regressed,
            "unchanged": self.unchanged,
            "tooFew": self.too_few,
            "warning": self.warning,
        }
        if self.both_true is not None:
            data["bothTrue"] = self.both_true
            data["bothFalse"] = self.both_false
            data["oddsRatio"] = _json_float(self.odds_ratio)
        return data


class PairedScores(NamedTuple):
    item_ids: list[Hashable]
    baseline: np.ndarray
    candidate: np.ndarray


def pair_scores(baseline: Mapping[Hashable, Any], candidate: Mapping[Hashable, Any]) -> PairedScores:
    """Align two {item_id: score} mappings on the items both runs scored.

    An item missing from either run, or scored None in either, has no pair and is left out. Ids are
    sorted so the arrays (and therefore the seeded bootstrap) do not depend on the order a query
    returned rows in; they must be mutually orderable (all str, all int or all UUID).
    """
    item_ids = sorted(
        item_id
        for item_id, value in baseline.items()
        if value is not None and candidate.get(item_id) is not None
    )
    return PairedScores(
        item_ids=item_ids,
        baseline=np.asarray([baseline[item_id] for item_id in item_ids]),
        candidate=np.asarray([candidate[item_id] for item_id in item_ids]),
    )


def mean_with_ci(
    values: ArrayLike, *, confidence: float = 0.95, resamples: int = 10_000, seed: int = 0
) -> MeanCI:
    """Mean with a percentile bootstrap confidence interval; the interval needs at least two values."""
    _check_bootstrap_arguments(confidence, resamples)
    data = _as_vector(values, "values")
    if data.size == 0:
        return MeanCI(n=0, mean=None, ci_low=None, ci_high=None)
    mean = float(data.mean())
    if data.size == 1:
        # One value has no spread to resample: any interval would be a fake zero-width certainty.
        return MeanCI(n=1, mean=mean, ci_low=None, ci_high=None)
    ci_low, ci_high = _percentile_interval(_bootstrap_means(data, resamples=resamples, seed=seed), confidence)
    return MeanCI(n=int(data.size), mean=mean, ci_low=ci_low, ci_high=ci_high)


def percentiles(values: ArrayLike, qs: Sequence[float] = (50, 90, 95, 99)) -> dict[str, float | None]:
    """Latency/cost percentiles keyed "p50", "p99.9", ...; linear interpolation between order statistics."""
    if any(not 0 <= q <= 100 for q in qs):
        raise ValueError("percentiles must lie between 0 and 100")
    data = _as_vector(values, "values")
    keys = [f"p{q:g}" for q in qs]
    if data.size == 0:
        return dict.fromkeys(keys)
    return {key: float(value) for key, value in zip(keys, np.percentile(data, list(qs)), strict=True)}


def paired_numeric_test(
    baseline: ArrayLike,
    candidate: ArrayLike,
    *,
    method: NumericMethod = "wilcoxon",
    confidence: float = 0.95,
    resamples: int = 10_000,
    seed: int = 0,
) -> PairedTestResult:
    """Compare paired numeric scores (same items, same order).

    The mean difference always gets a paired bootstrap interval. ``method`` picks the p-value and the
    effect size: "wilcoxon" (signed-rank test, rank-biserial correlation; robust to skewed or bounded
    score distributions) or "bootstrap" (centred bootstrap test, Cohen's d_z).
    """
    if method not in ("wilcoxon", "bootstrap"):
        raise ValueError(f"unknown method {method!r}; expected 'wilcoxon' or 'bootstrap'")
    _check_bootstrap_arguments(confidence, resamples)
    base, cand = _as_pair(baseline, candidate)
    diffs = _differences(base, cand)
    n_pairs = int(diffs.size)
    improved = int(np.count_nonzero(diffs > 0))
    regressed = int(np.count_nonzero(diffs < 0))
    effect_size_name = "rank-biserial" if method == "wilcoxon" else "cohens-dz"

    if n_pairs == 0:
        return _no_pairs_result(method, confidence, effect_size_name)

    boot_means = _bootstrap_means(diffs, resamples=resamples, seed=seed) if n_pairs >= 2 else None
    ci_low, ci_high = (None, None) if boot_means is None else _percentile_interval(boot_means, confidence)

    warning: str | None = None
    if method == "wilcoxon":
        p_value: float | None = _wilcoxon_p_value(diffs)
        effect_size = _rank_biserial(diffs)
        changed = improved + regressed
        too_few = changed < MIN_CHANGED_PAIRS_WILCOXON
        if too_few:
            warning = (
                f"Only {changed} of {_items(n_pairs)} changed score. The Wilcoxon signed-rank test ignores "
                f"unchanged items and cannot reach p < 0.05 (two-sided) with fewer than "
                f"{MIN_CHANGED_PAIRS_WILCOXON} changed items, so a high p-value here does not mean the "
                f"runs are equivalent."
            )
    else:
        # A single pair has no bootstrap distribution: it would "resample" the same value every time.
        p_value = None if boot_means is None else _bootstrap_p_value(boot_means, float(diffs.mean()))
        effect_size = _cohens_dz(diffs)
        too_few = n_pairs < MIN_PAIRS_BOOTSTRAP
        if too_few:
            warning = (
                f"The runs share only {_items(n_pairs)}. With fewer than {MIN_PAIRS_BOOTSTRAP} paired items "
                f"the bootstrap keeps resampling the same few items, so its interval is too narrow and "
                f"its p-value too optimistic."
            )

    return PairedTestResult(
        method=method,
        confidence=confidence,
        n_pairs=n_pairs,
        mean_difference=float(diffs.mean()),
        ci_low=ci_low,
        ci_high=ci_high,
        p_value=p_value,
        effect_size=effect_size,
        effect_size_name=effect_size_name,
        improved=improved,
        regressed=regressed,
        unchanged=n_pairs - improved - regressed,
        too_few=too_few,
        warning=warning,
    )


def paired_boolean_test(
    baseline: ArrayLike,
    candidate: ArrayLike,
    *,
    confidence: float = 0.95,
    resamples: int = 10_000,
    seed: int = 0,
) -> PairedTestResult:
    """McNemar's test on paired pass/fail outcomes (same items, same order).

    Only the discordant items (the ones that flipped) carry evidence. The mean difference is the
    difference in pass rates, candidate - baseline, with a paired bootstrap interval.
    """
    _check_bootstrap_arguments(confidence, resamples)
    base, cand = _as_boolean(baseline, "baseline"), _as_boolean(candidate, "candidate")
    if base.shape != cand.shape:
        raise ValueError("baseline and candidate must have the same length; align them with pair_scores")
    n_pairs = int(base.size)
    both_true = int(np.count_nonzero(base & cand))
    both_false = int(np.count_nonzero(~base & ~cand))
    # In the usual 2x2 notation b is the cell the candidate wins and c the cell it loses, so that
    # b / c > 1 points the same way as a positive difference in pass rates.
    improved = int(np.count_nonzero(~base & cand))
    regressed = int(np.count_nonzero(base & ~cand))
    discordant = improved + regressed
    method = "mcnemar-exact" if discordant < MCNEMAR_EXACT_BELOW else "mcnemar-chi2"

    if n_pairs == 0:
        return _no_pairs_result(method, confidence, "proportion-difference", both_true=0, both_false=0)

    proportion_difference = (improved - regressed) / n_pairs
    ci_low: float | None = None
    ci_high: float | None = None
    if n_pairs >= 2:
        diffs = cand.astype(float) - base.astype(float)
        boot_means = _bootstrap_means(diffs, resamples=resamples, seed=seed)
        ci_low, ci_high = _percentile_interval(boot_means, confidence)

    too_few = discordant < MIN_DISCORDANT_MCNEMAR
    warning = None
    if too_few:
        warning = (
            f"Only {discordant} of {_items(n_pairs)} flipped between pass and fail. McNemar's test only "
            f"counts flipped items and cannot reach p < 0.05 (two-sided) with fewer than "
            f"{MIN_DISCORDANT_MCNEMAR}, so a high p-value here does not mean the runs are equivalent."
        )
    return PairedTestResult(
        method=method,
        confidence=confidence,
        n_pairs=n_pairs,
        mean_difference=proportion_difference,
        ci_low=ci_low,
        ci_high=ci_high,
        p_value=_mcnemar_p_value(improved, regressed),
        effect_size=proportion_difference,
        effect_size_name="proportion-difference",
        improved=improved,
        regressed=regressed,
        unchanged=both_true + both_false,
        too_few=too_few,
        warning=warning,
        both_true=both_true,
        both_false=both_false,
        odds_ratio=improved / regressed if regressed else None,
    )


def _no_pairs_result(
    method: str,
    confidence: float,
    effect_size_name: str,
    *,
    both_true: int | None = None,
    both_false: int | None = None,
) -> PairedTestResult:
    return PairedTestResult(
        method=method,
        confidence=confidence,
        n_pairs=0,
        mean_difference=None,
        ci_low=None,
        ci_high=None,
        p_value=None,
        effect_size=None,
        effect_size_name=effect_size_name,
        improved=0,
        regressed=0,
        unchanged=0,
        too_few=True,
        warning="No items were scored in both runs, so there is nothing to compare.",
        both_true=both_true,
        both_false=both_false,
    )


def _bootstrap_means(values: np.ndarray, *, resamples: int, seed: int) -> np.ndarray:
    """Means of `resamples` with-replacement resamples of `values`, drawn in bounded-memory chunks.

    numpy's Generator yields the same index stream whether it is drawn in one call or several, so the
    result depends on the seed only, not on the chunk size.
    """
    rng = np.random.default_rng(seed)
    n = values.size
    rows_per_chunk = max(1, _MAX_CHUNK_ELEMENTS // n)
    means = np.empty(resamples)
    for start in range(0, resamples, rows_per_chunk):
        rows = min(rows_per_chunk, resamples - start)
        indices = rng.integers(0, n, size=(rows, n))
        means[start : start + rows] = values[indices].mean(axis=1)
    return means


def _percentile_interval(boot_means: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = (1 - confidence) / 2
    low, high = np.quantile(boot_means, [tail, 1 - tail])
    return float(low), float(high)


def _bootstrap_p_value(boot_means: np.ndarray, observed: float) -> float:
    """Two-sided p-value for "mean difference is 0" from the paired bootstrap distribution.

    Shifting the bootstrap distribution to centre on 0 gives the distribution of the mean difference in
    a world with no true difference but the same item-to-item spread. The p-value is how often that
    world lands at least as far from 0 as we observed. Counting the observed sample as one more resample
    (the +1s) keeps the p-value from claiming 0 from a finite number of resamples.
    """
    extreme = int(np.count_nonzero(np.abs(boot_means - observed) >= abs(observed)))
    return (extreme + 1) / (boot_means.size + 1)


def _wilcoxon_p_value(diffs: np.ndarray) -> float:
    changed = diffs[diffs != 0]
    if changed.size == 0:
        # Nothing changed, which is no evidence of a change; scipy would divide by zero here.
        return 1.0
    # zero_method="wilcox" discards unchanged items. Discarding them before the call as well lets scipy
    # pick the exact null distribution by the number of items actually ranked, not the total.
    result = stats.wilcoxon(changed, zero_method="wilcox", alternative="two-sided", method="auto")
    return float(result.pvalue)


def _rank_biserial(diffs: np.ndarray) -> float | None:
    """Matched-pairs rank-biserial correlation (T+ - T-) / (T+ + T-), in [-1, 1].

    Ranks are of |difference| over the changed items (ties get average ranks), matching the Wilcoxon
    test. +1 means every changed item improved, -1 every one regressed, 0 a balance.
    """
    changed = diffs[diffs != 0]
    if changed.size == 0:
        return None
    ranks = stats.rankdata(np.abs(changed))
    positive = float(ranks[changed > 0].sum())
    negative = float(ranks[changed < 0].sum())
    return (positive - negative) / (positive + negative)


def _cohens_dz(diffs: np.ndarray) -> float | None:
    """Mean difference in units of the standard deviation of the differences (sample sd, ddof=1)."""
    if diffs.size < 2:
        return None
    sd = float(diffs.std(ddof=1))
    # Every item moved by the same amount (up to rounding): the standardised effect would be infinite.
    if sd <= _TIE_RTOL * float(np.abs(diffs).max()):
        return None
    return float(diffs.mean()) / sd


def _mcnemar_p_value(improved: int, regressed: int) -> float:
    discordant = improved + regressed
    if discordant == 0:
        return 1.0
    if discordant < MCNEMAR_EXACT_BELOW:
        # Under "no difference" each flipped item is equally likely to flip either way.
        return float(stats.binomtest(improved, discordant, p=0.5, alternative="two-sided").pvalue)
    # Edwards' continuity correction, clamped at 0: equal counts are already the least remarkable
    # outcome and must not be pushed to a positive statistic.
    statistic = max(abs(improved - regressed) - 1, 0) ** 2 / discordant
    return float(stats.chi2.sf(statistic, df=1))


def _differences(base: np.ndarray, cand: np.ndarray) -> np.ndarray:
    diffs = cand - base
    diffs[np.isclose(cand, base, rtol=_TIE_RTOL, atol=_TIE_ATOL)] = 0.0
    return diffs


def _as_vector(values: ArrayLike, name: str) -> np.ndarray:
    data = np.asarray(values, dtype=float)
    if data.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional")
    if not np.isfinite(data).all():
        # A NaN would silently turn every mean into NaN; missing scores must be dropped by the caller.
        raise ValueError(f"{name} contains NaN, infinity or None; drop unscored items first")
    return data


def _as_pair(baseline: ArrayLike, candidate: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    base, cand = _as_vector(baseline, "baseline"), _as_vector(candidate, "candidate")
    if base.shape != cand.shape:
        raise ValueError("baseline and candidate must have the same length; align them with pair_scores")
    return base, cand


def _as_boolean(values: ArrayLike, name: str) -> np.ndarray:
    data = np.asarray(values)
    if data.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional")
    if data.dtype != bool and not np.isin(data, (0, 1)).all():
        raise ValueError(f"{name} must hold booleans (or 0/1)")
    return data.astype(bool)


def _check_bootstrap_arguments(confidence: float, resamples: int) -> None:
    if not 0 < confidence < 1:
        raise ValueError("confidence must lie strictly between 0 and 1")
    if resamples < 1:
        raise ValueError("resamples must be at least 1")


def _items(count: int) -> str:
    return "1 item" if count == 1 else f"{count} items"


def _json_float(value: float | None) -> float | None:
    # JSON has no NaN or infinity; None renders as "not available".
    if value is None or not math.isfinite(value):
        return None
    return float(value)
