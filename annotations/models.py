"""Annotation queues: queues, their items, who works on them, each annotator's outcome, comments.

Judgements themselves are ordinary `Score` rows (source ANNOTATION, `queue_id` = the queue's id),
written through scoring's services; this app stores only who did what to which item.
CLAIMS.md explains the lock columns of `QueueItem` and the claim algorithm.
"""

from datetime import timedelta

from django.conf import settings
from django.db import models

from datasets.models import Dataset
from evalsite.tenancy.models import Project, new_id

DEFAULT_LOCK_SECONDS = 300


class QueueAccess(models.TextChoices):
    ASSIGNED = "ASSIGNED", "Assigned users only"
    PROJECT = "PROJECT", "Any annotator of the project"


class AnnotationQueue(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    id = models.CharField(primary_key=True, max_length=64, default=new_id, editable=False)
    name = models.CharField(max_length=200)
    description = models.TextField(null=True, blank=True)  # noqa: DJ001
    # Markdown written by the queue's author; shown only after annotations.markdown sanitised it.
    instructions = models.TextField(blank=True, default="")
    # Ordered ids of the project's score configs an annotator fills (the wire's scoreConfigIds).
    score_config_ids = models.JSONField(default=list)
    annotators_per_item = models.PositiveSmallIntegerField(default=1)
    lock_seconds = models.PositiveIntegerField(default=DEFAULT_LOCK_SECONDS)
    access = models.CharField(max_length=10, choices=QueueAccess.choices, default=QueueAccess.PROJECT)
    corrections_dataset = models.ForeignKey(Dataset, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="annotationqueue_name_unique")]

    def __str__(self) -> str:
        return self.name

    @property
    def lock_time(self) -> timedelta:
        return timedelta(seconds=self.lock_seconds)


class ObjectType(models.TextChoices):
    TRACE = "TRACE"
    OBSERVATION = "OBSERVATION"
    SESSION = "SESSION"


class ItemStatus(models.TextChoices):
    PENDING = "PENDING"
    COMPLETED = "COMPLETED"


class QueueItem(models.Model):
    """One object to annotate. An experiment run item is a TRACE item (its trace) with `run_item`
    set, so the wire's object types stay the SDK's three and adding the run item's trace again is
    the same item."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    id = models.CharField(primary_key=True, max_length=64, default=new_id, editable=False)
    queue = models.ForeignKey(AnnotationQueue, on_delete=models.CASCADE, related_name="items")
    object_type = models.CharField(max_length=12, choices=ObjectType.choices)
    object_id = models.CharField(max_length=1000)
    # For an OBSERVATION item: the trace it belongs to, so its scores name both.
    trace_id = models.CharField(max_length=128, null=True, blank=True)  # noqa: DJ001
    run_item = models.ForeignKey(
        "experiments.RunItem", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=10, choices=ItemStatus.choices, default=ItemStatus.PENDING)
    # Distinct users who submitted; the item is COMPLETED when it reaches the queue's N.
    submissions = models.PositiveSmallIntegerField(default=0)
    completed_at = models.DateTimeField(null=True, blank=True)
    # The lock: one holder at a time, until `locked_until` (CLAIMS.md).
    locked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    locked_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "queue", "object_type", "object_id"], name="queueitem_object_once"
            ),
        ]
        indexes = [
            # The claim's scan: a queue's pending items, oldest first. Completed items, the bulk of
            # an old queue, are not in it.
            models.Index(
                fields=["project", "queue", "created_at", "id"],
                name="queueitem_pending",
                condition=models.Q(status="PENDING"),
            ),
            # "The item I already hold".
            models.Index(
                fields=["project", "queue", "locked_by"],
                name="queueitem_held",
                condition=models.Q(locked_by__isnull=False),
            ),
            models.Index(fields=["project", "queue", "status"], name="queueitem_status"),
        ]

    def __str__(self) -> str:
        return f"{self.object_type} {self.object_id}"


class QueueAssignment(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    queue = models.ForeignKey(AnnotationQueue, on_delete=models.CASCADE, related_name="assignments")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "queue", "user"], name="queueassignment_once"),
        ]

    def __str__(self) -> str:
        return f"{self.user} on {self.queue}"


class Outcome(models.TextChoices):
    DONE = "DONE"
    SKIPPED = "SKIPPED"


class ItemAnnotation(models.Model):
    """What one user did with one item: submitted scores (DONE) or passed it over (SKIPPED).

    Either way the claim never offers the item to that user again.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    item = models.ForeignKey(QueueItem, on_delete=models.CASCADE, related_name="annotations")
    queue = models.ForeignKey(AnnotationQueue, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    outcome = models.CharField(max_length=8, choices=Outcome.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "item", "user"], name="itemannotation_once"),
        ]
        indexes = [models.Index(fields=["project", "queue", "user"], name="itemannotation_user")]

    def __str__(self) -> str:
        return f"{self.user} {self.outcome} {self.item}"


class CommentObjectType(models.TextChoices):
    TRACE = "TRACE"
    OBSERVATION = "OBSERVATION"
    SESSION = "SESSION"
    PROMPT = "PROMPT"


class Comment(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    id = models.CharField(primary_key=True, max_length=64, default=new_id, editable=False)
    object_type = models.CharField(max_length=12, choices=CommentObjectType.choices)
    object_id = models.CharField(max_length=1000)
    content = models.TextField()
    author_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["project", "object_type", "object_id"], name="comment_object")]

    def __str__(self) -> str:
        return f"comment on {self.object_type} {self.object_id}"


class RuleOperator(models.TextChoices):
    LT = "<", "below"
    LTE = "<=", "at most"
    GT = ">", "above"
    GTE = ">=", "at least"


class QueueRule(models.Model):
    """Fills a queue online: when a score named `score_name` is written whose value is `operator`
    `threshold` (e.g. a judge's "correctness" < 0.5), its trace goes into the queue, if the trace
    passes `filter` (the evaluator rules' trace filters) and a stable draw at `sample_rate`.
    RULES.md explains the trigger and its guarantees."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    id = models.CharField(primary_key=True, max_length=64, default=new_id, editable=False)
    queue = models.ForeignKey(AnnotationQueue, on_delete=models.CASCADE, related_name="rules")
    name = models.CharField(max_length=200)
    enabled = models.BooleanField(default=True)
    score_name = models.CharField(max_length=200)
    # Only scores of this source (EVAL, API, ANNOTATION); null takes every source.
    score_source = models.CharField(max_length=12, null=True, blank=True)  # noqa: DJ001
    operator = models.CharField(max_length=2, choices=RuleOperator.choices)
    threshold = models.FloatField()
    sample_rate = models.FloatField(default=1.0)
    # Langfuse-shaped filters over the trace (evaluators.filters, columns that apply to traces).
    filter = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [
            # The trigger's look-up: a project's enabled rules on the names of the scores just written.
            models.Index(
                fields=["project", "score_name"], name="queuerule_enabled", condition=models.Q(enabled=True)
            ),
        ]

    def __str__(self) -> str:
        return self.name


# The pair items' model lives in its own subpackage; importing it here registers it with the app.
from annotations.pairs.models import QueueItemPair  # noqa: E402, F401
