"""Claiming, renewing, submitting and skipping queue items: the per-user locks (CLAIMS.md).

In short: a user's "next item" is the item they hold if any; else the oldest PENDING item of the
queue that they have neither submitted nor skipped and that no one else holds (no lock, or an
expired one), locked for them by the same statement that finds it. On PostgreSQL that statement's
inner SELECT is `FOR UPDATE SKIP LOCKED`, so concurrent claimers pass over each other's candidate
instead of queuing behind it; SQLite runs one writer at a time, so the statement is exclusive there.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils import timezone

from annotations.models import AnnotationQueue, ItemAnnotation, ItemStatus, ObjectType, Outcome, QueueItem
from annotations.services import may_work_on
from evalsite.db import Dialect, skip_locked_clause
from evalsite.errors import Conflict
from evalsite.tenancy.actors import Actor
from evalsite.tenancy.models import Project
from evalsite.tenancy.roles import Role
from scoring.models import ScoreSource
from scoring.services import scores_ingest

# The metadata flag of an adjudicated (final) score: agreement leaves it out, analytics and
# datasets prefer it (dashboards/analytics/seams.py).
ADJUDICATED_KEY = "adjudicated"

LOCK_LOST = (
    "You no longer hold this item: its lock expired and it went back to the queue, or another "
    "annotator took it. Nothing was saved; claim it again (or the next item) to submit what you typed."
)


def _check_may_work(project: Project, queue: AnnotationQueue, user, role: Role) -> None:
    if not may_work_on(project=project, queue=queue, user=user, role=role):
        raise PermissionDenied("You may not annotate this queue: it is for the users assigned to it")


@cache
def claim_sql(vendor: str) -> str:
    """One statement: renew the item I hold, else lock the oldest claimable one (SKIP LOCKED on
    PostgreSQL); RETURNING the row. COALESCE evaluates its second subquery only when the first
    finds nothing, so a reload does not scan the queue."""
    quote = connection.ops.quote_name
    items, annotations = quote(QueueItem._meta.db_table), quote(ItemAnnotation._meta.db_table)
    returning = ", ".join(quote(field.column) for field in QueueItem._meta.concrete_fields)
    held = (
        f"SELECT h.id FROM {items} h WHERE h.project_id = %(project)s AND h.queue_id = %(queue)s "
        "AND h.locked_by_id = %(user)s AND h.locked_until > %(now)s AND h.status = 'PENDING' "
        "ORDER BY h.created_at, h.id LIMIT 1"
    )
    claimable = (
        f"SELECT i.id FROM {items} i WHERE i.project_id = %(project)s AND i.queue_id = %(queue)s "
        "AND i.status = 'PENDING' AND (i.locked_until IS NULL OR i.locked_until <= %(now)s) "
        f"AND NOT EXISTS (SELECT 1 FROM {annotations} a WHERE a.project_id = i.project_id AND a.item_id = i.id "
        "AND a.user_id = %(user)s) "
        f"ORDER BY i.created_at, i.id LIMIT 1{skip_locked_clause()}"
    )
    return (
        f"UPDATE {items} SET locked_by_id = %(user)s, locked_until = %(until)s, updated_at = %(now)s "
        f"WHERE id = COALESCE(({held}), ({claimable})) RETURNING {returning}"
    )


@transaction.atomic
def queue_item_claim_next(*, project: Project, queue: AnnotationQueue, user, role: Role) -> QueueItem | None:
    """The item `user` should work on now, locked for them until now + the queue's lock time;
    None when nothing is left for them. Calling it again while holding an item returns that item
    (its lock renewed): a reload never takes a second item."""
    _check_may_work(project, queue, user, role)
    now = timezone.now()
    dialect = Dialect()
    params = {
        "user": user.pk, "until": dialect.datetime_param(now + queue.lock_time), "now": dialect.datetime_param(now),
        "project": project.pk, "queue": queue.pk,
    }
    # A raw queryset runs the statement once and turns the returned row into a QueueItem.
    claimed = list(QueueItem.objects.raw(claim_sql(connection.vendor), params))
    return claimed[0] if claimed else None


def _held_for_update(project: Project, item: QueueItem, user) -> QueueItem:
    """The item, row-locked, if `user` still holds its lock; Conflict (LOCK_LOST) otherwise."""
    locked = QueueItem.objects.select_for_update().filter(project=project, pk=item.pk).first()
    now = timezone.now()
    if (
        locked is None
        or locked.status != ItemStatus.PENDING
        or locked.locked_by_id != user.pk
        or locked.locked_until is None
        or locked.locked_until <= now
    ):
        raise Conflict(LOCK_LOST)
    return locked


@transaction.atomic
def queue_item_renew(*, project: Project, item: QueueItem, user) -> QueueItem:
    """Extend the lock `user` holds by the queue's lock time (the page calls it while they work)."""
    locked = _held_for_update(project, item, user)
    locked.locked_until = timezone.now() + locked.queue.lock_time
    QueueItem.objects.filter(pk=locked.pk).update(locked_until=locked.locked_until)
    return locked


@dataclass(frozen=True)
class ScoreInput:
    config_id: str
    value: object
    comment: str | None = None


def annotation_score_id(*, item: QueueItem, user_id, config_id: str, final: bool = False) -> str:
    """A stable score id per (item, annotator, config): a resubmission replaces, never duplicates."""
    who = "final" if final else str(user_id)
    return hashlib.sha256(f"{item.pk}\0{who}\0{config_id}".encode()).hexdigest()[:32]


def item_score_target(item: QueueItem) -> dict:
    if item.object_type == ObjectType.SESSION:
        return {"sessionId": item.object_id}
    if item.object_type == ObjectType.OBSERVATION:
        return {"traceId": item.trace_id, "observationId": item.object_id}
    return {"traceId": item.object_id}


def scores_write(
    *, project: Project, queue: AnnotationQueue, item: QueueItem, user, scores: list[ScoreInput],
    final: bool = False,
) -> list[str]:
    """Write `scores` (configs of the queue only) as ANNOTATION scores through scoring; returns their ids.

    Raises ValidationError on `scores` naming the config of each invalid value."""
    if not scores:
        raise ValidationError({"scores": "fill at least one of the queue's score configs"})
    configs = set(queue.score_config_ids)
    from scoring.models import ScoreConfig

    names = dict(ScoreConfig.objects.filter(project=project, id__in=configs).values_list("id", "name"))
    errors, items = [], []
    for score in scores:
        if score.config_id not in names:
            errors.append(f"{score.config_id}: not a score config of this queue")
            continue
        metadata = {"queueItemId": item.pk}
        if final:
            metadata[ADJUDICATED_KEY] = True
        items.append(
            {
                "id": annotation_score_id(item=item, user_id=user.pk, config_id=score.config_id, final=final),
                "name": names[score.config_id],
                "configId": score.config_id,
                "value": score.value,
                "comment": score.comment or None,
                "queueId": queue.pk,
                "metadata": metadata,
                **item_score_target(item),
            }
        )
    if errors:
        raise ValidationError({"scores": errors})
    result = scores_ingest(project=project, items=items, actor=Actor(user=user), source_override=ScoreSource.ANNOTATION)
    if result.errors:
        raise ValidationError({"scores": [f"{items[index]['configId']}: {error}" for index, error in result.errors]})
    return result.accepted


@transaction.atomic
def queue_item_submit(
    *, project: Project, item: QueueItem, user, role: Role, scores: list[ScoreInput]
) -> QueueItem:
    """Store `user`'s scores for the item they hold, count them as one of its N annotators, and
    release the lock. Refused (Conflict, nothing stored) when they no longer hold it."""
    locked = _held_for_update(project, item, user)
    queue = locked.queue
    _check_may_work(project, queue, user, role)
    scores_write(project=project, queue=queue, item=locked, user=user, scores=scores)
    ItemAnnotation.objects.create(project=project, item=locked, queue=queue, user=user, outcome=Outcome.DONE)
    now = timezone.now()
    locked.submissions += 1
    if locked.submissions >= queue.annotators_per_item:
        locked.status, locked.completed_at = ItemStatus.COMPLETED, now
    locked.locked_by, locked.locked_until = None, None
    locked.save(update_fields=["submissions", "status", "completed_at", "locked_by", "locked_until", "updated_at"])
    return locked


@transaction.atomic
def queue_item_skip(*, project: Project, item: QueueItem, user) -> QueueItem:
    """Pass the held item over: it is never offered to `user` again, and goes back to the others."""
    locked = _held_for_update(project, item, user)
    ItemAnnotation.objects.create(project=project, item=locked, queue=locked.queue, user=user, outcome=Outcome.SKIPPED)
    locked.locked_by, locked.locked_until = None, None
    locked.save(update_fields=["locked_by", "locked_until", "updated_at"])
    return locked


@transaction.atomic
def queue_item_release(*, project: Project, item: QueueItem, user) -> bool:
    """Give the lock back without an outcome (leaving the workspace); False when not held."""
    released = QueueItem.objects.filter(project=project, pk=item.pk, locked_by=user).update(
        locked_by=None, locked_until=None
    )
    return bool(released)


@transaction.atomic
def queue_item_adjudicate(
    *, project: Project, item: QueueItem, user, role: Role, scores: list[ScoreInput]
) -> list[str]:
    """An ADMIN's final scores for the item, after seeing every annotator's: ANNOTATION scores
    with `metadata.adjudicated = true` and one id per (item, config), so adjudicating again
    replaces the final score. They do not count as an annotator's rating in the agreement."""
    if role < Role.ADMIN:
        raise PermissionDenied("Adjudication needs the ADMIN role in this project")
    return scores_write(project=project, queue=item.queue, item=item, user=user, scores=scores, final=True)
