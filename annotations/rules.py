"""Filling a queue by a rule, online: every trace whose score `score_name` is below (or above) a
threshold, that passes the evaluator rules' trace filters, sampled — e.g. "every trace a judge
scored under 0.5, one in five". RULES.md explains the trigger and its guarantees.

1. `scores_hand_over` is registered in scoring's `after_scores_written` hook, which scoring calls
   after the transaction that wrote scores commits. When an enabled rule of the project watches
   one of the written names (cached 2 s per process), it enqueues `annotations.tasks.
   queue_rules_apply` with those score ids. Nothing is matched in the request.
2. The task re-reads the scores (in the project), and each enabled rule on their names keeps the
   numeric and boolean ones whose value passes the threshold, draws each trace (a hash of the rule
   and the trace id: the same trace is in or out every time), checks the filters on the stored
   trace, and adds the traces to the queue (an object already there stays as it is).
"""

from __future__ import annotations

import hashlib
import math
import operator as operators
import time
from collections.abc import Iterable

from django.db import transaction

from annotations.models import ObjectType, QueueRule
from annotations.services import ObjectRef, queue_items_add_many
from evalsite.jobs import enqueue_after_commit
from evalsite.tenancy.models import Project
from evaluators.filters import filters_match
from evaluators.online import trace_facts
from experiments.models import RunItem
from scoring.models import Score, ScoreDataType
from traces.models import Trace

APPLY_TASK = "annotations.tasks.queue_rules_apply"
BACKFILL_TASK = "annotations.tasks.queue_rule_backfill"
RULES_CACHE_SECONDS = 2.0
# Score ids per task: an ingestion batch of thousands of scores becomes a few small tasks.
IDS_PER_TASK = 500
BACKFILL_CHUNK = 2000

COMPARE = {"<": operators.lt, "<=": operators.le, ">": operators.gt, ">=": operators.ge}
THRESHOLD_TYPES = (ScoreDataType.NUMERIC, ScoreDataType.BOOLEAN)

_watched_cache: dict[str, tuple[float, frozenset[str]]] = {}


def watched_score_names(project_id: str) -> frozenset[str]:
    """The score names the project's enabled rules watch. Cached RULES_CACHE_SECONDS per process,
    so the score-writing path pays at most one indexed query every few seconds per project; the
    rule services forget the entry of a project whose rules changed (in this process at once,
    in the others within the cache time)."""
    now = time.monotonic()
    cached = _watched_cache.get(project_id)
    if cached is not None and now - cached[0] < RULES_CACHE_SECONDS:
        return cached[1]
    names = frozenset(
        QueueRule.objects.filter(project_id=project_id, enabled=True).values_list("score_name", flat=True)
    )
    _watched_cache[project_id] = (now, names)
    return names


def watched_score_names_forget(project_id: str) -> None:
    _watched_cache.pop(project_id, None)


def scores_hand_over(*, project: Project, scores: dict[str, str]) -> None:
    """scoring.hooks.after_scores_written (after the commit): `scores` maps the written score ids
    to their names. Enqueues the rules' matching for the watched ones; never matches here."""
    names = watched_score_names(project.pk)
    if not names:
        return
    score_ids = sorted(score_id for score_id, name in scores.items() if name in names)
    for start in range(0, len(score_ids), IDS_PER_TASK):
        # Outside a transaction (we run from on_commit) this sends at once.
        enqueue_after_commit(APPLY_TASK, project.pk, score_ids[start : start + IDS_PER_TASK])


def sampled(trace_id: str, *, rate: float, salt: str) -> bool:
    """A stable draw per (rule, trace): the same trace is in or out every time the rule runs."""
    if rate >= 1:
        return True
    digest = hashlib.sha256(f"{salt}\0{trace_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < rate


def _passes(rule: QueueRule, score: dict) -> bool:
    value = score["value"]
    return (
        score["name"] == rule.score_name
        and (rule.score_source is None or score["source"] == rule.score_source)
        and score["data_type"] in THRESHOLD_TYPES
        and value is not None
        and math.isfinite(value)
        and COMPARE[rule.operator](value, rule.threshold)
    )


def traces_passing_filters(*, project: Project, filters: list[dict], trace_ids: list[str]) -> list[str]:
    """The traces among `trace_ids` whose stored facts pass every filter (the evaluator rules'
    facts of a trace: name, environment, tags, metadata, experiment…). A trace not stored yet
    cannot be judged by its filters and is left out. Two queries."""
    if not filters:
        return trace_ids
    traces = Trace.objects.filter(project=project, trace_id__in=trace_ids)
    items = {
        item.trace_id: item
        for item in RunItem.objects.filter(project=project, trace_id__in=trace_ids).select_related("run")
    }
    passing = {trace.trace_id for trace in traces if filters_match(filters, trace_facts(trace, items.get(trace.trace_id)))[0]}
    return [trace_id for trace_id in trace_ids if trace_id in passing]


def rule_apply(*, project: Project, rule: QueueRule, scores: Iterable[dict]) -> tuple[int, int]:
    """Put the traces of `scores` (rows with name, source, data_type, value, trace_id) that the
    rule selects into its queue; returns (added, already in the queue)."""
    trace_ids = list(
        dict.fromkeys(
            score["trace_id"] for score in scores if score["trace_id"] and _passes(rule, score)
        )
    )
    trace_ids = [trace_id for trace_id in trace_ids if sampled(trace_id, rate=rule.sample_rate, salt=rule.pk)]
    trace_ids = traces_passing_filters(project=project, filters=rule.filter or [], trace_ids=trace_ids)
    if not trace_ids:
        return 0, 0
    refs = [ObjectRef(ObjectType.TRACE, trace_id) for trace_id in trace_ids]
    return queue_items_add_many(project=project, queue=rule.queue, refs=refs)


SCORE_FIELDS = ("name", "source", "data_type", "value", "trace_id")


@transaction.atomic
def queue_rules_apply(*, project: Project, score_ids: list[str]) -> dict[str, tuple[int, int]]:
    """The task's work: the project's enabled rules on these scores; (added, present) per rule id.

    Scores are read in `project` only, so an id of another project's score selects nothing."""
    scores = list(
        Score.objects.filter(project=project, score_id__in=score_ids, trace_id__isnull=False).values(*SCORE_FIELDS)
    )
    names = {score["name"] for score in scores}
    if not names:
        return {}
    rules = QueueRule.objects.filter(project=project, enabled=True, score_name__in=names).select_related("queue")
    return {rule.pk: rule_apply(project=project, rule=rule, scores=scores) for rule in rules.order_by("created_at", "id")}


def queue_rule_backfill(*, project: Project, rule: QueueRule) -> tuple[int, int]:
    """The rule over the project's scores already stored (the admin's and the API's "apply to
    existing scores"), in chunks; each chunk commits on its own, so a long backfill that dies
    keeps what it added and a rerun adds only the rest."""
    added = present = 0
    scores = (
        Score.objects.filter(project=project, name=rule.score_name, trace_id__isnull=False)
        .order_by("pk")
        .values(*SCORE_FIELDS)
    )
    chunk: list[dict] = []
    for score in scores.iterator(chunk_size=BACKFILL_CHUNK):
        chunk.append(score)
        if len(chunk) == BACKFILL_CHUNK:
            with transaction.atomic():
                a, p = rule_apply(project=project, rule=rule, scores=chunk)
            added, present, chunk = added + a, present + p, []
    if chunk:
        with transaction.atomic():
            a, p = rule_apply(project=project, rule=rule, scores=chunk)
        added, present = added + a, present + p
    return added, present
