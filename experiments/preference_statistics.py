"""Statistics of pairwise preferences ("which of the two outputs is better?"): the sign test of one
run against another, Bradley–Terry strengths of several runs, and the agreement of two raters.

Pure numpy/scipy (no Django), like statistics.py; STATISTICS.md ("Pairwise preferences") explains
the methods and their choices. Counts are of *items*: the comparison first turns each item's
judgements (trials, both orientations) into one outcome (experiments/preferences.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

# The same floor as the Wilcoxon and McNemar tests (statistics.py): with k decisive items the
# smallest two-sided p-value is 2 / 2**k, which reaches 0.05 only from k = 6.
MIN_DECISIVE = 6
BT_TOLERANCE = 1e-10
BT_MAX_ITERATIONS = 10_000


@dataclass(frozen=True)
class SignTestResult:
    wins: int  # items the candidate won
    losses: int  # items the baseline won
    ties: int
    p_value: float | None  # exact two-sided binomial test of wins among wins + losses at 1/2
    win_rate: float | None  # wins / (wins + losses)
    ci_low: float | None  # Clopper–Pearson interval of the win rate
    ci_high: float | None
    confidence: float
    too_few: bool
    warning: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "wins": self.wins, "losses": self.losses, "ties": self.ties, "pValue": self.p_value,
            "winRate": self.win_rate, "ciLow": self.ci_low, "ciHigh": self.ci_high,
            "confidence": self.confidence, "tooFew": self.too_few, "warning": self.warning,
        }


def sign_test(wins: int, losses: int, ties: int = 0, *, confidence: float = 0.95) -> SignTestResult:
    """Is the candidate preferred more often than the baseline? Ties say nothing about the
    direction and are left out (the classic sign test); they are reported beside it."""
    if min(wins, losses, ties) < 0:
        raise ValueError("counts cannot be negative")
    decisive = wins + losses
    if decisive == 0:
        return SignTestResult(wins, losses, ties, None, None, None, None, confidence, True,
                              "no item was won by either run: nothing to test")
    # Binomial(k, 1/2) is symmetric, so the two-sided exact p-value (the probability of an outcome
    # no likelier than the one seen) is twice the smaller tail, capped at 1.
    p_value = min(1.0, 2.0 * float(stats.binom.cdf(min(wins, losses), decisive, 0.5)))
    low, high = clopper_pearson(wins, decisive, confidence)
    too_few = decisive < MIN_DECISIVE
    warning = (f"only {decisive} decisive item{'s' if decisive != 1 else ''}: a sign test needs at least "
               f"{MIN_DECISIVE} to reach p < 0.05") if too_few else None
    return SignTestResult(wins, losses, ties, p_value, wins / decisive, low, high, confidence, too_few, warning)


def clopper_pearson(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """The exact (Clopper–Pearson) interval of a binomial proportion, from the beta quantiles."""
    alpha = 1.0 - confidence
    low = 0.0 if successes == 0 else float(stats.beta.ppf(alpha / 2, successes, trials - successes + 1))
    high = 1.0 if successes == trials else float(stats.beta.ppf(1 - alpha / 2, successes + 1, trials - successes))
    return low, high


@dataclass(frozen=True)
class BradleyTerryResult:
    strengths: list[float] | None  # in the order of the players, summing to 1; None when no MLE exists
    iterations: int
    warning: str | None

    def win_probability(self, i: int, j: int) -> float | None:
        """The model's probability that player i is preferred to player j."""
        if self.strengths is None:
            return None
        return self.strengths[i] / (self.strengths[i] + self.strengths[j])


def bradley_terry(wins: np.ndarray) -> BradleyTerryResult:
    """Bradley–Terry strengths by Hunter's (2004) MM algorithm.

    `wins[i, j]` is how often i was preferred to j (a tie counts half to each, by the caller). The
    model: P(i beats j) = p_i / (p_i + p_j). Each step sets p_i = W_i / Σ_j n_ij / (p_i + p_j),
    with W_i the wins of i and n_ij the comparisons of i and j, then rescales to a sum of 1; the
    likelihood rises at every step. The maximum exists (and is unique) only when every split of the
    players into two groups has a win of each group over the other, i.e. the "who beat whom" graph
    is strongly connected; otherwise some strength runs off to 0 or infinity, and None is returned."""
    wins = np.asarray(wins, dtype=float)
    players = wins.shape[0]
    if wins.shape != (players, players) or players < 2:
        raise ValueError("wins must be a square matrix of at least two players")
    if np.any(wins < 0):
        raise ValueError("wins cannot be negative")
    wins = wins.copy()
    np.fill_diagonal(wins, 0.0)
    if not _strongly_connected(wins > 0):
        return BradleyTerryResult(None, 0, "the preferences do not link every run both ways (some run never "
                                           "won, or never lost, against the others): no strengths")
    games = wins + wins.T
    total_wins = wins.sum(axis=1)
    strengths = np.full(players, 1.0 / players)
    for iteration in range(1, BT_MAX_ITERATIONS + 1):
        denominators = (games / (strengths[:, None] + strengths[None, :])).sum(axis=1)
        updated = total_wins / denominators
        updated /= updated.sum()
        change = float(np.max(np.abs(np.log(updated) - np.log(strengths))))
        strengths = updated
        if change < BT_TOLERANCE:
            return BradleyTerryResult([float(s) for s in strengths], iteration, None)
    return BradleyTerryResult([float(s) for s in strengths], BT_MAX_ITERATIONS,
                              f"stopped after {BT_MAX_ITERATIONS} iterations before converging")


def _strongly_connected(edges: np.ndarray) -> bool:
    """Every node reaches every other along `edges` (and so back): reachability from node 0 in the
    graph and in its reverse."""

    def reached(adjacency: np.ndarray) -> int:
        seen, frontier = {0}, [0]
        while frontier:
            node = frontier.pop()
            for other in np.flatnonzero(adjacency[node]):
                if int(other) not in seen:
                    seen.add(int(other))
                    frontier.append(int(other))
        return len(seen)

    return reached(edges) == len(edges) == reached(edges.T)


@dataclass(frozen=True)
class AgreementResult:
    n: int  # items both raters judged
    agreement: float | None  # share of those items with the same outcome
    kappa: float | None  # Cohen's kappa over the outcomes baseline / tie / candidate

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "agreement": self.agreement, "kappa": self.kappa}


def agreement(first: list[str], second: list[str]) -> AgreementResult:
    """How often two raters (a judge and the humans) reached the same outcome on the same items,
    and Cohen's kappa: that agreement beyond what their separate outcome frequencies give by chance,
    (p_o − p_e) / (1 − p_e). Kappa is None when chance alone explains everything (p_e = 1)."""
    if len(first) != len(second):
        raise ValueError("the two raters must rate the same items")
    n = len(first)
    if n == 0:
        return AgreementResult(0, None, None)
    labels = sorted(set(first) | set(second))
    index = {label: i for i, label in enumerate(labels)}
    table = np.zeros((len(labels), len(labels)))
    for a, b in zip(first, second, strict=True):
        table[index[a], index[b]] += 1
    observed = float(np.trace(table)) / n
    expected = float(table.sum(axis=1) @ table.sum(axis=0)) / n**2
    kappa = None if np.isclose(expected, 1.0) else (observed - expected) / (1.0 - expected)
    return AgreementResult(n, observed, kappa)
