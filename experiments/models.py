from django.conf import settings
from django.db import models

from evalsite.tenancy.models import Project, new_id


class RunSource(models.TextChoices):
    SDK = "SDK"  # derived from `langfuse.experiment.*` spans
    PLATFORM = "PLATFORM"  # executed by our workers


class RunStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class ExperimentRun(models.Model):
    """A dataset run (Langfuse calls it an experiment): one task over the items of a dataset."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    run_id = models.CharField(max_length=128, default=new_id, help_text="External id (the SDK's experiment id)")
    name = models.CharField(max_length=500)
    description = models.TextField(null=True, blank=True)
    metadata = models.JSONField(null=True, blank=True)
    dataset = models.ForeignKey(
        "datasets.Dataset", null=True, blank=True, on_delete=models.SET_NULL, related_name="runs"
    )
    dataset_version = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=10, choices=RunSource.choices, default=RunSource.SDK)
    # Lifecycle of platform runs; SDK runs are "completed" as far as we can tell.
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.COMPLETED)
    progress_total = models.PositiveIntegerField(default=0)
    progress_done = models.PositiveIntegerField(default=0)
    progress_failed = models.PositiveIntegerField(default=0)
    error = models.TextField(null=True, blank=True)
    # Platform runs: prompt, connection, model, parameters, concurrency.
    config = models.JSONField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Platform runs: the worker executing the run holds a lease it renews while working. A run
    # whose lease has expired is claimed by the next worker and resumes (experiments/RUNNER.md).
    lease_token = models.CharField(max_length=64, null=True, blank=True, editable=False)
    heartbeat_at = models.DateTimeField(null=True, blank=True, editable=False)
    total_cost = models.DecimalField(max_digits=20, decimal_places=10, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["project", "run_id"], name="experimentrun_id_unique")]
        indexes = [
            models.Index(fields=["project", "dataset", "name"], name="experimentrun_dataset_name"),
            models.Index(fields=["project", "created_at"], name="experimentrun_created"),
        ]

    def __str__(self) -> str:
        return self.name


class RunItem(models.Model):
    """One dataset item's result in a run. A run holds each item at most once (latest wins)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    run = models.ForeignKey(ExperimentRun, on_delete=models.CASCADE, related_name="items")
    # External dataset item id (for local data: the SDK's hash of the input); the FK is set when
    # the item exists in one of the project's datasets.
    item_key = models.CharField(max_length=200)
    dataset_item = models.ForeignKey(
        "datasets.DatasetItem", null=True, blank=True, on_delete=models.SET_NULL, related_name="run_items"
    )
    item_version = models.DateTimeField(null=True, blank=True)
    trace_id = models.CharField(max_length=128, null=True, blank=True)
    observation_id = models.CharField(max_length=128, null=True, blank=True)
    input = models.JSONField(null=True, blank=True)
    expected_output = models.JSONField(null=True, blank=True)
    output = models.JSONField(null=True, blank=True)
    latency_ms = models.FloatField(null=True, blank=True)
    cost = models.DecimalField(max_digits=20, decimal_places=10, null=True, blank=True)
    input_tokens = models.PositiveIntegerField(null=True, blank=True)
    output_tokens = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "run", "item_key"], name="runitem_item_unique_in_run"),
        ]
        indexes = [models.Index(fields=["project", "trace_id"], name="runitem_trace")]

    def __str__(self) -> str:
        return f"{self.run_id}:{self.item_key}"


class PromptType(models.TextChoices):
    TEXT = "text"
    CHAT = "chat"


class Prompt(models.Model):
    """One version of a prompt. Versions of a name count up from 1; labels live in PromptLabel."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    id = models.CharField(primary_key=True, max_length=64, default=new_id, editable=False)
    name = models.CharField(max_length=500, help_text="May contain '/' (folders)")
    version = models.PositiveIntegerField()
    type = models.CharField(max_length=10, choices=PromptType.choices, default=PromptType.TEXT)
    prompt = models.JSONField(help_text="A string (text) or a list of messages (chat)")
    config = models.JSONField(default=dict, blank=True)
    tags = models.JSONField(default=list, blank=True)
    commit_message = models.TextField(null=True, blank=True)
    created_by = models.CharField(max_length=200, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name", "version"], name="prompt_version_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class PromptLabel(models.Model):
    """A label points at one version of a prompt name; the constraint keeps labels unique per name."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="label_rows")
    name = models.CharField(max_length=500)
    label = models.CharField(max_length=100)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "name", "label"], name="promptlabel_unique_per_name"),
        ]

    def __str__(self) -> str:
        return f"{self.name}: {self.label}"
