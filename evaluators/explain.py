""""Why didn't it fire?": for one trace, every enabled rule's decision on the trace (or on each of
its observations), and the state of any job it made. Read-only; it re-runs the same filter and
sampling decisions the matcher makes, so what it says is what the matcher did (or will do)."""

from __future__ import annotations

from django.utils import timezone

from evalsite.tenancy.models import Project
from evaluators.budgets import budget_state
from evaluators.models import EvaluationJob, EvaluatorStatus
from evaluators.online import candidates, decide, enabled_rules
from traces.models import Observation


def trace_rule_decisions(*, project: Project, trace_id: str) -> list[dict]:
    """One entry per (enabled rule, object of the trace it targets, assigned evaluator)."""
    rules = enabled_rules(project=project)
    if not rules:
        return []
    observation_ids = list(Observation.objects.filter(project=project, trace_id=trace_id).values_list("observation_id", flat=True))
    by_target = {
        target: candidates(project=project, rule_target=target, trace_ids=[trace_id], observation_ids=observation_ids)
        for target in {rule.target for rule in rules}
    }
    jobs = {
        (job.rule_id, job.evaluator_id, job.target_id): job
        for job in EvaluationJob.objects.filter(project=project, trace_id=trace_id).order_by("created_at")
    }
    now = timezone.now()
    decisions = []
    for rule in rules:
        budget = budget_state(project=project, rule=rule)
        project_budget = budget_state(project=project)
        for candidate in by_target[rule.target]:
            verdict, why = decide(rule, candidate)
            for assignment in rule.assignments.all():
                evaluator = assignment.evaluator
                entry = {
                    "ruleId": rule.pk, "ruleName": rule.name, "target": rule.target,
                    "objectId": candidate.target.id, "evaluatorId": evaluator.pk, "evaluatorName": evaluator.name,
                    "decision": verdict, "reason": why, "jobId": None, "scoreId": None,
                }
                job = jobs.get((rule.pk, evaluator.pk, candidate.target.id))
                if verdict == "match":
                    entry.update(_job_decision(job, now))
                    if job is None and evaluator.status == EvaluatorStatus.PAUSED:
                        entry.update(decision="paused", reason=evaluator.paused_message)
                    elif job is None and (budget["exhausted"] or project_budget["exhausted"]):
                        entry.update(decision="over_budget", reason="the monthly evaluation budget is spent")
                decisions.append(entry)
    return decisions


def _job_decision(job: EvaluationJob | None, now) -> dict:
    if job is None:
        return {"decision": "not_yet_matched", "reason": "no job yet: the matcher has not seen the latest update"}
    fields = {"jobId": job.pk, "scoreId": job.score_id}
    if job.status == "queued" and job.not_before and job.not_before > now:
        seconds = (job.not_before - now).total_seconds()
        return {**fields, "decision": "waiting", "reason": f"waiting {seconds:.0f} s for the rule's delay"}
    if job.status == "queued" and job.retry_at and job.retry_at > now:
        return {**fields, "decision": "retrying", "reason": job.error}
    names = {"queued": "queued", "running": "running", "completed": "done", "failed": "error", "skipped": "skipped", "cancelled": "cancelled"}
    reason = job.error if job.status == "failed" else job.skip_reason if job.status == "skipped" else None
    if job.status == "skipped" and job.skip_reason == "budget":
        return {**fields, "decision": "over_budget", "reason": "the monthly evaluation budget was spent"}
    return {**fields, "decision": names.get(job.status, job.status), "reason": reason}
