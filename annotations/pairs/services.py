"""Pair queue items: filling a queue with pairs of run items, and a human's preference on one.

A pair item is an ordinary queue item (the candidate's trace, `run_item` = the candidate's run item)
plus a `QueueItemPair` row, so claims, locks, skips and progress are the queue's (CLAIMS.md). The
preference is written like a judge's (evaluators/PAIRWISE.md): a CATEGORICAL score on the candidate's
trace, A = the baseline run preferred, B = the candidate, tie, with `metadata.pairwise`, here with
source ANNOTATION, so the comparison counts humans apart from judges.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from annotations import claims
from annotations.models import AnnotationQueue, ItemAnnotation, ItemStatus, ObjectType, Outcome, QueueItem
from annotations.pairs.models import QueueItemPair
from annotations.services import ObjectRef, queue_items_add_many
from evalsite.tenancy.actors import Actor
from evalsite.tenancy.models import Project
from evalsite.tenancy.roles import Role
from evaluators.pairwise import candidate_first, run_item_pairs
from experiments.models import ExperimentRun
from scoring.models import ScoreConfig, ScoreConfigDataType, ScoreSource
from scoring.services import score_config_create, scores_ingest

SCORE_NAME = "preference"
# Annotation scores name a config: the project's CATEGORICAL "preference", made on first use. Its
# values read as "how much the candidate was preferred".
CATEGORIES = [{"label": "A", "value": 0}, {"label": "tie", "value": 0.5}, {"label": "B", "value": 1}]
# The keys of the workspace: the left output, the right one, a tie. Which run is on the left is
# drawn per pair and never shown.
CHOICES = ("a", "b", "t")


def preference_config(*, project: Project, field: str = "choice") -> ScoreConfig:
    """The project's "preference" score config (A / tie / B), created when missing; a config of that
    name with other categories is refused rather than silently used."""
    config = ScoreConfig.objects.filter(project=project, name=SCORE_NAME, is_archived=False).first()
    if config is None:
        return score_config_create(
            project=project, name=SCORE_NAME, data_type=ScoreConfigDataType.CATEGORICAL, categories=CATEGORIES,
            description="Pairwise preference: A = the baseline run's output, B = the candidate's, or a tie.",
        )
    labels = {category.get("label") for category in config.categories or []}
    if config.data_type != ScoreConfigDataType.CATEGORICAL or not {"A", "B", "tie"} <= labels:
        raise ValidationError({field: [f"The score config {SCORE_NAME!r} must be CATEGORICAL with A, B and tie."]})
    return config


@transaction.atomic
def queue_pairs_add(*, project: Project, queue: AnnotationQueue, run: ExperimentRun, baseline_run_id) -> dict:
    """Put every (item, trial) pair of `run` (the candidate) and the baseline run into the queue.
    A candidate trace already in the queue is left as it is (counted in `alreadyInQueue`)."""
    if not isinstance(baseline_run_id, str) or not baseline_run_id:
        raise ValidationError({"baseline_run_id": ["baselineRunId is required."]})
    baseline = ExperimentRun.objects.filter(project=project, run_id=baseline_run_id).first()
    if baseline is None:
        raise ValidationError({"baseline_run_id": [f"No experiment run {baseline_run_id!r} in this project."]})
    if baseline.pk == run.pk:
        raise ValidationError({"baseline_run_id": ["The baseline must be another run than the candidate."]})
    pairs, baseline_only, candidate_only = run_item_pairs(project=project, baseline=baseline, candidate=run)
    if not pairs:
        raise ValidationError({"baseline_run_id": ["The two runs have no item (and trial) in common."]})
    preference_config(project=project, field="baseline_run_id")
    traces = [cand["trace_id"] for _, cand in pairs]
    before = set(QueueItem.objects.filter(project=project, queue=queue, object_id__in=traces).values_list("object_id", flat=True))
    refs = [ObjectRef(ObjectType.TRACE, cand["trace_id"], run_item_id=cand["pk"]) for _, cand in pairs]
    queue_items_add_many(project=project, queue=queue, refs=refs)
    items = dict(
        QueueItem.objects.filter(project=project, queue=queue, object_type=ObjectType.TRACE, object_id__in=traces)
        .exclude(object_id__in=before)
        .values_list("object_id", "pk")
    )
    QueueItemPair.objects.bulk_create(
        [
            QueueItemPair(
                project=project, item_id=items[cand["trace_id"]], baseline_run_item_id=base["pk"],
                candidate_run_item_id=cand["pk"], candidate_first=candidate_first(base["pk"], cand["pk"]),
            )
            for base, cand in pairs
            if cand["trace_id"] in items
        ],
        ignore_conflicts=True,
    )
    return {
        "queueId": queue.pk, "runId": run.run_id, "baselineRunId": baseline.run_id, "pairs": len(pairs),
        "added": len(items), "alreadyInQueue": len(pairs) - len(items),
        "unpaired": {"baseline": baseline_only, "candidate": candidate_only},
    }


def pair_for_item(*, project: Project, item: QueueItem) -> QueueItemPair | None:
    return (
        QueueItemPair.objects.filter(project=project, item=item)
        .select_related("baseline_run_item__run", "candidate_run_item__run", "baseline_run_item__dataset_item")
        .first()
    )


def winner_of(pair: QueueItemPair, choice: str) -> str:
    """The run a key names: `a` is the left output, `b` the right one."""
    if choice == "t":
        return "tie"
    left = "candidate" if pair.candidate_first else "baseline"
    right = "baseline" if pair.candidate_first else "candidate"
    return left if choice == "a" else right


@transaction.atomic
def pair_preference_submit(
    *, project: Project, item: QueueItem, user, role: Role, choice, comment: str | None = None
) -> QueueItem:
    """Store `user`'s preference on the pair they hold, count it as one of the item's N annotations
    and release the lock; Conflict (nothing stored) when they no longer hold it. The score's id is
    per (item, annotator): a resubmission replaces it."""
    if choice not in CHOICES:
        raise ValidationError({"choice": ["Choose a (left), b (right) or t (tie)."]})
    pair = pair_for_item(project=project, item=item)
    if pair is None:
        raise ValidationError({"item_id": ["This queue item is not a pair of run items."]})
    locked = claims._held_for_update(project, item, user)
    queue = locked.queue
    claims._check_may_work(project, queue, user, role)
    winner = winner_of(pair, choice)
    base, cand = pair.baseline_run_item, pair.candidate_run_item
    score = {
        "id": claims.annotation_score_id(item=locked, user_id=user.pk, config_id="pairwise"),
        "name": SCORE_NAME,
        "configId": preference_config(project=project).pk,
        "dataType": "CATEGORICAL",
        "value": {"baseline": "A", "candidate": "B", "tie": "tie"}[winner],
        "comment": comment or None,
        "queueId": queue.pk,
        "traceId": cand.trace_id,
        "metadata": {
            "queueItemId": locked.pk,
            "pairwise": {
                "baselineRunId": base.run.run_id, "candidateRunId": cand.run.run_id,
                "baselineRunItemId": base.pk, "candidateRunItemId": cand.pk, "baselineTraceId": base.trace_id,
                "itemKey": cand.item_key, "trial": cand.trial, "winner": winner,
                "candidateShownAs": "a" if pair.candidate_first else "b",
            },
        },
    }
    result = scores_ingest(project=project, items=[score], actor=Actor(user=user), source_override=ScoreSource.ANNOTATION)
    if result.errors:
        raise ValidationError({"choice": [str(error) for _, error in result.errors]})
    ItemAnnotation.objects.create(project=project, item=locked, queue=queue, user=user, outcome=Outcome.DONE)
    locked.submissions += 1
    if locked.submissions >= queue.annotators_per_item:
        locked.status, locked.completed_at = ItemStatus.COMPLETED, timezone.now()
    locked.locked_by, locked.locked_until = None, None
    locked.save(update_fields=["submissions", "status", "completed_at", "locked_by", "locked_until", "updated_at"])
    return locked
