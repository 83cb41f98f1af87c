"""Traces and observations, keyed by their external ids (unique per project).

Observations and scores refer to their trace by the external id, not a foreign key: spans and
scores arrive in any order, and a child may be stored before its parent or trace exists.
"""

# Text columns are nullable on purpose: NULL is "not provided", which the merge rules of
# ingestion (traces/INGESTION.md) and the API's optional fields distinguish from "".
# ruff: noqa: DJ001

from django.db import models

from evalsite.tenancy.models import Project


class ObservationType(models.TextChoices):
    SPAN = "SPAN"
    GENERATION = "GENERATION"
    EVENT = "EVENT"
    AGENT = "AGENT"
    TOOL = "TOOL"
    CHAIN = "CHAIN"
    RETRIEVER = "RETRIEVER"
    EMBEDDING = "EMBEDDING"
    EVALUATOR = "EVALUATOR"
    GUARDRAIL = "GUARDRAIL"


class ObservationLevel(models.TextChoices):
    DEBUG = "DEBUG"
    DEFAULT = "DEFAULT"
    WARNING = "WARNING"
    ERROR = "ERROR"


class Trace(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    trace_id = models.CharField(max_length=128)
    name = models.CharField(max_length=1000, null=True, blank=True)
    user_id = models.CharField(max_length=1000, null=True, blank=True)
    session_id = models.CharField(max_length=1000, null=True, blank=True)
    release = models.CharField(max_length=1000, null=True, blank=True)
    version = models.CharField(max_length=1000, null=True, blank=True)
    environment = models.CharField(max_length=40, default="default")
    tags = models.JSONField(default=list, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    input = models.JSONField(null=True, blank=True)
    output = models.JSONField(null=True, blank=True)
    public = models.BooleanField(default=False)
    bookmarked = models.BooleanField(default=False)
    # Start of the root span (or of the earliest span until the root arrives).
    timestamp = models.DateTimeField()
    # Bookkeeping for order-independent merges (traces/INGESTION.md): the root span that set
    # `timestamp` (and the derived name/input/output), and which of name/input/output were set
    # explicitly rather than derived from that root span.
    root_observation_id = models.CharField(max_length=128, null=True, blank=True)
    explicit_fields = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-timestamp"]
        constraints = [models.UniqueConstraint(fields=["project", "trace_id"], name="trace_id_unique")]
        indexes = [
            models.Index(fields=["project", "timestamp"], name="trace_project_time"),
            models.Index(fields=["project", "session_id"], name="trace_project_session"),
            models.Index(fields=["project", "user_id"], name="trace_project_user"),
            models.Index(fields=["project", "name"], name="trace_project_name"),
        ]

    def __str__(self) -> str:
        return self.trace_id


class Observation(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    observation_id = models.CharField(max_length=128)
    trace_id = models.CharField(max_length=128)
    parent_observation_id = models.CharField(max_length=128, null=True, blank=True)
    type = models.CharField(max_length=12, choices=ObservationType.choices, default=ObservationType.SPAN)
    name = models.CharField(max_length=1000, null=True, blank=True)
    start_time = models.DateTimeField()
    end_time = models.DateTimeField(null=True, blank=True)
    completion_start_time = models.DateTimeField(null=True, blank=True)
    level = models.CharField(max_length=8, choices=ObservationLevel.choices, default=ObservationLevel.DEFAULT)
    status_message = models.TextField(null=True, blank=True)
    model = models.CharField(max_length=500, null=True, blank=True)
    model_parameters = models.JSONField(null=True, blank=True)
    usage_details = models.JSONField(default=dict, blank=True)
    cost_details = models.JSONField(default=dict, blank=True)
    # Denormalised from usage/cost details so analytics can sum them in SQL.
    input_tokens = models.BigIntegerField(null=True, blank=True)
    output_tokens = models.BigIntegerField(null=True, blank=True)
    total_tokens = models.BigIntegerField(null=True, blank=True)
    total_cost = models.DecimalField(max_digits=20, decimal_places=10, null=True, blank=True)
    prompt_name = models.CharField(max_length=500, null=True, blank=True)
    prompt_version = models.PositiveIntegerField(null=True, blank=True)
    environment = models.CharField(max_length=40, default="default")
    release = models.CharField(max_length=1000, null=True, blank=True)
    version = models.CharField(max_length=1000, null=True, blank=True)
    input = models.JSONField(null=True, blank=True)
    output = models.JSONField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["start_time"]
        constraints = [
            models.UniqueConstraint(fields=["project", "observation_id"], name="observation_id_unique"),
        ]
        indexes = [
            models.Index(fields=["project", "trace_id"], name="observation_project_trace"),
            models.Index(fields=["project", "start_time"], name="observation_project_time"),
            models.Index(fields=["project", "type", "start_time"], name="observation_project_type"),
        ]

    def __str__(self) -> str:
        return self.observation_id


# Media attachments live in their own subpackage; importing them here registers them with the app.
from traces.media.models import Media, MediaReference  # noqa: E402, F401
