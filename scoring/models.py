from django.conf import settings
from django.db import models

from evalsite.tenancy.models import Project, new_id


class ScoreDataType(models.TextChoices):
    NUMERIC = "NUMERIC"
    CATEGORICAL = "CATEGORICAL"
    BOOLEAN = "BOOLEAN"
    TEXT = "TEXT"
    CORRECTION = "CORRECTION"


class ScoreConfigDataType(models.TextChoices):
    """A config fixes one of these; CORRECTION scores are free text and never have a config."""

    NUMERIC = "NUMERIC"
    CATEGORICAL = "CATEGORICAL"
    BOOLEAN = "BOOLEAN"
    TEXT = "TEXT"


class ScoreSource(models.TextChoices):
    API = "API"
    EVAL = "EVAL"
    ANNOTATION = "ANNOTATION"


class ScoreConfig(models.Model):
    """Fixes a score name's data type, range or categories; scores naming it are validated."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    id = models.CharField(primary_key=True, max_length=64, default=new_id, editable=False)
    name = models.CharField(max_length=35)
    data_type = models.CharField(max_length=12, choices=ScoreConfigDataType.choices)
    is_archived = models.BooleanField(default=False)
    min_value = models.FloatField(null=True, blank=True)
    max_value = models.FloatField(null=True, blank=True)
    # [{"value": float, "label": str}] for CATEGORICAL (BOOLEAN gets True=1 / False=0).
    categories = models.JSONField(null=True, blank=True)
    description = models.TextField(null=True, blank=True)  # noqa: DJ001
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["project", "name"], name="scoreconfig_project_name")]

    def __str__(self) -> str:
        return self.name


class Score(models.Model):
    """A score on a trace, an observation, a session or an experiment run (which may not exist yet).

    Optional strings are NULL when absent, never "": NULL is what "no session" or "no comment"
    means on the wire, and the partial indexes below rely on it.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    score_id = models.CharField(max_length=128)
    name = models.CharField(max_length=500)
    value = models.FloatField(null=True, blank=True)
    string_value = models.TextField(null=True, blank=True)  # noqa: DJ001
    data_type = models.CharField(max_length=12, choices=ScoreDataType.choices, default=ScoreDataType.NUMERIC)
    source = models.CharField(max_length=12, choices=ScoreSource.choices, default=ScoreSource.API)
    comment = models.TextField(null=True, blank=True)  # noqa: DJ001
    metadata = models.JSONField(null=True, blank=True)
    environment = models.CharField(max_length=40, default="default")
    timestamp = models.DateTimeField()
    author_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    config = models.ForeignKey(ScoreConfig, null=True, blank=True, on_delete=models.SET_NULL, related_name="scores")
    queue_id = models.CharField(max_length=128, null=True, blank=True)  # noqa: DJ001
    # What it scores, by external id.
    trace_id = models.CharField(max_length=128, null=True, blank=True)  # noqa: DJ001
    observation_id = models.CharField(max_length=128, null=True, blank=True)  # noqa: DJ001
    session_id = models.CharField(max_length=1000, null=True, blank=True)  # noqa: DJ001
    dataset_run_id = models.CharField(max_length=128, null=True, blank=True)  # noqa: DJ001
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-timestamp"]
        constraints = [models.UniqueConstraint(fields=["project", "score_id"], name="score_id_unique")]
        indexes = [
            # One index serves "scores of a trace" and "scores of an observation of that trace".
            models.Index(fields=["project", "trace_id", "observation_id"], name="score_project_trace"),
            # Most scores target traces: partial indexes keep session and run lookups fast without
            # every trace score paying for two more index entries on the ingestion hot path.
            models.Index(
                fields=["project", "session_id"],
                name="score_project_session",
                condition=models.Q(session_id__isnull=False),
            ),
            models.Index(
                fields=["project", "dataset_run_id"],
                name="score_project_run",
                condition=models.Q(dataset_run_id__isnull=False),
            ),
            models.Index(fields=["project", "name", "timestamp"], name="score_project_name_time"),
            models.Index(fields=["project", "timestamp"], name="score_project_time"),
        ]

    def __str__(self) -> str:
        return f"{self.name}={self.value if self.string_value is None else self.string_value}"
