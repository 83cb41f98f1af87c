"""Online evaluation: rules judge live traces and observations (evaluators/README.md, "Online").

1. After an ingestion request commits, `ingested_hand_over` (registered by the ingestion app in
   its `after_ingest` hook) enqueues `match_ingested` with the request's trace and observation
   ids, when the project has an enabled rule. Nothing is matched or judged in the request.
2. `match_ingested` (a worker) loads the objects once and asks every enabled rule: do the filters
   hold (`filters.filters_match` over the object's facts), is it sampled in (a hash of the rule and
   the object id, so the decision is reproducible and explainable), then creates one job per
   (evaluator version, object) — the ledger's unique constraint makes a second impossible — due
   `delay` seconds after now. An object updated again before its job ran pushes the job's
   `not_before` forward: it is judged `delay` after its last update, once.
3. Due jobs are handed to workers right away (no delay), or by the dispatcher loop of each worker
   cluster (`dispatch_due`, every second) once their delay is over.

Judges' own traces live in the environment `langfuse-evaluation`; they are written by the executor
directly, never through ingestion, and `langfuse-*` environments never match a rule anyway.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from evalsite.db import skip_locked
from evalsite.jobs import enqueue_after_commit
from evalsite.jobs.cluster_loops import ClusterLoop
from evalsite.tenancy.models import Project
from evaluators.filters import filters_match
from evaluators.jobs import Target, due_jobs_q, jobs_create, jobs_enqueue
from evaluators.models import (
    EvaluationJob,
    EvaluationJobStatus,
    EvaluationRule,
    EvaluatorStatus,
    JobTarget,
    RuleTarget,
)
from evaluators.services import latest_versions
from experiments.models import RunItem
from traces.models import Observation, Trace

logger = logging.getLogger(__name__)

MATCH_TASK = "evaluators.tasks.match_ingested"
RULES_CACHE_SECONDS = 2.0
DISPATCH_SECONDS = 1.0
DISPATCH_LIMIT = 500

_enabled_cache: dict[str, tuple[float, bool]] = {}


def project_has_enabled_rules(project_id: str) -> bool:
    """Cached for RULES_CACHE_SECONDS per process: the ingestion request path pays at most one
    indexed query every few seconds per project; a rule enabled meanwhile applies seconds later."""
    now = time.monotonic()
    cached = _enabled_cache.get(project_id)
    if cached is not None and now - cached[0] < RULES_CACHE_SECONDS:
        return cached[1]
    enabled = EvaluationRule.objects.filter(project_id=project_id, enabled=True).exists()
    _enabled_cache[project_id] = (now, enabled)
    return enabled


def ingested_hand_over(*, project: Project, result: Any) -> None:
    """After an ingestion commit: enqueue matching for the stored ids (never match here)."""
    if not (result.trace_ids or result.observation_ids) or not project_has_enabled_rules(project.pk):
        return
    # Called from on_commit already; enqueue_after_commit outside a transaction sends at once.
    enqueue_after_commit(MATCH_TASK, project.pk, list(result.trace_ids), list(result.observation_ids))


# -- facts and decisions ---------------------------------------------------------------------------


def sampled_in(rule_id: str, object_id: str, sampling: float) -> bool:
    """Reproducible: the same rule and object always get the same answer."""
    if sampling >= 1:
        return True
    if sampling <= 0:
        return False
    digest = hashlib.sha256(f"{rule_id}:{object_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < sampling


def _experiment_facts(item: RunItem | None, observation_id: str | None) -> dict:
    if item is None:
        return {"experimentId": None, "datasetId": None, "isExperimentItemRootSpan": False}
    is_root = item.observation_id == observation_id if observation_id is not None else True
    return {
        "experimentId": item.run.run_id,
        "datasetId": item.run.dataset_id,
        "isExperimentItemRootSpan": is_root,
    }


def trace_facts(trace: Trace, item: RunItem | None) -> dict:
    return {
        "name": trace.name, "traceName": trace.name, "environment": trace.environment, "version": trace.version,
        "release": trace.release, "userId": trace.user_id, "sessionId": trace.session_id, "tags": trace.tags or [],
        "metadata": trace.metadata or {}, **_experiment_facts(item, None),
    }


def observation_facts(observation: Observation, trace: Trace | None, item: RunItem | None) -> dict:
    calls = observation.output.get("tool_calls") if isinstance(observation.output, dict) else None
    calls = calls if isinstance(calls, list) else []
    names = [c.get("function", {}).get("name") or c.get("name") for c in calls if isinstance(c, dict)]
    return {
        "type": observation.type, "name": observation.name, "environment": observation.environment,
        "level": observation.level, "version": observation.version, "release": observation.release,
        "model": observation.model,
        "traceName": trace.name if trace else None, "userId": trace.user_id if trace else None,
        "sessionId": trace.session_id if trace else None, "tags": (trace.tags or []) if trace else [],
        "metadata": observation.metadata or {},
        "isRootObservation": observation.parent_observation_id is None,
        "parentObservationId": observation.parent_observation_id,
        "toolCalls": len(calls), "calledToolNames": [n for n in names if n],
        **_experiment_facts(item, observation.observation_id),
    }


@dataclass
class Candidate:
    target: Target
    facts: dict
    updated_at: datetime


def candidates(*, project: Project, rule_target: str, trace_ids: list[str], observation_ids: list[str]) -> list[Candidate]:
    """The objects a rule of `rule_target` may judge among these ids, with their facts."""
    found = []
    if rule_target == RuleTarget.TRACE:
        traces = list(Trace.objects.filter(project=project, trace_id__in=trace_ids))
        items = _items_by_trace(project, [t.trace_id for t in traces])
        for trace in traces:
            target = Target(kind=JobTarget.TRACE, id=trace.trace_id, trace_id=trace.trace_id)
            found.append(Candidate(target, trace_facts(trace, items.get(trace.trace_id)), trace.updated_at))
        return found
    observations = list(Observation.objects.filter(project=project, observation_id__in=observation_ids))
    trace_rows = Trace.objects.filter(project=project, trace_id__in={o.trace_id for o in observations})
    traces = {t.trace_id: t for t in trace_rows}
    items = _items_by_trace(project, list(traces))
    for observation in observations:
        target = Target(kind=JobTarget.OBSERVATION, id=observation.observation_id, trace_id=observation.trace_id,
                        observation_id=observation.observation_id)
        facts = observation_facts(observation, traces.get(observation.trace_id), items.get(observation.trace_id))
        found.append(Candidate(target, facts, observation.updated_at))
    return found


def _items_by_trace(project: Project, trace_ids: list[str]) -> dict[str, RunItem]:
    items = RunItem.objects.filter(project=project, trace_id__in=trace_ids).select_related("run")
    return {item.trace_id: item for item in items}


def decide(rule: EvaluationRule, candidate: Candidate) -> tuple[str, str | None]:
    """("match", None), ("filtered", why) or ("sampled_out", why) for one rule and object."""
    environment = candidate.facts.get("environment") or ""
    if environment.startswith("langfuse-"):
        return "filtered", f"environment {environment!r} is the platform's own (judges' traces are never evaluated)"
    ok, why = filters_match(rule.filter, candidate.facts)
    if not ok:
        return "filtered", why
    if not sampled_in(rule.pk, candidate.target.id, rule.sampling):
        return "sampled_out", f"sampled out at sampling {rule.sampling:g}"
    return "match", None


# -- matching (a worker) -----------------------------------------------------------------------------


def enabled_rules(*, project: Project) -> list[EvaluationRule]:
    return list(
        EvaluationRule.objects.filter(project=project, enabled=True).prefetch_related("assignments__evaluator")
    )


@transaction.atomic
def ingested_match(*, project: Project, trace_ids: list[str], observation_ids: list[str]) -> int:
    """Create the jobs the enabled rules ask for on these objects; returns how many were created."""
    rules = enabled_rules(project=project)
    if not rules:
        return 0
    evaluator_ids = {a.evaluator_id for rule in rules for a in rule.assignments.all()}
    versions = latest_versions(project=project, evaluator_ids=list(evaluator_ids))
    by_target: dict[str, list[Candidate]] = {}
    created = 0
    now = timezone.now()
    for rule in rules:
        if rule.target not in by_target:
            by_target[rule.target] = candidates(
                project=project, rule_target=rule.target, trace_ids=trace_ids, observation_ids=observation_ids
            )
        matched = [c for c in by_target[rule.target] if decide(rule, c)[0] == "match"]
        if not matched:
            continue
        not_before = now + timedelta(seconds=rule.delay_seconds) if rule.delay_seconds else None
        for assignment in rule.assignments.all():
            evaluator = assignment.evaluator
            if evaluator.deleted_at is not None or assignment.evaluator_id not in versions:
                continue
            version = versions[assignment.evaluator_id]
            targets = [c.target for c in matched]
            summary = jobs_create(
                project=project, version=version, targets=targets, variable_mapping=assignment.variable_mapping,
                rule_id=rule.pk, not_before=not_before,
                skip_reason="paused" if evaluator.status == EvaluatorStatus.PAUSED else None,
            )
            created += summary.created
            if not_before is not None and summary.already:
                # Updated again before it was judged: judge it `delay` after this update instead.
                EvaluationJob.objects.filter(
                    project=project, evaluator_version=version, target_id__in=[t.id for t in targets],
                    status=EvaluationJobStatus.QUEUED, heartbeat_at__isnull=True,
                ).update(not_before=not_before)
    return created


# -- the dispatcher ------------------------------------------------------------------------------------


def dispatch_due(*, limit: int = DISPATCH_LIMIT) -> list[int]:
    """Hand the queued jobs whose delay (or retry wait) is over to workers; returns their pks."""
    now = timezone.now()
    with transaction.atomic():
        due = skip_locked(EvaluationJob.objects.filter(due_jobs_q(now)).order_by("not_before", "pk"))
        pks = list(due.values_list("pk", flat=True)[:limit])
        if pks:
            jobs_enqueue(pks)
    return pks


DISPATCHER = ClusterLoop(name="evaluation-dispatcher", step=dispatch_due, seconds=lambda: DISPATCH_SECONDS)
