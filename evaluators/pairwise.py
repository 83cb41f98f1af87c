"""Pairwise preference: an LLM judge sees two runs' outputs for the same dataset item and says which
is better (evaluators/PAIRWISE.md explains the method and its choices).

- The judge is an ordinary `llm_as_judge` evaluator whose prompt uses `{{output_a}}` and
  `{{output_b}}` (plus any source, `{{input}}`, `{{expected_output}}`…) and whose output definition is
  CATEGORICAL with the categories A, B and tie (any case): "A" and "B" are *positions* in the prompt.
- Position bias: which run is shown as output_a is drawn per pair from a hash of the two run items'
  ids (reproducible); with `bothOrders` the pair is judged in both orders, and two answers that
  disagree count as a tie (`disagreement: true` in the score's metadata).
- The stored score is about *runs*, not positions: "A" is the baseline run, "B" the candidate,
  "tie" neither; it is written on the candidate's run item trace, once per pair (one ledger job per
  evaluator version and pair), with the judge's reasoning as its comment.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from evalsite.llm.client import ChatResult
from evalsite.tenancy.models import Project
from evaluators.context import PairContext, as_text, extract, fill, resolve_variables
from evaluators.definitions import PAIR_VARIABLES
from evaluators.jobs import Target, jobs_create
from evaluators.judge import JudgeScore, judge_messages
from evaluators.models import Evaluator, EvaluatorKind, EvaluatorStatus, JobTarget, SkipReason
from evaluators.services import latest_versions
from experiments.models import ExperimentRun, RunItem

# Stored values: A = the baseline run won, B = the candidate run won (the same letters as the
# positions a judge answers with, but about runs: the positions are shuffled per pair).
BASELINE, CANDIDATE, TIE = "A", "B", "tie"
WINNER_NAMES = {BASELINE: "baseline", CANDIDATE: "candidate", TIE: "tie"}


@dataclass
class PairOrder:
    """One presentation of a pair to the judge."""

    candidate_first: bool  # the candidate's output is output_a
    messages: list[dict]
    result: ChatResult | None = None
    position: str | None = None  # the judge's answer: A, B or tie, by position
    reasoning: str | None = None

    @property
    def verdict(self) -> str | None:
        """The answer about runs: A (baseline), B (candidate) or tie."""
        if self.position is None or self.position == TIE:
            return self.position
        shown_first = CANDIDATE if self.candidate_first else BASELINE
        shown_second = BASELINE if self.candidate_first else CANDIDATE
        return shown_first if self.position == "A" else shown_second


@dataclass
class PairJudging:
    context: PairContext
    categories: dict[str, str]  # canonical A / B / tie → the definition's spelling
    orders: list[PairOrder] = field(default_factory=list)

    @property
    def both_orders(self) -> bool:
        return len(self.orders) == 2

    @property
    def disagreement(self) -> bool:
        return len({order.verdict for order in self.orders}) > 1

    @property
    def verdict(self) -> str:
        """One order's answer; with both orders, their common answer, or a tie when they differ."""
        return TIE if self.disagreement else self.orders[0].verdict


# -- the evaluator ----------------------------------------------------------------------------------


def canonical_category(category: str) -> str | None:
    folded = category.strip().casefold()
    return {"a": "A", "b": "B", "tie": TIE}.get(folded)


def pair_categories(definition: dict) -> dict[str, str] | None:
    """canonical → spelled category when the output definition is exactly A / B / tie, else None."""
    if definition.get("dataType") != "CATEGORICAL" or definition.get("shouldAllowMultipleMatches"):
        return None
    categories = definition.get("categories") or []
    spelled = {canonical_category(c): c for c in categories}
    if len(categories) != 3 or set(spelled) != {"A", "B", TIE}:
        return None
    return spelled


def pairwise_evaluator_clean(*, project: Project, evaluator_id: Any):
    """The evaluator and its latest version, when it can judge pairs; ValidationError keyed
    `evaluator_id` otherwise."""
    if not isinstance(evaluator_id, str) or not evaluator_id:
        raise ValidationError({"evaluator_id": ["evaluatorId is required."]})
    evaluator = Evaluator.objects.filter(project=project, pk=evaluator_id, deleted_at__isnull=True).first()
    if evaluator is None:
        raise ValidationError({"evaluator_id": [f"No evaluator {evaluator_id!r} in this project."]})
    if evaluator.kind != EvaluatorKind.LLM_AS_JUDGE:
        raise ValidationError({"evaluator_id": ["A pairwise evaluator is an LLM judge (type llm_as_judge)."]})
    version = latest_versions(project=project, evaluator_ids=[evaluator.pk])[evaluator.pk]
    missing = [name for name in PAIR_VARIABLES if name not in version.variables]
    if missing:
        raise ValidationError({"evaluator_id": [
            "A pairwise evaluator's prompt uses {{output_a}} and {{output_b}}; this one lacks "
            + ", ".join("{{" + name + "}}" for name in missing) + "."
        ]})
    if pair_categories(version.output_definition) is None:
        raise ValidationError({"evaluator_id": [
            "A pairwise evaluator's output definition is CATEGORICAL with exactly the categories A, B and tie "
            "(one match)."
        ]})
    return evaluator, version


# -- judging (no database: these run on the executor's pool threads or before them) -----------------


def candidate_first(baseline_item_id: int, candidate_item_id: int) -> bool:
    """Whether the candidate is shown as output_a: a coin drawn from the pair's ids, so the same
    pair is always shown the same way (a retried job sends the same prompt) and over many pairs each
    run is first about half the time."""
    digest = hashlib.sha256(f"evalsite-pairwise:{baseline_item_id}:{candidate_item_id}".encode()).digest()
    return digest[0] & 1 == 1


def pair_judging(*, version, mapping: list | None, context: PairContext, both_orders: bool) -> PairJudging:
    """The judge's messages for the pair: one order, or the drawn order then the other one.

    Variables other than the two outputs are filled from the candidate's item (the dataset item's
    input and expected output are the same for both runs). A mapping entry for output_a / output_b
    only picks a `jsonPath` inside each run's output."""
    others = [name for name in version.variables if name not in PAIR_VARIABLES]
    values = resolve_variables(others, mapping, context.candidate)
    paths = {entry["variable"]: entry.get("jsonPath") for entry in mapping or []}
    first = candidate_first(context.baseline_item_id, context.candidate_item_id)
    outputs = {True: context.candidate.output, False: context.baseline.output}
    judging = PairJudging(context=context, categories=pair_categories(version.output_definition))
    for shown_first in [first, not first] if both_orders else [first]:
        shown = {
            "output_a": as_text(extract(outputs[shown_first], paths.get("output_a"))),
            "output_b": as_text(extract(outputs[not shown_first], paths.get("output_b"))),
        }
        messages = judge_messages(fill(version.prompt, {**values, **shown}), version.output_definition)
        judging.orders.append(PairOrder(candidate_first=shown_first, messages=messages))
    return judging


def combined_result(results: list[ChatResult]) -> ChatResult:
    """The calls of both orders as one: tokens and latency summed, the answers kept in order."""
    if len(results) == 1:
        return results[0]

    def total(name: str) -> int | None:
        values = [getattr(result, name) for result in results]
        return None if any(value is None for value in values) else sum(values)

    return ChatResult(
        text="\n\n".join(f"[order {index}] {result.text}" for index, result in enumerate(results, 1)),
        model=results[0].model,
        input_tokens=total("input_tokens"),
        output_tokens=total("output_tokens"),
        total_tokens=total("total_tokens"),
        latency_ms=sum(result.latency_ms for result in results),
        attempts=sum(result.attempts for result in results),
        raw={"orders": [result.raw for result in results]},
    )


def pair_score(judging: PairJudging) -> JudgeScore:
    """The preference as a CATEGORICAL score value (spelled as the definition spells it) with the
    judge's reasoning; with both orders, each order's answer and reasoning."""
    if not judging.both_orders:
        reasoning = judging.orders[0].reasoning
    else:
        lines = []
        for index, order in enumerate(judging.orders, 1):
            shown = "candidate shown first" if order.candidate_first else "baseline shown first"
            lines.append(f"Order {index} ({shown}): {WINNER_NAMES[order.verdict]}. {order.reasoning or ''}".strip())
        if judging.disagreement:
            lines.append("The two orders disagree: counted as a tie.")
        reasoning = "\n".join(lines)
    return JudgeScore("CATEGORICAL", [judging.categories[judging.verdict]], reasoning)


def pair_metadata(judging: PairJudging) -> dict:
    """What the comparison reads back from the score (`metadata.pairwise`), and what it shows."""
    context = judging.context
    return {
        "baselineRunId": context.baseline_run_id,
        "candidateRunId": context.candidate_run_id,
        "baselineRunItemId": context.baseline_item_id,
        "candidateRunItemId": context.candidate_item_id,
        "baselineTraceId": context.baseline_trace_id,
        "itemKey": context.item_key,
        "trial": context.trial,
        "winner": WINNER_NAMES[judging.verdict],
        "bothOrders": judging.both_orders,
        "disagreement": judging.disagreement,
        "orders": [
            {"candidateShownAs": "A" if order.candidate_first else "B", "answer": order.position,
             "winner": WINNER_NAMES[order.verdict]}
            for order in judging.orders
        ],
    }


# -- starting a pairwise evaluation -----------------------------------------------------------------


def run_item_pairs(*, project: Project, baseline: ExperimentRun, candidate: ExperimentRun) -> tuple[list[tuple[dict, dict]], int, int]:
    """(baseline item, candidate item) per dataset item and trial number both runs have, in item
    order; and how many items of each run found no partner. The candidate's item needs a trace (the
    score goes on it)."""
    rows = RunItem.objects.filter(project=project, run__in=[baseline.pk, candidate.pk]).order_by("item_key", "trial")
    by_run: dict[int, dict[tuple[str, int], dict]] = {baseline.pk: {}, candidate.pk: {}}
    for row in rows.values("pk", "run_id", "item_key", "trial", "trace_id", "observation_id"):
        by_run[row["run_id"]][(row["item_key"], row["trial"])] = row
    base, cand = by_run[baseline.pk], by_run[candidate.pk]
    pairs = [(base[key], cand[key]) for key in cand if key in base and cand[key]["trace_id"]]
    paired = {(b["item_key"], b["trial"]) for b, _ in pairs}
    return pairs, len(set(base) - paired), len(set(cand) - paired)


@transaction.atomic
def run_pairwise_evaluate(
    *, project: Project, run: ExperimentRun, baseline_run_id: Any, evaluator_id: Any, both_orders: Any = False
) -> dict:
    """Judge `run` (the candidate, B) against the baseline run (A) item by item: one ledger job per
    pair of run items, so a pair is judged, and scored, once per evaluator version."""
    if not isinstance(baseline_run_id, str) or not baseline_run_id:
        raise ValidationError({"baseline_run_id": ["baselineRunId is required."]})
    baseline = ExperimentRun.objects.filter(project=project, run_id=baseline_run_id).first()
    if baseline is None:
        raise ValidationError({"baseline_run_id": [f"No experiment run {baseline_run_id!r} in this project."]})
    if baseline.pk == run.pk:
        raise ValidationError({"baseline_run_id": ["The baseline must be another run than the candidate."]})
    if baseline.dataset_id and run.dataset_id and baseline.dataset_id != run.dataset_id:
        raise ValidationError({"baseline_run_id": ["The baseline ran on another dataset; pairs need the same items."]})
    if not isinstance(both_orders, bool):
        raise ValidationError({"both_orders": ["bothOrders must be true or false."]})
    evaluator, version = pairwise_evaluator_clean(project=project, evaluator_id=evaluator_id)
    pairs, baseline_only, candidate_only = run_item_pairs(project=project, baseline=baseline, candidate=run)
    if not pairs:
        raise ValidationError({"baseline_run_id": ["The two runs have no item (and trial) in common."]})
    targets = [
        Target(kind=JobTarget.ITEM_PAIR, id=f"{base['pk']}:{cand['pk']}", trace_id=cand["trace_id"])
        for base, cand in pairs
    ]
    summary = jobs_create(
        project=project, version=version, targets=targets, run_id=run.pk, options={"bothOrders": both_orders},
        skip_reason=SkipReason.PAUSED if evaluator.status == EvaluatorStatus.PAUSED else None,
    )
    return {
        "runId": run.run_id,
        "baselineRunId": baseline.run_id,
        "evaluatorId": evaluator.pk,
        "evaluatorVersion": version.version,
        "bothOrders": both_orders,
        "pairs": len(pairs),
        "unpaired": {"baseline": baseline_only, "candidate": candidate_only},
        "created": summary.created,
        "alreadyEvaluated": summary.already,
        "skipped": summary.skipped,
    }
