"""The side-by-side comparison of 1–5 experiment runs, optionally against a baseline.

One row per dataset item (matched across runs by the item id, which for local data is the SDK's hash
of the input), a summary per run, and with a baseline the per-item deltas, the regressed / improved
classification and a paired test per score (experiments/statistics.py; STATISTICS.md explains them).

Cost: a fixed number of queries (runs, their items, the item traces' scores, the runs' own scores,
the traces' costs) whatever the number of runs and items; the per-item Python work is a few dict
operations, and bootstrap resamples shrink as items grow so the page stays fast.

Scores of an item are the scores of its trace (its task observation's and the trace's own). When a
name was scored more than once on a trace, the latest score counts.

A run may hold several trials of an item (each its own trace): the item's cell aggregates them
first — the mean of each score over its trials (for a boolean score, the share of passing trials),
their spread and whether they differ — and the paired tests then run on those per-item means
(STATISTICS.md, "Repeated trials"). Cost and latency count every trial. A score name is "boolean" when
every score of that name is BOOLEAN, "numeric" when they are NUMERIC (or a NUMERIC/BOOLEAN mix,
counted as 0/1), otherwise "categorical" (shown, counted, never tested). Deltas and verdicts read
"higher is better".

Pairwise preference scores (metadata `pairwise`) come with the same score query but are kept apart:
`preferences.py` counts them per run pair (win / tie / loss, sign test, Bradley–Terry).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

import numpy as np

from evalsite.tenancy.models import Project
from experiments import selectors
from experiments.models import ExperimentRun
from experiments.preferences import PreferenceAgreement, PreferenceSummary, is_preference, preferences_build
from experiments.statistics import (
    MeanCI,
    PairedScores,
    PairedTestResult,
    mean_with_ci,
    pair_scores,
    paired_boolean_test,
    paired_numeric_test,
    percentiles,
)
from scoring import selectors as score_selectors
from traces import selectors as trace_selectors

MAX_RUNS = 5
ALPHA = 0.05
METHODS = ("wilcoxon", "bootstrap")
LATENCY_PERCENTILES = (50, 90, 99)
# Bootstrap work per call is resamples x items random draws; 2M draws take ~7 ms. Above 200 items the
# resamples shrink towards 2,000, which still leaves ~50 resamples in each 2.5% tail of the interval.
_DRAW_BUDGET = 2_000_000
_MIN_RESAMPLES, _MAX_RESAMPLES = 2_000, 10_000

ScoreKind = Literal["numeric", "boolean", "categorical"]


class ComparisonError(ValueError):
    """A bad request for a comparison; `field` names the parameter to fix."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


class RunNotFound(LookupError):
    def __init__(self, run_ids: list[str]):
        super().__init__(f"Experiment run not found: {', '.join(run_ids)}")
        self.run_ids = run_ids


@dataclass
class Trial:
    """One execution of an item in a run: its own trace, output and scores."""

    trial: int
    output: Any
    trace_id: str | None
    latency_ms: float | None
    cost: Decimal | None
    error: str | None
    scores: dict[str, Any]


@dataclass
class Cell:
    """One run's result on one item: its trials, aggregated (see `_cell`)."""

    output: Any
    trace_id: str | None
    latency_ms: float | None  # mean over the trials
    cost: Decimal | None  # sum over the trials
    error: str | None  # the first failed trial's error
    scores: dict[str, Any]  # per score: the value, or with several trials their mean
    trials: list[Trial] = field(default_factory=list)
    spread: dict[str, float] = field(default_factory=dict)  # per score: SD over ≥ 2 scored trials
    varies: set[str] = field(default_factory=set)  # scores whose trials disagree

    @property
    def repeated(self) -> bool:
        return len(self.trials) > 1


@dataclass
class Row:
    key: str
    linked: bool
    input: Any
    expected_output: Any
    cells: list[Cell | None]  # in the order of Comparison.runs

    @property
    def flips(self) -> set[str]:
        """Scores whose outcome differs between the trials of some run on this item."""
        return set().union(*(cell.varies for cell in self.cells if cell is not None))

    # {candidate run_id: {score name: candidate - baseline}}, only where both runs scored the item.
    deltas: dict[str, dict[str, float]] = field(default_factory=dict)
    improved: set[str] = field(default_factory=set)
    regressed: set[str] = field(default_factory=set)
    sort_key: tuple = ()


@dataclass
class RunSummary:
    run: ExperimentRun
    item_count: int
    trial_count: int
    error_count: int  # failed trials
    scores: dict[str, MeanCI]
    categories: dict[str, list[tuple[str, int]]]
    cost_total: Decimal | None
    cost_mean: Decimal | None
    cost_n: int
    latency: dict[str, float | None]
    run_scores: list[dict[str, Any]]
    latency_n: int = 0  # items with a latency, behind the percentiles
    max_trials: int = 1
    variation: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        run = self.run
        return {
            "id": run.run_id,
            "name": run.name,
            "datasetId": run.dataset_id,
            "source": run.source,
            "status": run.status,
            "progress": {"total": run.progress_total, "done": run.progress_done, "failed": run.progress_failed},
            "itemCount": self.item_count,
            "trialCount": self.trial_count,
            "maxTrials": self.max_trials,
            "errorCount": self.error_count,
            "cost": {
                "total": _float(self.cost_total),
                "mean": _float(self.cost_mean),
                "n": self.cost_n,
            },
            "latencyMs": self.latency,
            "scores": {name: ci.to_dict() for name, ci in self.scores.items()},
            "categories": {name: dict(counts) for name, counts in self.categories.items()},
            "runScores": self.run_scores,
            "variation": self.variation,
        }


@dataclass
class ScoreTest:
    score: str
    kind: ScoreKind
    candidate: ExperimentRun
    result: PairedTestResult | None
    verdict: str
    tone: Literal["good", "bad", "neutral", "unsure"]

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "score": self.score,
            "kind": self.kind,
            "candidate": self.candidate.run_id,
            "verdict": self.verdict,
        }
        if self.result is not None:
            data.update(self.result.to_dict())
        return data


@dataclass
class Comparison:
    runs: list[ExperimentRun]
    baseline: ExperimentRun | None
    method: str
    score_kinds: dict[str, ScoreKind]
    rows: list[Row]
    summaries: list[RunSummary]
    tests: list[ScoreTest]
    preferences: list[PreferenceSummary] = field(default_factory=list)
    preference_agreement: list[PreferenceAgreement] = field(default_factory=list)

    @property
    def candidates(self) -> list[ExperimentRun]:
        return [run for run in self.runs if self.baseline is None or run.pk != self.baseline.pk]

    @property
    def testable_scores(self) -> list[str]:
        return [name for name, kind in self.score_kinds.items() if kind != "categorical"]

    def filtered_rows(self, status: str | None, score: str | None = None) -> list[Row]:
        """Rows that regressed / improved against the baseline on `score` (on any score when None)."""
        if status not in ("regressed", "improved") or self.baseline is None:
            return self.rows
        names = {score} if score else None

        def matches(row: Row) -> bool:
            flagged = row.regressed if status == "regressed" else row.improved
            return bool(flagged if names is None else flagged & names)

        return [row for row in self.rows if matches(row)]

    def to_dict(self, *, include_items: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "baseline": self.baseline.run_id if self.baseline else None,
            "candidates": [run.run_id for run in self.candidates],
            "method": self.method,
            "alpha": ALPHA,
            "scores": [{"name": name, "kind": kind} for name, kind in self.score_kinds.items()],
            "runs": [summary.to_dict() for summary in self.summaries],
            "tests": [test.to_dict() for test in self.tests],
            "preferences": [summary.to_dict() for summary in self.preferences],
            "preferenceAgreement": [entry.to_dict() for entry in self.preference_agreement],
        }
        if include_items:
            data["items"] = [self._row_dict(row) for row in self.rows]
        return data

    def _row_dict(self, row: Row) -> dict[str, Any]:
        runs = {}
        for run, cell in zip(self.runs, row.cells, strict=True):
            if cell is not None:
                runs[run.run_id] = {
                    "traceId": cell.trace_id,
                    "scores": cell.scores,
                    "latencyMs": cell.latency_ms,
                    "cost": _float(cell.cost),
                    "error": cell.error,
                    "trials": [
                        {
                            "trial": trial.trial,
                            "traceId": trial.trace_id,
                            "scores": trial.scores,
                            "latencyMs": trial.latency_ms,
                            "cost": _float(trial.cost),
                            "error": trial.error,
                        }
                        for trial in cell.trials
                    ],
                    "spread": cell.spread,
                    "varies": sorted(cell.varies),
                }
        return {
            "itemId": row.key,
            "linkedToDataset": row.linked,
            "runs": runs,
            "deltas": row.deltas,
            "improved": sorted(row.improved),
            "regressed": sorted(row.regressed),
            "flips": sorted(row.flips),
        }


def parse_run_ids(raw: str | list[str] | None, *, field_name: str = "runs") -> list[str]:
    """`a,b` or repeated parameters → unique ids in order, 1 to MAX_RUNS of them."""
    values = raw if isinstance(raw, list) else [raw or ""]
    ids: list[str] = []
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if part and part not in ids:
                ids.append(part)
    if not ids:
        raise ComparisonError(field_name, "name at least one experiment run id")
    if len(ids) > MAX_RUNS:
        raise ComparisonError(field_name, f"compare at most {MAX_RUNS} runs, got {len(ids)}")
    return ids


def comparison_build(
    *,
    project: Project,
    run_ids: list[str],
    baseline_id: str | None = None,
    method: str = "wilcoxon",
) -> Comparison:
    """Build the comparison of the named runs (external ids); raises RunNotFound or ComparisonError."""
    if method not in METHODS:
        raise ComparisonError("method", f"must be one of {', '.join(METHODS)}, got {method!r}")
    if baseline_id is not None and baseline_id not in run_ids:
        raise ComparisonError("baseline", "the baseline must be one of the compared runs")
    by_id = selectors.experiment_run_list_by_ids(project=project, run_ids=run_ids)
    missing = [run_id for run_id in run_ids if run_id not in by_id]
    if missing:
        raise RunNotFound(missing)
    runs = [by_id[run_id] for run_id in run_ids]
    baseline = by_id[baseline_id] if baseline_id is not None else None

    item_rows = selectors.run_item_rows_for_runs(project=project, runs=runs)
    has_traces = any(item["trace_id"] for item in item_rows)
    # The runs' trace ids as a subquery: thousands of ids in an IN list cost more to send and plan.
    trace_ids = selectors.run_item_trace_ids(project=project, runs=runs)
    item_scores, score_kinds, preference_rows = _scores_by_trace(project, trace_ids if has_traces else None)
    run_scores = _run_scores(project, [run.run_id for run in runs])
    costs = trace_selectors.trace_cost_totals(project=project, trace_ids=trace_ids) if has_traces else {}

    rows = _rows(runs, item_rows, item_scores, costs)
    if baseline is not None:
        _classify(rows, runs, baseline, score_kinds)
    summaries = [
        _summary(run, index, rows, score_kinds, run_scores.get(run.run_id, [])) for index, run in enumerate(runs)
    ]
    tests = _tests(rows, runs, baseline, score_kinds, method) if baseline is not None else []
    preferences, agreement = preferences_build(runs, baseline, preference_rows)
    return Comparison(
        runs=runs,
        baseline=baseline,
        method=method,
        score_kinds=score_kinds,
        rows=rows,
        summaries=summaries,
        tests=tests,
        preferences=preferences,
        preference_agreement=agreement,
    )


def _scores_by_trace(project: Project, trace_ids) -> tuple[dict, dict[str, ScoreKind], list]:
    """{trace_id: {name: value}} keeping the latest score per name, each name's kind, and the
    pairwise preference scores apart (newest first): they compare two runs, not one item's output."""
    latest: dict[tuple[str, str], Any] = {}
    types: dict[str, set[str]] = {}
    preference_rows = []
    if trace_ids is not None:  # a queryset: testing its truth would run it
        # The selector returns newest first, so the first score seen of a (trace, name) is the latest.
        for score in score_selectors.score_values_for_traces(project=project, trace_ids=trace_ids):
            if is_preference(score.pairwise):
                preference_rows.append(score)
                continue
            name = score.name
            seen = types.get(name)
            if seen is None:
                types[name] = {score.data_type}
            elif score.data_type not in seen:
                seen.add(score.data_type)
            latest.setdefault((score.trace_id, name), score)
    kinds = {name: _kind(types[name]) for name in sorted(types)}
    by_trace: dict[str, dict[str, Any]] = {}
    for (trace_id, name), score in latest.items():
        by_trace.setdefault(trace_id, {})[name] = _value(score, kinds[name])
    return by_trace, kinds, preference_rows


def _kind(data_types: set[str]) -> ScoreKind:
    if data_types == {"BOOLEAN"}:
        return "boolean"
    if data_types <= {"NUMERIC", "BOOLEAN"}:
        return "numeric"
    return "categorical"


def _value(score, kind: ScoreKind) -> Any:
    if kind == "categorical":
        if score.string_value is not None:
            return score.string_value
        return None if score.value is None else f"{score.value:g}"
    if score.value is not None and math.isfinite(score.value):
        number = float(score.value)
    elif score.data_type == "BOOLEAN" and score.string_value is not None:
        number = 1.0 if score.string_value.strip().lower() in ("true", "1") else 0.0
    else:
        return None
    return number != 0 if kind == "boolean" else number


def _run_scores(project: Project, run_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Run-level scores (`datasetRunId`), latest per name, in name order."""
    latest: dict[tuple[str, str], Any] = {}
    for score in score_selectors.score_list_for_runs(project=project, run_ids=run_ids):  # newest first
        latest.setdefault((score.dataset_run_id, score.name), score)
    result: dict[str, list[dict[str, Any]]] = {}
    for (run_id, name), score in sorted(latest.items()):
        value: Any = score.string_value if score.data_type in ("CATEGORICAL", "TEXT", "CORRECTION") else score.value
        if score.data_type == "BOOLEAN" and score.value is not None:
            value = score.value != 0
        result.setdefault(run_id, []).append(
            {"name": name, "value": value, "dataType": score.data_type, "comment": score.comment}
        )
    return result


def _rows(runs: list[ExperimentRun], item_rows: list[dict], item_scores: dict, costs: dict) -> list[Row]:
    column = {run.pk: index for index, run in enumerate(runs)}
    rows: dict[str, Row] = {}
    trials: dict[tuple[str, int], list[Trial]] = {}
    never = datetime.max
    for item in item_rows:
        key = item["item_key"]
        row = rows.get(key)
        linked = item["dataset_item_id"] is not None
        if row is None:
            row = rows[key] = Row(
                key=key,
                linked=linked,
                input=item["dataset_item__input"] if linked else item["input"],
                expected_output=item["dataset_item__expected_output"] if linked else item["expected_output"],
                cells=[None] * len(runs),
            )
        elif linked and not row.linked:
            row.linked = True
            row.input, row.expected_output = item["dataset_item__input"], item["dataset_item__expected_output"]
        trace_id = item["trace_id"]
        cost = item["cost"] if item["cost"] is not None else costs.get(trace_id)
        trials.setdefault((key, column[item["run_id"]]), []).append(
            Trial(
                trial=item["trial"],
                output=item["output"],
                trace_id=trace_id,
                latency_ms=item["latency_ms"],
                cost=cost,
                error=item["error"],
                scores=item_scores.get(trace_id, {}) if trace_id else {},
            )
        )
        # Dataset order first (item creation), then the earliest run of the item.
        created = item["dataset_item__created_at"]
        started = item["started_at"]
        candidate = (created is None, _naive(created) if created else never, _naive(started) if started else never, key)
        if not row.sort_key or candidate < row.sort_key:
            row.sort_key = candidate
    for (key, index), item_trials in trials.items():
        rows[key].cells[index] = _cell(sorted(item_trials, key=lambda trial: trial.trial))
    return sorted(rows.values(), key=lambda row: row.sort_key)


def _cell(trials: list[Trial]) -> Cell:
    """A run's trials of one item as one cell: what the per-item statistics work on."""
    first = trials[0]
    if len(trials) == 1:
        return Cell(
            output=first.output,
            trace_id=first.trace_id,
            latency_ms=first.latency_ms,
            cost=first.cost,
            error=first.error,
            scores=first.scores,
            trials=trials,
        )
    latencies = [trial.latency_ms for trial in trials if trial.latency_ms is not None]
    costs = [trial.cost for trial in trials if trial.cost is not None]
    scores: dict[str, Any] = {}
    spread: dict[str, float] = {}
    varies: set[str] = set()
    for name in sorted({name for trial in trials for name in trial.scores}):
        values = [trial.scores[name] for trial in trials if trial.scores.get(name) is not None]
        if not values:
            continue
        if any(isinstance(value, str) for value in values):  # categorical: the most frequent label
            counts = Counter(values)
            scores[name] = min(counts, key=lambda label: (-counts[label], label))
            if len(counts) > 1:
                varies.add(name)
            continue
        numbers = [float(value) for value in values]
        scores[name] = sum(numbers) / len(numbers)  # for a boolean score: the share of passing trials
        if len(numbers) > 1:
            spread[name] = float(np.std(numbers, ddof=1))
            if any(_changed(number, numbers[0]) for number in numbers[1:]):
                varies.add(name)
    return Cell(
        output=first.output,
        trace_id=first.trace_id,
        latency_ms=sum(latencies) / len(latencies) if latencies else None,
        cost=sum(costs, Decimal(0)) if costs else None,
        error=next((trial.error for trial in trials if trial.error), None),
        scores=scores,
        trials=trials,
        spread=spread,
        varies=varies,
    )


def _naive(moment: datetime) -> datetime:
    return moment.replace(tzinfo=None) if moment.tzinfo else moment


def _changed(candidate: float, baseline: float) -> bool:
    # The same tolerance as statistics._differences: rounding noise is not a change.
    return not math.isclose(candidate, baseline, rel_tol=1e-9, abs_tol=1e-12)


def _classify(rows: list[Row], runs: list[ExperimentRun], baseline: ExperimentRun, kinds: dict) -> None:
    base_column = runs.index(baseline)
    names = [name for name, kind in kinds.items() if kind != "categorical"]
    candidates = [(index, run) for index, run in enumerate(runs) if index != base_column]
    for row in rows:
        base = row.cells[base_column]
        if base is None:
            continue
        for index, run in candidates:
            cell = row.cells[index]
            if cell is None:
                continue
            deltas = {}
            for name in names:
                before, after = base.scores.get(name), cell.scores.get(name)
                if before is None or after is None:
                    continue
                # A difference within rounding noise is stored as 0: it is no change.
                delta = float(after) - float(before) if _changed(float(after), float(before)) else 0.0
                deltas[name] = delta
                if delta:
                    (row.improved if delta > 0 else row.regressed).add(name)
            if deltas:
                row.deltas[run.run_id] = deltas


def _resamples(n: int) -> int:
    return max(_MIN_RESAMPLES, min(_MAX_RESAMPLES, _DRAW_BUDGET // max(n, 1)))


def _summary(
    run: ExperimentRun, index: int, rows: list[Row], kinds: dict[str, ScoreKind], run_scores: list[dict]
) -> RunSummary:
    """A run's figures: scores per item (trials averaged first), cost and latency over every trial."""
    cells = [row.cells[index] for row in rows if row.cells[index] is not None]
    trials = [trial for cell in cells for trial in cell.trials]
    scores: dict[str, MeanCI] = {}
    categories: dict[str, list[tuple[str, int]]] = {}
    variation: dict[str, dict[str, Any]] = {}
    for name, kind in kinds.items():
        if kind == "categorical":
            categories[name] = Counter(
                trial.scores[name] for trial in trials if trial.scores.get(name) is not None
            ).most_common()
        else:
            values = [cell.scores[name] for cell in cells if cell.scores.get(name) is not None]
            data = np.asarray(values, dtype=float)
            scores[name] = mean_with_ci(data, resamples=_resamples(data.size))
        repeated = [cell for cell in cells if name in cell.spread or (kind == "categorical" and _scored_trials(cell, name) > 1)]
        if repeated:
            varying = sum(1 for cell in repeated if name in cell.varies)
            spreads = [cell.spread[name] for cell in repeated if name in cell.spread]
            variation[name] = {
                "items": len(repeated),  # items scored in two trials or more
                "varying": varying,
                "shareVarying": varying / len(repeated),
                "meanVariance": float(np.mean(np.square(spreads))) if spreads else None,
            }
    costs = [trial.cost for trial in trials if trial.cost is not None]
    cost_total = sum(costs, Decimal(0)) if costs else None
    latencies = [trial.latency_ms for trial in trials if trial.latency_ms is not None]
    return RunSummary(
        run=run,
        item_count=len(cells),
        trial_count=len(trials),
        error_count=sum(1 for trial in trials if trial.error),
        scores=scores,
        categories=categories,
        cost_total=cost_total,
        cost_mean=cost_total / len(costs) if costs else None,
        cost_n=len(costs),
        latency=percentiles(latencies, LATENCY_PERCENTILES),
        run_scores=run_scores,
        latency_n=len(latencies),
        max_trials=max((len(cell.trials) for cell in cells), default=1),
        variation=variation,
    )


def _scored_trials(cell: Cell, name: str) -> int:
    return sum(1 for trial in cell.trials if trial.scores.get(name) is not None)


def _tests(
    rows: list[Row], runs: list[ExperimentRun], baseline: ExperimentRun, kinds: dict[str, ScoreKind], method: str
) -> list[ScoreTest]:
    base_column = runs.index(baseline)
    tests = []
    for index, run in enumerate(runs):
        if index == base_column:
            continue
        for name, kind in kinds.items():
            if kind == "categorical":
                tests.append(
                    ScoreTest(
                        score=name,
                        kind=kind,
                        candidate=run,
                        result=None,
                        verdict="categorical score: no paired test; compare the value counts",
                        tone="unsure",
                    )
                )
                continue
            paired = paired_scores_of(rows, base_column, index, name)
            resamples = _resamples(len(paired.item_ids))
            repeated = any(
                cell is not None and cell.repeated for row in rows for cell in (row.cells[base_column], row.cells[index])
            )
            if kind == "boolean" and not repeated:
                result = paired_boolean_test(paired.baseline, paired.candidate, resamples=resamples)
            else:
                result = paired_numeric_test(paired.baseline, paired.candidate, method=method, resamples=resamples)
            verdict, tone = verdict_of(result)
            tests.append(ScoreTest(score=name, kind=kind, candidate=run, result=result, verdict=verdict, tone=tone))
    return tests


def paired_scores_of(rows: list[Row], base_column: int, column: int, name: str) -> PairedScores:
    """One score of two columns of the comparison, aligned on the items both runs scored."""
    before, after = {}, {}
    for row in rows:
        base, cell = row.cells[base_column], row.cells[column]
        if base is not None and cell is not None:
            before[row.key], after[row.key] = base.scores.get(name), cell.scores.get(name)
    return pair_scores(before, after)


def format_p(p: float | None) -> str:
    """p-values as people read them: two significant digits, and "<0.001" below that."""
    if p is None:
        return "n/a"
    if p < 0.001:
        return "p<0.001"
    return f"p={p:.2g}"


def verdict_of(result: PairedTestResult) -> tuple[str, Literal["good", "bad", "neutral", "unsure"]]:
    """The one-line reading of a paired test, and its tone (good / bad / neutral / unsure)."""
    n = result.n_pairs
    if n == 0:
        return "no items scored in both runs", "unsure"
    if result.too_few:
        changed = result.improved + result.regressed
        if result.method != "bootstrap" and changed < n:
            return f"too few changed items to tell ({changed} of {n} changed)", "unsure"
        return f"too few items to tell (n={n})", "unsure"
    if result.p_value is None or result.p_value >= ALPHA:
        return f"no significant difference ({format_p(result.p_value)})", "neutral"
    # Wilcoxon tests whether changes lean one way, which the rank-biserial sign tells; the other tests
    # are about the mean difference.
    direction = result.effect_size if result.method == "wilcoxon" else result.mean_difference
    if direction is None or direction == 0:
        return f"significant, no clear direction ({format_p(result.p_value)})", "neutral"
    if direction > 0:
        return f"candidate better ({format_p(result.p_value)})", "good"
    return f"candidate worse ({format_p(result.p_value)})", "bad"


def _float(value: Decimal | float | None) -> float | None:
    return None if value is None else float(value)
