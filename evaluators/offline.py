"""Evaluating experiment runs: a job per (evaluator version, run item), and run-level evaluators.

Platform runs name their evaluators when they start (`config["evaluators"]`); the runner's flush
hands each recorded item to `run_items_evaluate` through the experiments app's hook, so items are
judged as they are recorded. Any run, SDK or platform, can be evaluated afterwards with
`run_evaluate` (the backfill): items this evaluator version already judged are skipped.
"""

from __future__ import annotations

from dataclasses import asdict

from django.core.exceptions import ValidationError
from django.db import transaction

from evalsite.tenancy.models import Project
from evaluators.jobs import JobSummary, Target, jobs_create
from evaluators.models import EvaluatorStatus, JobTarget, SkipReason
from evaluators.services import assignments_clean, latest_versions
from experiments.models import ExperimentRun, RunItem


def evaluator_assignments_clean(*, project: Project, evaluators) -> list[dict]:
    """A run's `evaluators` (`[{evaluatorId, variableMapping?}]`) as stored in its config."""
    cleaned = assignments_clean(project=project, assignments=evaluators, field="evaluators")
    return [{"evaluatorId": a["evaluator"].pk, "variableMapping": a["variable_mapping"]} for a in cleaned]


def run_items_evaluate(*, project: Project, run: ExperimentRun, items: list[RunItem], evaluators: list[dict]) -> dict[str, JobSummary]:
    """Jobs for these items with each of `evaluators` (cleaned assignments); evaluator id → summary."""
    assignments = assignments_clean(project=project, assignments=evaluators, field="evaluators")
    versions = latest_versions(project=project, evaluator_ids=[a["evaluator"].pk for a in assignments])
    targets = [
        Target(kind=JobTarget.RUN_ITEM, id=str(item.pk), trace_id=item.trace_id, observation_id=item.observation_id)
        for item in items
        if item.trace_id
    ]
    summaries = {}
    for assignment in assignments:
        evaluator = assignment["evaluator"]
        paused = evaluator.status == EvaluatorStatus.PAUSED
        summaries[evaluator.pk] = jobs_create(
            project=project, version=versions[evaluator.pk], targets=targets,
            variable_mapping=assignment["variable_mapping"], run_id=run.pk,
            skip_reason=SkipReason.PAUSED if paused else None,
        )
    return summaries


@transaction.atomic
def run_evaluate(*, project: Project, run: ExperimentRun, evaluators) -> dict:
    """Backfill: judge every recorded item of the run (that has a trace) with each evaluator's
    latest version; items that version already judged are counted, not judged again."""
    if not isinstance(evaluators, list) or not evaluators:
        raise ValidationError({"evaluators": ["Give at least one {evaluatorId, variableMapping?}."]})
    items = list(RunItem.objects.filter(project=project, run=run).only("pk", "trace_id", "observation_id"))
    summaries = run_items_evaluate(project=project, run=run, items=items, evaluators=evaluators)
    return {
        "runId": run.run_id,
        "items": len(items),
        "evaluators": [
            {"evaluatorId": evaluator_id, "created": s.created, "alreadyEvaluated": s.already, "skipped": s.skipped}
            for evaluator_id, s in summaries.items()
        ],
        "jobsCreated": sum(s.created for s in summaries.values()),
    }


def summary_dict(summary: JobSummary) -> dict:
    return asdict(summary)
