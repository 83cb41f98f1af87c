"""Pairwise preferences in the comparison: win / tie / loss per pair of runs, with a sign test, and
Bradley–Terry strengths when more than two runs are compared (STATISTICS.md, "Pairwise preferences").

A preference is an ordinary score whose metadata carries `pairwise` = {baselineRunId, candidateRunId,
itemKey, trial, winner: baseline | candidate | tie, disagreement?}: the pairwise LLM judge writes
them (source EVAL), and any other rater that writes the same shape (source ANNOTATION for humans, API)
is counted the same way, separately. They are read from scoring with the comparison's other scores;
this module never imports the evaluators.

1. The latest judgement counts per (score, rater, run pair, item, trial).
2. Each item gets one outcome per run pair: the sign of (the second run's wins − the first's) over its
   trials and both orientations (A against B and B against A), a tie when they balance.
3. Items are then counted (wins, ties, losses) and tested with the sign test; the run order of a pair
   puts the baseline first, or else follows the comparison's order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from experiments.models import ExperimentRun
from experiments.preference_statistics import (
    AgreementResult,
    SignTestResult,
    agreement,
    bradley_terry,
    sign_test,
)

WINNERS = ("baseline", "candidate", "tie")
RATERS = {"EVAL": "judge", "ANNOTATION": "human", "API": "api"}


@dataclass
class PairTally:
    first: ExperimentRun  # the baseline side
    second: ExperimentRun  # the candidate side: "wins" are its wins
    test: SignTestResult
    judgements: int
    disagreements: int  # judgements whose two orders disagreed (counted as ties)

    def to_dict(self) -> dict[str, Any]:
        return {
            "baseline": self.first.run_id, "candidate": self.second.run_id, "judgements": self.judgements,
            "orderDisagreements": self.disagreements, **self.test.to_dict(),
        }


@dataclass
class PreferenceSummary:
    score: str
    source: str
    pairs: list[PairTally]
    strengths: dict[str, float] | None = None  # run id → Bradley–Terry strength (summing to 1)
    strengths_warning: str | None = None

    @property
    def rater(self) -> str:
        return RATERS.get(self.source, self.source.lower())

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": self.score, "source": self.source, "rater": self.rater,
            "pairs": [pair.to_dict() for pair in self.pairs],
            "bradleyTerry": self.strengths, "bradleyTerryWarning": self.strengths_warning,
        }


@dataclass
class PreferenceAgreement:
    judge_score: str
    human_score: str
    result: AgreementResult

    def to_dict(self) -> dict[str, Any]:
        return {"judgeScore": self.judge_score, "humanScore": self.human_score, **self.result.to_dict()}


@dataclass
class _Judgements:
    """One (score, source): per ordered run pair (i < j by position), per item, the net count of
    j's wins minus i's, and the judgement counts."""

    nets: dict[tuple[int, int], dict[str, int]] = field(default_factory=dict)
    judgements: dict[tuple[int, int], int] = field(default_factory=dict)
    disagreements: dict[tuple[int, int], int] = field(default_factory=dict)


def is_preference(pairwise: Any) -> bool:
    return isinstance(pairwise, dict) and pairwise.get("winner") in WINNERS


def preferences_build(
    runs: list[ExperimentRun], baseline: ExperimentRun | None, rows: list[Any]
) -> tuple[list[PreferenceSummary], list[PreferenceAgreement]]:
    """`rows`: preference scores (name, source, pairwise), newest first."""
    order = sorted(range(len(runs)), key=lambda index: (baseline is None or runs[index].pk != baseline.pk, index))
    position = {runs[index].run_id: rank for rank, index in enumerate(order)}
    by_position = [runs[index] for index in order]
    grouped: dict[tuple[str, str], _Judgements] = {}
    seen: set[tuple] = set()
    for row in rows:
        meta = row.pairwise
        base, cand = meta.get("baselineRunId"), meta.get("candidateRunId")
        if base not in position or cand not in position or base == cand:
            continue
        key = (row.name, row.source, base, cand, str(meta.get("itemKey")), meta.get("trial"))
        if key in seen:
            continue  # an older judgement of the same pair
        seen.add(key)
        first, second = sorted((position[base], position[cand]))
        winner = meta["winner"]
        won_by = None if winner == "tie" else (base if winner == "baseline" else cand)
        vote = 0 if won_by is None else (1 if position[won_by] == second else -1)
        judged = grouped.setdefault((row.name, row.source), _Judgements())
        pair = (first, second)
        items = judged.nets.setdefault(pair, {})
        items[key[4]] = items.get(key[4], 0) + vote
        judged.judgements[pair] = judged.judgements.get(pair, 0) + 1
        judged.disagreements[pair] = judged.disagreements.get(pair, 0) + bool(meta.get("disagreement"))
    summaries = [
        _summary(name, source, judged, by_position, len(runs) > 2) for (name, source), judged in sorted(grouped.items())
    ]
    return summaries, _agreements(grouped)


def _summary(name: str, source: str, judged: _Judgements, runs: list[ExperimentRun], rank: bool) -> PreferenceSummary:
    pairs = []
    for pair, items in sorted(judged.nets.items()):
        nets = list(items.values())
        wins = sum(1 for net in nets if net > 0)
        losses = sum(1 for net in nets if net < 0)
        pairs.append(PairTally(
            first=runs[pair[0]], second=runs[pair[1]], test=sign_test(wins, losses, len(nets) - wins - losses),
            judgements=judged.judgements[pair], disagreements=judged.disagreements[pair],
        ))
    summary = PreferenceSummary(score=name, source=source, pairs=pairs)
    if rank:
        players = sorted({index for pair in judged.nets for index in pair})
        column = {player: i for i, player in enumerate(players)}
        wins = np.zeros((len(players), len(players)))
        for (first, second), items in judged.nets.items():
            for net in items.values():
                a, b = column[first], column[second]
                if net > 0:
                    wins[b, a] += 1
                elif net < 0:
                    wins[a, b] += 1
                else:  # a tie: half a win each
                    wins[a, b] += 0.5
                    wins[b, a] += 0.5
        if len(players) > 2:
            fitted = bradley_terry(wins)
            summary.strengths_warning = fitted.warning
            if fitted.strengths is not None:
                summary.strengths = {runs[player].run_id: fitted.strengths[column[player]] for player in players}
        else:
            summary.strengths_warning = "Bradley–Terry strengths need preferences between three runs or more"
    return summary


def _agreements(grouped: dict[tuple[str, str], _Judgements]) -> list[PreferenceAgreement]:
    """Judge against humans on the items both judged, for each (judge score, human score)."""
    results = []
    for (judge_name, judge_source), judge in sorted(grouped.items()):
        if judge_source != "EVAL":
            continue
        for (human_name, human_source), human in sorted(grouped.items()):
            if human_source != "ANNOTATION":
                continue
            first, second = [], []
            for pair, items in judge.nets.items():
                for item, net in items.items():
                    other = human.nets.get(pair, {}).get(item)
                    if other is not None:
                        first.append(_outcome(net))
                        second.append(_outcome(other))
            if first:
                results.append(PreferenceAgreement(judge_name, human_name, agreement(first, second)))
    return results


def _outcome(net: int) -> str:
    return "second" if net > 0 else "first" if net < 0 else "tie"
