"""Reads of queues, items, progress, an item's scores (blind) and comments. Every function takes
the project: nothing here is unscoped."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from annotations.models import (
    AnnotationQueue,
    Comment,
    ItemAnnotation,
    ItemStatus,
    ObjectType,
    Outcome,
    QueueAssignment,
    QueueItem,
    QueueRule,
)
from evalsite.tenancy.models import Project
from scoring.models import Score, ScoreConfig


def queue_list(*, project: Project) -> QuerySet[AnnotationQueue]:
    return AnnotationQueue.objects.filter(project=project).order_by("name", "id")


def queue_get(*, project: Project, queue_id: str) -> AnnotationQueue | None:
    return AnnotationQueue.objects.filter(project=project, id=queue_id).first()


def queue_holds_pairs(*, project: Project, queue: AnnotationQueue) -> bool:
    """Whether the queue's items are pairs of run outputs (annotations/pairs/), judged on the pair page."""
    from annotations.pairs.models import QueueItemPair

    return QueueItemPair.objects.filter(project=project, item__queue=queue).exists()


def queue_configs(*, project: Project, queue: AnnotationQueue) -> list[ScoreConfig]:
    """The queue's score configs in the queue's order (archived or deleted ones left out)."""
    configs = {
        config.id: config
        for config in ScoreConfig.objects.filter(project=project, id__in=queue.score_config_ids, is_archived=False)
    }
    return [configs[config_id] for config_id in queue.score_config_ids if config_id in configs]


def queue_item_list(*, project: Project, queue: AnnotationQueue, status: str | None = None) -> QuerySet[QueueItem]:
    items = QueueItem.objects.filter(project=project, queue=queue)
    if status is not None:
        items = items.filter(status=status)
    return items.order_by("created_at", "id")


def queue_item_get(*, project: Project, queue: AnnotationQueue, item_id: str) -> QueueItem | None:
    return QueueItem.objects.filter(project=project, queue=queue, id=item_id).select_related("run_item").first()


def queue_rule_list(*, project: Project, queue: AnnotationQueue) -> QuerySet[QueueRule]:
    return QueueRule.objects.filter(project=project, queue=queue).order_by("name", "id")


def queue_assignee_ids(*, project: Project, queue: AnnotationQueue) -> list[int]:
    return list(QueueAssignment.objects.filter(project=project, queue=queue).values_list("user_id", flat=True))


@dataclass(frozen=True)
class QueueProgress:
    total: int
    completed: int
    pending: int
    in_progress: int  # pending items someone holds a live lock on


@dataclass(frozen=True)
class AssigneeProgress:
    user_id: int
    done: int
    skipped: int
    in_progress: int
    remaining: int  # pending items this user has neither done nor skipped


def queue_progress(*, project: Project, queue: AnnotationQueue) -> QueueProgress:
    now = timezone.now()
    counts = QueueItem.objects.filter(project=project, queue=queue).aggregate(
        total=Count("id"),
        completed=Count("id", filter=Q(status=ItemStatus.COMPLETED)),
        in_progress=Count("id", filter=Q(status=ItemStatus.PENDING, locked_until__gt=now)),
    )
    return QueueProgress(
        total=counts["total"], completed=counts["completed"], pending=counts["total"] - counts["completed"],
        in_progress=counts["in_progress"],
    )


@dataclass(frozen=True)
class QueueProgressRow:
    queue_id: str
    name: str
    progress: QueueProgress


def queue_progress_list(*, project: Project) -> list[QueueProgressRow]:
    """Progress of every queue of the project (the home dashboard's panel), by name: one query."""
    now = timezone.now()
    queues = queue_list(project=project).annotate(
        total=Count("items"),
        completed=Count("items", filter=Q(items__status=ItemStatus.COMPLETED)),
        in_progress=Count("items", filter=Q(items__status=ItemStatus.PENDING, items__locked_until__gt=now)),
    )
    return [
        QueueProgressRow(
            queue_id=queue.pk, name=queue.name,
            progress=QueueProgress(
                total=queue.total, completed=queue.completed, pending=queue.total - queue.completed,
                in_progress=queue.in_progress,
            ),
        )
        for queue in queues
    ]


def assignee_progress(
    *, project: Project, queue: AnnotationQueue, user_ids: Iterable[int] | None = None
) -> list[AssigneeProgress]:
    """Per user (the assignees and everyone who worked on the queue, or `user_ids`): three queries."""
    now = timezone.now()
    annotations = ItemAnnotation.objects.filter(project=project, queue=queue)
    per_user = {
        row["user_id"]: row
        for row in annotations.values("user_id").annotate(
            done=Count("id", filter=Q(outcome=Outcome.DONE)),
            skipped=Count("id", filter=Q(outcome=Outcome.SKIPPED)),
            on_pending=Count("id", filter=Q(item__status=ItemStatus.PENDING)),
        )
    }
    held = dict(
        QueueItem.objects.filter(project=project, queue=queue, status=ItemStatus.PENDING, locked_until__gt=now)
        .values("locked_by_id")
        .annotate(n=Count("id"))
        .values_list("locked_by_id", "n")
    )
    pending = QueueItem.objects.filter(project=project, queue=queue, status=ItemStatus.PENDING).count()
    users = list(user_ids) if user_ids is not None else sorted(set(per_user) | set(queue_assignee_ids(project=project, queue=queue)))
    rows = []
    for user_id in users:
        row = per_user.get(user_id, {"done": 0, "skipped": 0, "on_pending": 0})
        in_progress = held.get(user_id, 0)
        rows.append(
            AssigneeProgress(
                user_id=user_id, done=row["done"], skipped=row["skipped"], in_progress=in_progress,
                remaining=pending - row["on_pending"] - in_progress,
            )
        )
    return rows


def user_has_submitted(*, project: Project, item: QueueItem, user) -> bool:
    return ItemAnnotation.objects.filter(project=project, item=item, user=user, outcome=Outcome.DONE).exists()


def item_scores(*, project: Project, item: QueueItem, viewer=None, see_all: bool = False) -> list[Score]:
    """The queue's scores on this item, newest first. Blind: unless `see_all` (an adjudicator) or
    `viewer` has submitted the item, only `viewer`'s own scores are returned."""
    scores = Score.objects.filter(project=project, queue_id=item.queue_id)
    if item.object_type == ObjectType.SESSION:
        scores = scores.filter(session_id=item.object_id)
    elif item.object_type == ObjectType.OBSERVATION:
        scores = scores.filter(trace_id=item.trace_id, observation_id=item.object_id)
    else:
        scores = scores.filter(trace_id=item.object_id, observation_id__isnull=True)
    if not see_all and not (viewer is not None and user_has_submitted(project=project, item=item, user=viewer)):
        scores = scores.filter(author_user_id=getattr(viewer, "pk", None)) if viewer is not None else scores.none()
    return list(scores.order_by("-timestamp", "-id"))


def queue_items_submitted(*, project: Project, queue: AnnotationQueue) -> QuerySet[QueueItem]:
    """Items at least one annotator submitted, most recently changed first (adjudication)."""
    return QueueItem.objects.filter(project=project, queue=queue, submissions__gt=0).order_by("-updated_at", "-id")


def queue_items_adjudicated(*, project: Project, queue: AnnotationQueue, item_ids: list[str]) -> set[str]:
    """Which of these items have a final (adjudicated) score. One query."""
    rows = Score.objects.filter(project=project, queue_id=queue.pk, metadata__adjudicated=True).values_list(
        "metadata", flat=True
    )
    wanted = set(item_ids)
    return {m.get("queueItemId") for m in rows if isinstance(m, dict) and m.get("queueItemId") in wanted}


def comment_list(
    *, project: Project, object_type: str | None = None, object_id: str | None = None, author_user_id=None
) -> QuerySet[Comment]:
    comments = Comment.objects.filter(project=project)
    if object_type is not None:
        comments = comments.filter(object_type=object_type)
    if object_id is not None:
        comments = comments.filter(object_id=object_id)
    if author_user_id is not None:
        comments = comments.filter(author_user_id=author_user_id)
    return comments.select_related("author_user").order_by("created_at", "id")


def comment_get(*, project: Project, comment_id: str) -> Comment | None:
    return Comment.objects.filter(project=project, id=comment_id).first()


def queues_for_user(*, project: Project, user) -> list[AnnotationQueue]:
    """Queues the user may open in the workspace: open ones and those they are assigned to."""
    assigned = QueueAssignment.objects.filter(project=project, user=user).values("queue_id")
    return list(queue_list(project=project).filter(Q(access="PROJECT") | Q(id__in=assigned)))


def scores_visible_to(*, project: Project, user, role, scores: list[Score]) -> list[Score]:
    """`scores` less the other annotators' queue scores on items `user` has not submitted
    (annotation is blind); ADMINs, who adjudicate, see everything. One query at most."""
    from evalsite.tenancy.roles import Role

    if role >= Role.ADMIN:
        return scores

    def item_of(score):
        metadata = score.metadata if isinstance(score.metadata, dict) else {}
        return metadata.get("queueItemId") if score.queue_id and score.author_user_id != user.pk else None

    hidden_items = {item_of(score) for score in scores} - {None}
    if not hidden_items:
        return scores
    submitted = set(
        ItemAnnotation.objects.filter(project=project, user=user, outcome=Outcome.DONE, item_id__in=hidden_items).values_list(
            "item_id", flat=True
        )
    )
    return [score for score in scores if item_of(score) is None or item_of(score) in submitted]


def scores_blind_for_key(*, project: Project, role, scores: QuerySet[Score]) -> QuerySet[Score]:
    """`/api/public/scores` for an ANNOTATOR key: without the queue annotations of items still
    pending, whoever wrote them. An API key is the project's, not a person's, so the page's rule
    ("until I submitted mine") cannot apply; an annotation tool reads one annotator's view with
    `…/items/{id}/scores?userId=`. Other keys read every score, as on Langfuse's wire."""
    from evalsite.tenancy.roles import Role

    if role != Role.ANNOTATOR:
        return scores
    same_object = (
        Q(object_type=ObjectType.TRACE, object_id=OuterRef("trace_id"))
        | Q(object_type=ObjectType.OBSERVATION, object_id=OuterRef("observation_id"))
        | Q(object_type=ObjectType.SESSION, object_id=OuterRef("session_id"))
    )
    pending = QueueItem.objects.filter(project=project, queue_id=OuterRef("queue_id"), status=ItemStatus.PENDING)
    return scores.exclude(Q(queue_id__isnull=False) & Exists(pending.filter(same_object)))
