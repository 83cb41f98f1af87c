"""Writes of annotation queues, their items and assignments, and comments.

Claims, submissions, skips and adjudication (the per-user locks) are in `annotations.claims`; how a
queue rule fills its queue is in `annotations.rules` (its writes are here).
"""

import math
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from annotations.models import (
    AnnotationQueue,
    Comment,
    CommentObjectType,
    ItemStatus,
    ObjectType,
    QueueAccess,
    QueueAssignment,
    QueueItem,
    QueueRule,
    RuleOperator,
)
from datasets.models import Dataset
from evalsite.errors import NotFound
from evalsite.tenancy.actors import SYSTEM, Actor
from evalsite.tenancy.models import Project
from evalsite.tenancy.roles import Role
from evalsite.tenancy.selectors import project_member_list
from evalsite.tenancy.services import audit_log_record
from evaluators.filters import filters_clean
from experiments.models import RunItem
from prompts.models import Prompt
from scoring.models import ScoreConfig, ScoreSource
from traces.models import Observation, Trace

NAME_MAX_LENGTH = 200
OBJECT_ID_MAX_LENGTH = 1000
COMMENT_MAX_LENGTH = 5000
MAX_LOCK_SECONDS = 24 * 3600
MAX_ANNOTATORS_PER_ITEM = 50


# --- queues ----------------------------------------------------------------------------------


def _queue_errors(
    *, project: Project, name, score_config_ids, annotators_per_item, lock_seconds, access, corrections_dataset_id
) -> tuple[dict[str, str], Dataset | None]:
    errors: dict[str, str] = {}
    if not isinstance(name, str) or not name.strip():
        errors["name"] = "must be a non-empty string"
    elif len(name) > NAME_MAX_LENGTH:
        errors["name"] = f"must be at most {NAME_MAX_LENGTH} characters"
    if not isinstance(score_config_ids, list) or not all(isinstance(i, str) for i in score_config_ids):
        errors["score_config_ids"] = "must be a list of score config ids"
    else:
        known = set(ScoreConfig.objects.filter(project=project, id__in=score_config_ids).values_list("id", flat=True))
        unknown = [config_id for config_id in score_config_ids if config_id not in known]
        if unknown:
            errors["score_config_ids"] = f"unknown score config ids in this project: {', '.join(unknown[:10])}"
        elif len(set(score_config_ids)) != len(score_config_ids):
            errors["score_config_ids"] = "names a config twice"
    if not isinstance(annotators_per_item, int) or not 1 <= annotators_per_item <= MAX_ANNOTATORS_PER_ITEM:
        errors["annotators_per_item"] = f"must be an integer from 1 to {MAX_ANNOTATORS_PER_ITEM}"
    if not isinstance(lock_seconds, int) or not 10 <= lock_seconds <= MAX_LOCK_SECONDS:
        errors["lock_seconds"] = f"must be an integer from 10 to {MAX_LOCK_SECONDS} (seconds)"
    if access not in QueueAccess.values:
        errors["access"] = f"must be one of {', '.join(QueueAccess.values)}"
    dataset = None
    if corrections_dataset_id is not None:
        dataset = Dataset.objects.filter(project=project, id=corrections_dataset_id).first()
        if dataset is None:
            errors["corrections_dataset_id"] = "no dataset with this id in the project"
    return errors, dataset


@transaction.atomic
def queue_create(
    *,
    project: Project,
    name: str,
    score_config_ids: list[str],
    description: str | None = None,
    instructions: str = "",
    annotators_per_item: int = 1,
    lock_seconds: int = 300,
    access: str = QueueAccess.PROJECT,
    corrections_dataset_id: str | None = None,
    actor: Actor = SYSTEM,
) -> AnnotationQueue:
    """A new queue; a name already used in the project is refused (ValidationError on `name`)."""
    errors, dataset = _queue_errors(
        project=project, name=name, score_config_ids=score_config_ids, annotators_per_item=annotators_per_item,
        lock_seconds=lock_seconds, access=access, corrections_dataset_id=corrections_dataset_id,
    )
    if "name" not in errors and AnnotationQueue.objects.filter(project=project, name=name).exists():
        errors["name"] = f"a queue named {name!r} already exists in this project"
    if errors:
        raise ValidationError(errors)
    queue = AnnotationQueue.objects.create(
        project=project, name=name, description=description, instructions=instructions or "",
        score_config_ids=score_config_ids, annotators_per_item=annotators_per_item, lock_seconds=lock_seconds,
        access=access, corrections_dataset=dataset,
    )
    audit_log_record(
        actor=actor, action="annotation_queue.create", obj=queue, organization=project.organization, project=project,
        name=name,
    )
    return queue


QUEUE_UPDATABLE = (
    "name", "description", "instructions", "score_config_ids", "annotators_per_item", "lock_seconds", "access",
    "corrections_dataset_id",
)


@transaction.atomic
def queue_update(*, project: Project, queue: AnnotationQueue, actor: Actor = SYSTEM, **changes) -> AnnotationQueue:
    """Change any of QUEUE_UPDATABLE; the queue is validated as a whole, as on creation.

    Raising N does not reopen completed items; lowering it completes the pending items that now
    have enough annotators.
    """
    unknown = set(changes) - set(QUEUE_UPDATABLE)
    if unknown:
        raise TypeError(f"queue_update() cannot change {', '.join(sorted(unknown))}")
    merged = {name: changes.get(name, getattr(queue, name)) for name in QUEUE_UPDATABLE}
    errors, dataset = _queue_errors(
        project=project, name=merged["name"], score_config_ids=merged["score_config_ids"],
        annotators_per_item=merged["annotators_per_item"], lock_seconds=merged["lock_seconds"],
        access=merged["access"], corrections_dataset_id=merged["corrections_dataset_id"],
    )
    if (
        "name" not in errors
        and AnnotationQueue.objects.filter(project=project, name=merged["name"]).exclude(pk=queue.pk).exists()
    ):
        errors["name"] = f"a queue named {merged['name']!r} already exists in this project"
    if errors:
        raise ValidationError(errors)
    for name in QUEUE_UPDATABLE:
        if name != "corrections_dataset_id":
            setattr(queue, name, merged[name])
    queue.corrections_dataset = dataset
    queue.save()
    now = timezone.now()
    QueueItem.objects.filter(
        project=project, queue=queue, status=ItemStatus.PENDING, submissions__gte=queue.annotators_per_item
    ).update(status=ItemStatus.COMPLETED, completed_at=now, updated_at=now)
    audit_log_record(
        actor=actor, action="annotation_queue.update", obj=queue, organization=project.organization, project=project,
        changed=sorted(changes),
    )
    return queue


@transaction.atomic
def queue_delete(*, project: Project, queue: AnnotationQueue, actor: Actor) -> None:
    audit_log_record(
        actor=actor, action="annotation_queue.delete", obj=queue, organization=project.organization, project=project,
        name=queue.name,
    )
    queue.delete()


# --- items -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ObjectRef:
    """An object to put into a queue, as the wire names it."""

    object_type: str
    object_id: str
    trace_id: str | None = None
    run_item_id: int | None = None


@dataclass
class AddResult:
    item: QueueItem
    created: bool

    @property
    def message(self) -> str:
        if self.created:
            return "Added to the queue"
        return f"Already in the queue: this {self.item.object_type.lower()} was added before; nothing changed"


def _object_errors(ref: ObjectRef) -> dict[str, str]:
    errors = {}
    if ref.object_type not in ObjectType.values:
        errors["object_type"] = f"must be one of {', '.join(ObjectType.values)}"
    if not isinstance(ref.object_id, str) or not ref.object_id:
        errors["object_id"] = "must be a non-empty string"
    elif len(ref.object_id) > OBJECT_ID_MAX_LENGTH:
        errors["object_id"] = f"must be at most {OBJECT_ID_MAX_LENGTH} characters"
    return errors


def _with_traces(project: Project, refs: list[ObjectRef]) -> list[ObjectRef]:
    """Observation refs completed with their trace id (scores on an observation name its trace);
    an observation the project does not have is refused, as its trace cannot be known."""
    wanted = {ref.object_id for ref in refs if ref.object_type == ObjectType.OBSERVATION and ref.trace_id is None}
    if not wanted:
        return refs
    traces = dict(
        Observation.objects.filter(project=project, observation_id__in=wanted).values_list("observation_id", "trace_id")
    )
    missing = sorted(wanted - set(traces))
    if missing:
        raise ValidationError({"object_id": f"no observation with id {missing[0]} in this project"})
    return [
        ObjectRef(ref.object_type, ref.object_id, traces[ref.object_id], ref.run_item_id)
        if ref.object_type == ObjectType.OBSERVATION and ref.trace_id is None
        else ref
        for ref in refs
    ]


@transaction.atomic
def queue_item_add(
    *, project: Project, queue: AnnotationQueue, object_type: str, object_id: str, status: str = ItemStatus.PENDING
) -> AddResult:
    """Put one object into the queue; an object already there is left as it is (`created` False)."""
    ref = ObjectRef(object_type, object_id)
    errors = _object_errors(ref)
    if status not in ItemStatus.values:
        errors["status"] = f"must be one of {', '.join(ItemStatus.values)}"
    if errors:
        raise ValidationError(errors)
    (ref,) = _with_traces(project, [ref])
    existing = QueueItem.objects.filter(
        project=project, queue=queue, object_type=ref.object_type, object_id=ref.object_id
    ).first()
    if existing is not None:
        return AddResult(existing, created=False)
    completed = timezone.now() if status == ItemStatus.COMPLETED else None
    try:
        with transaction.atomic():
            item = QueueItem.objects.create(
                project=project, queue=queue, object_type=ref.object_type, object_id=ref.object_id,
                trace_id=ref.trace_id, status=status, completed_at=completed,
            )
    except IntegrityError:
        # Added by a concurrent request between the look-up and the insert: the same no-op.
        existing = QueueItem.objects.get(project=project, queue=queue, object_type=ref.object_type, object_id=ref.object_id)
        return AddResult(existing, created=False)
    return AddResult(item, created=True)


@transaction.atomic
def queue_items_add_many(*, project: Project, queue: AnnotationQueue, refs: Iterable[ObjectRef]) -> tuple[int, int]:
    """Put many objects into the queue (admin actions, rules): (added, already there).

    Objects already in the queue are skipped by the unique constraint; one INSERT per 1,000.
    """
    refs = list(dict.fromkeys(refs))
    for ref in refs:
        errors = _object_errors(ref)
        if errors:
            raise ValidationError(errors)
    refs = _with_traces(project, refs)
    before = QueueItem.objects.filter(project=project, queue=queue).count()
    QueueItem.objects.bulk_create(
        [
            QueueItem(
                project=project, queue=queue, object_type=ref.object_type, object_id=ref.object_id,
                trace_id=ref.trace_id, run_item_id=ref.run_item_id,
            )
            for ref in refs
        ],
        batch_size=1000,
        ignore_conflicts=True,
    )
    added = QueueItem.objects.filter(project=project, queue=queue).count() - before
    return added, len(refs) - added


def run_item_refs(*, project: Project, run_items: Iterable[RunItem]) -> list[ObjectRef]:
    """Run items as queue objects: their traces, remembering the run item (refused without a trace)."""
    refs = []
    for run_item in run_items:
        if run_item.project_id != project.pk:
            raise NotFound("Run item not found")
        if not run_item.trace_id:
            raise ValidationError({"run_items": f"run item {run_item.item_key} has no trace to annotate"})
        refs.append(ObjectRef(ObjectType.TRACE, run_item.trace_id, run_item_id=run_item.pk))
    return refs


@transaction.atomic
def queue_item_set_status(*, project: Project, item: QueueItem, status: str) -> QueueItem:
    """The wire's PATCH: COMPLETED sets `completed_at` (now) and releases any lock; PENDING reopens."""
    if status not in ItemStatus.values:
        raise ValidationError({"status": f"must be one of {', '.join(ItemStatus.values)}"})
    if item.project_id != project.pk:
        raise NotFound("Queue item not found")
    now = timezone.now()
    if status == ItemStatus.COMPLETED:
        item.completed_at = now
        item.locked_by, item.locked_until = None, None
    else:
        item.completed_at = None
    item.status = status
    item.save()
    return item


@transaction.atomic
def queue_item_delete(*, project: Project, item: QueueItem) -> None:
    if item.project_id != project.pk:
        raise NotFound("Queue item not found")
    item.delete()


# --- assignments -----------------------------------------------------------------------------


def queue_member_find(*, project: Project, user_id=None, email: str | None = None):
    """The project member with this user id or e-mail (case-insensitive) and their role; NotFound
    otherwise, whether the user does not exist or is not a member."""
    for user, role in project_member_list(project=project):
        if user_id is not None and str(user.pk) == str(user_id):
            return user, role
        if email and user.email and user.email.lower() == email.strip().lower():
            return user, role
    raise NotFound(f"User is not a member of this project: {user_id if user_id is not None else email}")


@transaction.atomic
def queue_assignment_create(
    *, project: Project, queue: AnnotationQueue, user_id=None, email: str | None = None, actor: Actor = SYSTEM
) -> QueueAssignment:
    """Assign a project member (by id or e-mail) to the queue; assigning again changes nothing."""
    user, _ = queue_member_find(project=project, user_id=user_id, email=email)
    assignment, created = QueueAssignment.objects.get_or_create(project=project, queue=queue, user=user)
    if created:
        audit_log_record(
            actor=actor, action="annotation_queue.assign", obj=queue, organization=project.organization,
            project=project, user_id=user.pk,
        )
    return assignment


@transaction.atomic
def queue_assignment_delete(*, project: Project, queue: AnnotationQueue, user_id=None, email=None, actor=SYSTEM) -> None:
    """Unassign a member; unassigning someone who is not assigned changes nothing. Locks they hold
    on this queue's items are released, so their items go back to the others."""
    user, _ = queue_member_find(project=project, user_id=user_id, email=email)
    deleted, _ = QueueAssignment.objects.filter(project=project, queue=queue, user=user).delete()
    if deleted:
        QueueItem.objects.filter(project=project, queue=queue, locked_by=user).update(locked_by=None, locked_until=None)
        audit_log_record(
            actor=actor, action="annotation_queue.unassign", obj=queue, organization=project.organization,
            project=project, user_id=user.pk,
        )


def may_work_on(*, project: Project, queue: AnnotationQueue, user, role: Role) -> bool:
    """ANNOTATOR and above; on an ASSIGNED queue, only the users assigned to it."""
    if role < Role.ANNOTATOR:
        return False
    if queue.access == QueueAccess.ASSIGNED:
        return QueueAssignment.objects.filter(project=project, queue=queue, user=user).exists()
    return True


# --- queue rules -----------------------------------------------------------------------------

RULE_UPDATABLE = ("name", "enabled", "score_name", "score_source", "operator", "threshold", "sample_rate", "filter")


def queue_rule_fields_clean(*, name, enabled, score_name, score_source, operator, threshold, sample_rate, filter) -> dict:
    """The rule's fields, checked and normalised (filters as evaluators.filters cleans them, on
    the columns that apply to traces); ValidationError keyed by argument names."""
    errors: dict[str, str] = {}
    if not isinstance(name, str) or not name.strip():
        errors["name"] = "must be a non-empty string"
    elif len(name) > NAME_MAX_LENGTH:
        errors["name"] = f"must be at most {NAME_MAX_LENGTH} characters"
    if not isinstance(enabled, bool):
        errors["enabled"] = "must be true or false"
    if not isinstance(score_name, str) or not score_name.strip():
        errors["score_name"] = "must be a non-empty string: the name of the scores to watch"
    elif len(score_name) > NAME_MAX_LENGTH:
        errors["score_name"] = f"must be at most {NAME_MAX_LENGTH} characters"
    if score_source is not None and score_source not in ScoreSource.values:
        errors["score_source"] = f"must be null (any source) or one of {', '.join(ScoreSource.values)}"
    if operator not in RuleOperator.values:
        errors["operator"] = f"must be one of {', '.join(RuleOperator.values)}"
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not math.isfinite(threshold):
        errors["threshold"] = "must be a finite number"
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, float)) or not 0 < sample_rate <= 1:
        errors["sample_rate"] = "must be a number in (0, 1]: the share of matching traces to queue"
    cleaned_filter = []
    try:
        cleaned_filter = filters_clean(filter if filter is not None else [], target="trace")
    except ValidationError as error:
        errors["filter"] = " ".join(error.messages)
    if errors:
        raise ValidationError(errors)
    return {
        "name": name.strip(), "enabled": enabled, "score_name": score_name, "score_source": score_source,
        "operator": operator, "threshold": float(threshold), "sample_rate": float(sample_rate), "filter": cleaned_filter,
    }


def _rules_changed(project: Project) -> None:
    # The trigger caches the watched score names per process (annotations/rules.py, which imports
    # this module): forget them once the change is committed.
    from annotations.rules import watched_score_names_forget

    transaction.on_commit(lambda: watched_score_names_forget(project.pk))


@transaction.atomic
def queue_rule_create(
    *,
    project: Project,
    queue: AnnotationQueue,
    name: str,
    score_name: str,
    operator: str,
    threshold: float,
    sample_rate: float = 1.0,
    score_source: str | None = None,
    filter: list | None = None,  # noqa: A002 (the wire's name, as evaluator rules have it)
    enabled: bool = True,
    actor: Actor = SYSTEM,
) -> QueueRule:
    """A rule that fills `queue` from new scores (annotations/rules.py); it sees scores written
    from now on (queue_rule_backfill takes the stored ones)."""
    if queue.project_id != project.pk:
        raise NotFound("Annotation queue not found")
    fields = queue_rule_fields_clean(
        name=name, enabled=enabled, score_name=score_name, score_source=score_source, operator=operator,
        threshold=threshold, sample_rate=sample_rate, filter=filter,
    )
    rule = QueueRule.objects.create(project=project, queue=queue, **fields)
    audit_log_record(
        actor=actor, action="annotation_queue_rule.create", obj=rule, organization=project.organization,
        project=project, queue_id=queue.pk, name=rule.name,
    )
    _rules_changed(project)
    return rule


@transaction.atomic
def queue_rule_update(*, project: Project, rule: QueueRule, actor: Actor = SYSTEM, **changes) -> QueueRule:
    """Change any of RULE_UPDATABLE; the rule is checked as a whole, as on creation."""
    unknown = set(changes) - set(RULE_UPDATABLE)
    if unknown:
        raise TypeError(f"queue_rule_update() cannot change {', '.join(sorted(unknown))}")
    if rule.project_id != project.pk:
        raise NotFound("Queue rule not found")
    fields = queue_rule_fields_clean(**{name: changes.get(name, getattr(rule, name)) for name in RULE_UPDATABLE})
    for name, value in fields.items():
        setattr(rule, name, value)
    rule.save()
    audit_log_record(
        actor=actor, action="annotation_queue_rule.update", obj=rule, organization=project.organization,
        project=project, queue_id=rule.queue_id, changed=sorted(changes),
    )
    _rules_changed(project)
    return rule


@transaction.atomic
def queue_rule_delete(*, project: Project, rule: QueueRule, actor: Actor) -> None:
    if rule.project_id != project.pk:
        raise NotFound("Queue rule not found")
    audit_log_record(
        actor=actor, action="annotation_queue_rule.delete", obj=rule, organization=project.organization,
        project=project, queue_id=rule.queue_id, name=rule.name,
    )
    rule.delete()
    _rules_changed(project)


# --- comments --------------------------------------------------------------------------------


def _comment_target_exists(project: Project, object_type: str, object_id: str) -> bool:
    if object_type == CommentObjectType.TRACE:
        return Trace.objects.filter(project=project, trace_id=object_id).exists()
    if object_type == CommentObjectType.OBSERVATION:
        return Observation.objects.filter(project=project, observation_id=object_id).exists()
    if object_type == CommentObjectType.SESSION:
        return Trace.objects.filter(project=project, session_id=object_id).exists()
    return Prompt.objects.filter(project=project, id=object_id).exists()


@transaction.atomic
def comment_create(
    *, project: Project, object_type: str, object_id: str, content: str, author_user_id=None, author=None
) -> Comment:
    """A comment on a trace, observation, session (a session id some trace carries) or prompt
    version that exists in the project. `author_user_id` (the API's) must name a project member."""
    errors = {}
    if object_type not in CommentObjectType.values:
        errors["object_type"] = f"must be one of {', '.join(CommentObjectType.values)}"
    if not isinstance(object_id, str) or not object_id:
        errors["object_id"] = "must be a non-empty string"
    elif len(object_id) > OBJECT_ID_MAX_LENGTH:
        errors["object_id"] = f"must be at most {OBJECT_ID_MAX_LENGTH} characters"
    if not isinstance(content, str) or not content.strip():
        errors["content"] = "must be a non-empty string"
    elif len(content) > COMMENT_MAX_LENGTH:
        errors["content"] = f"must be at most {COMMENT_MAX_LENGTH} characters"
    if not errors and not _comment_target_exists(project, object_type, object_id):
        errors["object_id"] = f"no {object_type.lower()} with this id in the project"
    if author is None and author_user_id is not None:
        try:
            author, _ = queue_member_find(project=project, user_id=author_user_id)
        except NotFound:
            errors["author_user_id"] = "is not a member of this project"
    if errors:
        raise ValidationError(errors)
    return Comment.objects.create(
        project=project, object_type=object_type, object_id=object_id, content=content, author_user=author
    )


# --- corrections -----------------------------------------------------------------------------


def correction_parse(text: str):
    """The corrected output as typed: JSON when it parses as JSON (an object, a list…), else the text."""
    import json

    try:
        return json.loads(text)
    except ValueError:
        return text


@transaction.atomic
def queue_item_correction_add(
    *, project: Project, queue: AnnotationQueue, item: QueueItem, user, input_value, corrected_output: str,
    source_trace_id: str | None, source_observation_id: str | None, actor: Actor,
):
    """A dataset item in the queue's corrections dataset: the object's input, and the annotator's
    corrected output as the expected output (the loop of DESIGN.md §1: edge cases found online go
    back into a dataset). One item per (queue item, annotator): adding again replaces nothing and
    raises Conflict."""
    from datasets.services import dataset_item_create

    if queue.corrections_dataset_id is None:
        raise ValidationError({"corrected_output": "this queue has no corrections dataset"})
    if not corrected_output.strip():
        raise ValidationError({"corrected_output": "type the corrected output first"})
    return dataset_item_create(
        project=project,
        dataset=queue.corrections_dataset,
        item_id=f"correction-{item.pk}-{user.pk}",
        input=input_value,
        expected_output=correction_parse(corrected_output),
        metadata={"queueId": queue.pk, "queueItemId": item.pk, "annotatorUserId": user.pk},
        source_trace_id=source_trace_id,
        source_observation_id=source_observation_id,
        actor=actor,
    )
