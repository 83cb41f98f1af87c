"""Filling a queue by a rule: every trace whose score `name` is below (or above) a threshold,
sampled, e.g. "every trace a judge scored under 0.5, one in five".

This is the rule's core, without its storage or its trigger. The seam for the evaluator rules'
trace filters (evaluators/, issue 10, built in parallel) is `trace_ids`: a queryset of trace ids
the rule's filter selects, which narrows the scores considered. Still to wire once evaluators/
lands: a stored rule row (queue, score name, operator, threshold, sample rate, the evaluator
filter), and a call from online evaluation after each batch of new scores, with those scores'
trace ids.
"""

from __future__ import annotations

import hashlib

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from annotations.models import AnnotationQueue, ObjectType
from annotations.services import ObjectRef, queue_items_add_many
from evalsite.tenancy.models import Project
from scoring.models import Score

OPERATORS = {"<": "lt", "<=": "lte", ">": "gt", ">=": "gte"}


def sampled(trace_id: str, *, rate: float, salt: str) -> bool:
    """A stable draw per (rule, trace): the same trace is in or out every time the rule runs."""
    if rate >= 1:
        return True
    digest = hashlib.sha256(f"{salt}\0{trace_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < rate


def queue_fill_by_score(
    *,
    project: Project,
    queue: AnnotationQueue,
    score_name: str,
    operator: str,
    threshold: float,
    sample_rate: float = 1.0,
    trace_ids: QuerySet | list[str] | None = None,
) -> tuple[int, int]:
    """Add to `queue` the traces with a numeric or boolean score `score_name` `operator`
    `threshold` (trace-level or on one of their observations), keeping a stable `sample_rate`
    share of them; returns (added, already in the queue)."""
    if operator not in OPERATORS:
        raise ValidationError({"operator": f"must be one of {', '.join(OPERATORS)}"})
    if not 0 < sample_rate <= 1:
        raise ValidationError({"sample_rate": "must be in (0, 1]"})
    scores = Score.objects.filter(project=project, name=score_name, **{f"value__{OPERATORS[operator]}": threshold})
    scores = scores.exclude(trace_id__isnull=True)
    if trace_ids is not None:
        scores = scores.filter(trace_id__in=trace_ids)
    candidates = scores.values_list("trace_id", flat=True).distinct().order_by()
    refs = [
        ObjectRef(ObjectType.TRACE, trace_id)
        for trace_id in candidates.iterator()
        if sampled(trace_id, rate=sample_rate, salt=queue.pk)
    ]
    return queue_items_add_many(project=project, queue=queue, refs=refs)
