from django.conf import settings
from django.db import models

from evalsite.jobs import JobStatus, LeasedJob
from evalsite.tenancy.models import Project, new_id


class RunSource(models.TextChoices):
    SDK = "SDK"  # derived from `langfuse.experiment.*` spans
    PLATFORM = "PLATFORM"  # executed by our workers


# A run's status is its job status (evalsite/jobs); the name stays for the callers that use it.
RunStatus = JobStatus


class ExperimentRun(LeasedJob):
    """A dataset run (Langfuse calls it an experiment): one task over the items of a dataset.

    A platform run is a leased job (evalsite/jobs): the worker executing it holds a lease it renews
    while working, and a run whose lease has expired is resumed by the next worker
    (experiments/RUNNER.md). Status, progress, error, timestamps and the lease come from LeasedJob.
    """

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
    # Platform runs: prompt, connection, model, parameters, concurrency.
    config = models.JSONField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    total_cost = models.DecimalField(max_digits=20, decimal_places=10, null=True, blank=True)
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
    """One trial of one dataset item in a run.

    A run may repeat an item (`trial` 1, 2, …): a platform run with `trials` > 1, or an SDK run
    that sent the same item with several traces. A trial is its trace: spans of the same trace
    update their trial, a new trace for the item is a new trial.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    run = models.ForeignKey(ExperimentRun, on_delete=models.CASCADE, related_name="items")
    # External dataset item id (for local data: the SDK's hash of the input); the FK is set when
    # the item exists in one of the project's datasets.
    item_key = models.CharField(max_length=200)
    dataset_item = models.ForeignKey(
        "datasets.DatasetItem", null=True, blank=True, on_delete=models.SET_NULL, related_name="run_items"
    )
    item_version = models.DateTimeField(null=True, blank=True)
    trial = models.PositiveSmallIntegerField(default=1)
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
            models.UniqueConstraint(
                fields=["project", "run", "item_key", "trial"], name="runitem_trial_unique_in_run"
            ),
        ]
        indexes = [models.Index(fields=["project", "trace_id"], name="runitem_trace")]

    def __str__(self) -> str:
        return f"{self.run_id}:{self.item_key}" + (f"#{self.trial}" if self.trial != 1 else "")


# The gates' models live in their own subpackage; importing them here registers them with the app.
from experiments.gates.models import GatePolicy, GateResult, RunRelease  # noqa: E402, F401
