"""Reads: evaluators, versions, rules, jobs, spend, and the contexts jobs are judged on."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal

from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from evalsite.tenancy.models import Project
from evaluators.context import Context, PairContext
from evaluators.models import (
    EvaluationJob,
    EvaluationRule,
    Evaluator,
    EvaluatorVersion,
    JobTarget,
    ProjectEvaluationBudget,
)
from experiments.models import RunItem
from traces.models import Observation, Trace


def evaluator_list(*, project: Project, kinds: tuple[str, ...] | None = None) -> QuerySet[Evaluator]:
    evaluators = Evaluator.objects.filter(project=project, deleted_at__isnull=True)
    if kinds is not None:
        evaluators = evaluators.filter(kind__in=kinds)
    return evaluators.order_by("-created_at", "-id")


def evaluator_version_list(*, project: Project, evaluator: Evaluator) -> QuerySet[EvaluatorVersion]:
    return EvaluatorVersion.objects.filter(project=project, evaluator=evaluator).select_related("created_by").order_by("-version")


def evaluation_rule_list(*, project: Project) -> QuerySet[EvaluationRule]:
    return EvaluationRule.objects.filter(project=project).prefetch_related("assignments").order_by("-created_at", "-id")


def evaluation_job_list(*, project: Project) -> QuerySet[EvaluationJob]:
    return EvaluationJob.objects.filter(project=project)


# -- spend and budgets ---------------------------------------------------------------------------


def _month_start(now: datetime | None = None) -> datetime:
    now = (now or timezone.now()).astimezone(UTC)
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def spend_this_month(*, project: Project, rule_id: str | None = None) -> Decimal:
    """What the project's judges (or one rule's) cost since the start of the UTC month."""
    jobs = EvaluationJob.objects.filter(project=project, finished_at__gte=_month_start(), cost__isnull=False)
    if rule_id is not None:
        jobs = jobs.filter(rule_id=rule_id)
    return jobs.aggregate(total=Sum("cost"))["total"] or Decimal(0)


def project_budget(*, project: Project) -> Decimal | None:
    budget = ProjectEvaluationBudget.objects.filter(project=project).first()
    return budget.monthly_budget if budget is not None else None


def project_over_budget(*, project: Project) -> bool:
    budget = project_budget(project=project)
    return budget is not None and spend_this_month(project=project) >= budget


def spend_by(
    *, project: Project, since: datetime | None = None, evaluator_id: str | None = None, rule_id: str | None = None
) -> dict[str, list[dict]]:
    """Spend per evaluator, per evaluator version and per rule (the admin's budget, evaluator and
    rule pages), optionally only one evaluator's or one rule's jobs."""
    jobs = EvaluationJob.objects.filter(project=project, cost__isnull=False, finished_at__gte=since or _month_start())
    if evaluator_id is not None:
        jobs = jobs.filter(evaluator_id=evaluator_id)
    if rule_id is not None:
        jobs = jobs.filter(rule_id=rule_id)
    return {
        "evaluator": list(jobs.values("evaluator_id", "evaluator__name").annotate(cost=Sum("cost")).order_by("-cost")),
        "version": list(
            jobs.values("evaluator_version_id", "evaluator__name", "evaluator_version__version")
            .annotate(cost=Sum("cost")).order_by("-cost")
        ),
        "rule": list(jobs.filter(rule__isnull=False).values("rule_id", "rule__name").annotate(cost=Sum("cost")).order_by("-cost")),
    }


def evaluator_spend_by_day(*, project: Project, from_timestamp: datetime, to_timestamp: datetime) -> list[dict]:
    """What each evaluator's calls cost per UTC day of [from, to), from the job ledger (a job's
    cost counts on the day it finished): rows {day, evaluator_id, evaluator_name, cost, jobs},
    by day then evaluator name. One query on the (project, status, created_at) ledger."""
    rows = (
        EvaluationJob.objects.filter(
            project=project, cost__isnull=False, finished_at__gte=from_timestamp, finished_at__lt=to_timestamp
        )
        .annotate(day=TruncDate("finished_at", tzinfo=UTC))
        .values("day", "evaluator_id", "evaluator__name")
        .annotate(cost=Sum("cost"), jobs=Count("id"))
        .order_by("day", "evaluator__name", "evaluator_id")
    )
    return [
        {"day": row["day"], "evaluator_id": row["evaluator_id"], "evaluator_name": row["evaluator__name"],
         "cost": row["cost"], "jobs": row["jobs"]}
        for row in rows
    ]


# -- what jobs are judged on -----------------------------------------------------------------------


def _latency_ms(start, end) -> float | None:
    if start is None or end is None:
        return None
    return max((end - start).total_seconds() * 1000, 0.0)


def _tool_calls(observation: Observation):
    """Tool calls an OpenAI-style generation's output carries (`tool_calls` of the message)."""
    output = observation.output
    if isinstance(output, dict):
        calls = output.get("tool_calls")
        if calls is None and isinstance(output.get("message"), dict):
            calls = output["message"].get("tool_calls")
        return calls
    return None


def _experiment_items(*, project: Project, trace_ids: list[str]) -> dict[str, RunItem]:
    """trace id → the run item recorded on it (an experiment item's trace)."""
    items = RunItem.objects.filter(project=project, trace_id__in=trace_ids).select_related("dataset_item", "run")
    return {item.trace_id: item for item in items}


def _item_context(item: RunItem, **overrides) -> dict:
    metadata = item.dataset_item.metadata if item.dataset_item is not None else None
    extra = dict(item.input) if isinstance(item.input, dict) else {}
    return {
        "input": item.input,
        "output": item.output,
        "expected_output": item.expected_output,
        "experiment_item_metadata": metadata,
        "latency_ms": item.latency_ms,
        "cost": item.cost,
        "extra": extra,
        **overrides,
    }


def contexts_for_jobs(*, project: Project, jobs: list[EvaluationJob]) -> dict[int, Context | PairContext | None]:
    """job pk → what it judges, loaded in a few queries whatever the number of jobs; None when the
    target is gone."""
    by_kind: dict[str, list[EvaluationJob]] = defaultdict(list)
    for job in jobs:
        by_kind[job.target_kind].append(job)
    contexts: dict[int, Context | PairContext | None] = {job.pk: None for job in jobs}

    if by_kind[JobTarget.RUN_ITEM]:
        items = RunItem.objects.filter(
            project=project, pk__in=[int(j.target_id) for j in by_kind[JobTarget.RUN_ITEM]]
        ).select_related("dataset_item")
        items = {str(item.pk): item for item in items}
        for job in by_kind[JobTarget.RUN_ITEM]:
            item = items.get(job.target_id)
            if item is not None:
                contexts[job.pk] = Context(**_item_context(item, environment="experiment"))

    if by_kind[JobTarget.ITEM_PAIR]:
        contexts.update(_pair_contexts(project=project, jobs=by_kind[JobTarget.ITEM_PAIR]))

    if by_kind[JobTarget.TRACE]:
        ids = [j.target_id for j in by_kind[JobTarget.TRACE]]
        traces = {t.trace_id: t for t in Trace.objects.filter(project=project, trace_id__in=ids)}
        experiment = _experiment_items(project=project, trace_ids=ids)
        for job in by_kind[JobTarget.TRACE]:
            trace = traces.get(job.target_id)
            if trace is None:
                continue
            base = {"input": trace.input, "output": trace.output, "metadata": trace.metadata, "environment": trace.environment}
            item = experiment.get(trace.trace_id)
            if item is not None:
                base = {**_item_context(item), **base}
            contexts[job.pk] = Context(**base)

    if by_kind[JobTarget.OBSERVATION]:
        ids = [j.target_id for j in by_kind[JobTarget.OBSERVATION]]
        observations = {o.observation_id: o for o in Observation.objects.filter(project=project, observation_id__in=ids)}
        experiment = _experiment_items(project=project, trace_ids=[o.trace_id for o in observations.values()])
        for job in by_kind[JobTarget.OBSERVATION]:
            observation = observations.get(job.target_id)
            if observation is None:
                continue
            base = {
                "input": observation.input,
                "output": observation.output,
                "metadata": observation.metadata,
                "tool_calls": _tool_calls(observation),
                "latency_ms": _latency_ms(observation.start_time, observation.end_time),
                "cost": observation.total_cost,
                "environment": observation.environment,
            }
            item = experiment.get(observation.trace_id)
            if item is not None and item.observation_id == observation.observation_id:
                item_fields = _item_context(item)
                base.update(
                    expected_output=item_fields["expected_output"],
                    experiment_item_metadata=item_fields["experiment_item_metadata"],
                    extra=item_fields["extra"],
                )
            contexts[job.pk] = Context(**base)
    return contexts


def contexts_for_targets(*, project: Project, targets: list[tuple[str, str]]) -> list[Context | None]:
    """What a job on each (target kind, target id) would see, in the same few queries as
    `contexts_for_jobs` (the admin's "try it" and rule preview). The probes are never saved."""
    probes = [
        EvaluationJob(pk=index, project=project, target_kind=kind, target_id=target_id)
        for index, (kind, target_id) in enumerate(targets)
    ]
    contexts = contexts_for_jobs(project=project, jobs=probes)
    return [contexts[probe.pk] for probe in probes]


def _pair_ids(target_id: str) -> tuple[int, int] | None:
    """A pair job's target id, "<baseline run item pk>:<candidate run item pk>", as the two pks."""
    baseline, _, candidate = target_id.partition(":")
    return (int(baseline), int(candidate)) if baseline.isdigit() and candidate.isdigit() else None


def _pair_contexts(*, project: Project, jobs: list[EvaluationJob]) -> dict[int, PairContext | None]:
    """job pk → the two run items it compares, both read in one query; None when either is gone."""
    pairs = {job.pk: _pair_ids(job.target_id) for job in jobs}
    pks = {pk for pair in pairs.values() if pair for pk in pair}
    items = {
        item.pk: item
        for item in RunItem.objects.filter(project=project, pk__in=pks).select_related("dataset_item", "run")
    }
    contexts: dict[int, PairContext | None] = {}
    for job_pk, pair in pairs.items():
        baseline, candidate = (items.get(pair[0]), items.get(pair[1])) if pair else (None, None)
        if baseline is None or candidate is None:
            contexts[job_pk] = None
            continue
        contexts[job_pk] = PairContext(
            baseline=Context(**_item_context(baseline, environment="experiment")),
            candidate=Context(**_item_context(candidate, environment="experiment")),
            item_key=candidate.item_key,
            trial=candidate.trial,
            baseline_run_id=baseline.run.run_id,
            candidate_run_id=candidate.run.run_id,
            baseline_item_id=baseline.pk,
            candidate_item_id=candidate.pk,
            baseline_trace_id=baseline.trace_id,
        )
    return contexts


def run_evaluation_progress(*, project: Project, runs: list) -> dict[int, dict]:
    """run pk → {"total", "done", "failed", "skipped"} of its evaluation jobs, in one query."""
    from django.db.models import Count

    counts: dict[int, dict] = {run.pk: {"total": 0, "done": 0, "failed": 0, "skipped": 0} for run in runs}
    rows = (
        EvaluationJob.objects.filter(project=project, run__in=[run.pk for run in runs])
        .values("run_id", "status").annotate(n=Count("id")).order_by()
    )
    names = {"completed": "done", "failed": "failed", "skipped": "skipped"}
    for row in rows:
        entry = counts[row["run_id"]]
        entry["total"] += row["n"]
        if row["status"] in names:
            entry[names[row["status"]]] += row["n"]
    return counts
