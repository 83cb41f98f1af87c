"""Rule backfill: judge a rule's past matches over a time range, with an estimate first.

`rule_backfill_estimate` counts the objects in the range that the filters match and that sampling
keeps, and estimates the judges' tokens (prompt text with the objects' values, at 4 characters a
token, plus 200 output tokens per call) and their cost from the model prices. `rule_backfill`
creates the jobs (at most MAX_BACKFILL objects per call; an object a version already judged is
skipped by the ledger's unique constraint).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction

from evalsite.llm.prices import model_prices_for_pricing
from evalsite.llm.pricing import compute_cost, find_price
from evalsite.tenancy.models import Project
from evaluators.context import as_text
from evaluators.jobs import jobs_create
from evaluators.models import EvaluationRule, EvaluatorKind, RuleTarget
from evaluators.online import candidates, decide
from evaluators.services import latest_versions
from traces.models import Observation, Trace

MAX_BACKFILL = 10_000
CHARS_PER_TOKEN = 4
OUTPUT_TOKENS = 200


def _range_ids(project: Project, rule: EvaluationRule, start: datetime, end: datetime) -> tuple[list, list]:
    if start is None or end is None or start >= end:
        raise ValidationError({"start": ["Give a time range whose start is before its end."]})
    if rule.target == RuleTarget.TRACE:
        ids = Trace.objects.filter(project=project, timestamp__gte=start, timestamp__lt=end)
        return list(ids.order_by("timestamp").values_list("trace_id", flat=True)[:MAX_BACKFILL]), []
    ids = Observation.objects.filter(project=project, start_time__gte=start, start_time__lt=end)
    return [], list(ids.order_by("start_time").values_list("observation_id", flat=True)[:MAX_BACKFILL])


def _matched(project: Project, rule: EvaluationRule, start: datetime, end: datetime):
    trace_ids, observation_ids = _range_ids(project, rule, start, end)
    found = candidates(project=project, rule_target=rule.target, trace_ids=trace_ids, observation_ids=observation_ids)
    decisions = [(c, decide(rule, c)[0]) for c in found]
    matched = [c for c, verdict in decisions if verdict != "filtered"]
    return found, matched, [c for c, verdict in decisions if verdict == "match"]


def rule_backfill_estimate(*, project: Project, rule: EvaluationRule, start: datetime, end: datetime) -> dict:
    found, matched, sampled = _matched(project, rule, start, end)
    assignments = list(rule.assignments.select_related("evaluator"))
    versions = latest_versions(project=project, evaluator_ids=[a.evaluator_id for a in assignments])
    prices = model_prices_for_pricing(project=project)
    sample_text = sum(len(as_text(c.facts.get("metadata"))) for c in sampled[:50]) / max(1, min(len(sampled), 50))
    tokens = 0
    cost = Decimal(0)
    for assignment in assignments:
        version = versions.get(assignment.evaluator_id)
        if version is None or assignment.evaluator.kind != EvaluatorKind.LLM_AS_JUDGE:
            continue
        prompt_chars = sum(len(m["content"]) for m in version.prompt) + sample_text
        input_tokens = int(prompt_chars / CHARS_PER_TOKEN)
        per_call = {"input": input_tokens, "output": OUTPUT_TOKENS}
        tokens += len(sampled) * (input_tokens + OUTPUT_TOKENS)
        price = find_price(prices, version.model or "")
        if price is not None:
            cost += Decimal(str(compute_cost(price, per_call)["total"])) * len(sampled)
    return {
        "objects": len(found), "matching": len(matched), "sampled": len(sampled),
        "evaluators": len(assignments), "estimatedTokens": tokens, "estimatedCost": float(cost),
        "limited": len(found) >= MAX_BACKFILL,
    }


@transaction.atomic
def rule_backfill(*, project: Project, rule: EvaluationRule, start: datetime, end: datetime) -> dict:
    _, _, sampled = _matched(project, rule, start, end)
    versions = latest_versions(project=project, evaluator_ids=[a.evaluator_id for a in rule.assignments.all()])
    created = already = 0
    for assignment in rule.assignments.all():
        summary = jobs_create(
            project=project, version=versions[assignment.evaluator_id], targets=[c.target for c in sampled],
            variable_mapping=assignment.variable_mapping, rule_id=rule.pk,
        )
        created, already = created + summary.created, already + summary.already
    return {"sampled": len(sampled), "jobsCreated": created, "alreadyEvaluated": already}
