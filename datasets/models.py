from django.conf import settings
from django.db import models
from django.utils import timezone

from evalsite.jobs import JobStatus, LeasedJob
from evalsite.tenancy.models import ApiKey, Project, new_id

# Nullable text fields below are deliberate (DJ001): the Langfuse API distinguishes null ("not
# set") from "", and returns what it was given.


class Dataset(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    id = models.CharField(primary_key=True, max_length=64, default=new_id, editable=False)
    name = models.CharField(max_length=500, help_text="Unique in the project; may contain '/' (folders)")
    description = models.TextField(null=True, blank=True)  # noqa: DJ001
    metadata = models.JSONField(null=True, blank=True)
    input_schema = models.JSONField(null=True, blank=True)
    expected_output_schema = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="dataset_name_unique")]

    def __str__(self) -> str:
        return self.name


class ItemStatus(models.TextChoices):
    ACTIVE = "ACTIVE"
    ARCHIVED = "ARCHIVED"


class DatasetItem(models.Model):
    """The current state of a test case. Its history is in DatasetItemRevision."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="items")
    # The external id (the SDK sends a uuid4 or the caller's own): unique per project.
    item_id = models.CharField(max_length=200, default=new_id)
    status = models.CharField(max_length=10, choices=ItemStatus.choices, default=ItemStatus.ACTIVE)
    input = models.JSONField(null=True, blank=True)
    expected_output = models.JSONField(null=True, blank=True)
    metadata = models.JSONField(null=True, blank=True)
    source_trace_id = models.CharField(max_length=128, null=True, blank=True)  # noqa: DJ001
    source_observation_id = models.CharField(max_length=128, null=True, blank=True)  # noqa: DJ001
    # Set by the services, not auto_now: `updated_at` equals the `valid_from` of the item's newest
    # revision, so the `version` the API shows for an item is a version it can be read back at.
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "item_id"]
        constraints = [models.UniqueConstraint(fields=["project", "item_id"], name="datasetitem_id_unique")]
        indexes = [
            # The list order (created_at, item_id) in full: items created together (an import batch)
            # share created_at, and paging through them must not sort the dataset on every page.
            models.Index(fields=["project", "dataset", "status", "created_at", "item_id"], name="datasetitem_list_order"),
            models.Index(fields=["project", "source_trace_id"], name="datasetitem_source_trace"),
            models.Index(fields=["project", "source_observation_id"], name="datasetitem_source_obs"),
        ]

    def __str__(self) -> str:
        return self.item_id


class DatasetItemRevision(models.Model):
    """Append-only history: one row per create, update, archive or delete of an item.

    A dataset's versions are the distinct `valid_from` times of its revisions; an item as of
    version T is its newest revision with `valid_from <= T` (absent if that one is a deletion).
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="revisions")
    item_id = models.CharField(max_length=200)
    valid_from = models.DateTimeField()
    is_deleted = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=ItemStatus.choices, default=ItemStatus.ACTIVE)
    input = models.JSONField(null=True, blank=True)
    expected_output = models.JSONField(null=True, blank=True)
    metadata = models.JSONField(null=True, blank=True)
    source_trace_id = models.CharField(max_length=128, null=True, blank=True)  # noqa: DJ001
    source_observation_id = models.CharField(max_length=128, null=True, blank=True)  # noqa: DJ001
    item_created_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["project", "dataset", "item_id", "valid_from"], name="itemrevision_lookup"),
            models.Index(fields=["project", "dataset", "valid_from"], name="itemrevision_versions"),
        ]

    def __str__(self) -> str:
        return f"{self.item_id} @ {self.valid_from.isoformat()}"


class ImportFormat(models.TextChoices):
    CSV = "csv", "CSV"
    JSONL = "jsonl", "JSON Lines"


class ImportMode(models.TextChoices):
    SKIP_INVALID = "skip_invalid", "Add the valid rows, report the invalid ones"
    ALL_OR_NOTHING = "all_or_nothing", "Add nothing if any row is invalid"


class CellFormat(models.TextChoices):
    TEXT = "text", "Cells are text"
    JSON = "json", "Cells holding JSON are parsed (empty cell = null)"


# An import's status is its job status (evalsite/jobs); the name stays for the callers that use it.
ImportStatus = JobStatus


class ImportJob(LeasedJob):
    """One upload of a CSV or JSONL file into a dataset, run by `datasets.tasks.run_import`.

    The file lives in `content` so any worker on any machine can read it (no shared disk), as text:
    it is decoded once at upload, so a wrong encoding is refused then rather than failing the job,
    and PostgreSQL compresses large text values. Status, lease and progress are a leased job's
    (evalsite/jobs): `progress_done` is the resume cursor, the number of records already handled,
    advanced in the same transaction as the items they produced; `progress_failed` counts the
    invalid rows; `error` says why the whole job failed.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    id = models.CharField(primary_key=True, max_length=64, default=new_id, editable=False)
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="import_jobs")
    format = models.CharField(max_length=8, choices=ImportFormat.choices)
    mode = models.CharField(max_length=16, choices=ImportMode.choices, default=ImportMode.SKIP_INVALID)
    cell_format = models.CharField(max_length=8, choices=CellFormat.choices, default=CellFormat.TEXT)
    mapping = models.JSONField(help_text="See datasets/IMPORT.md")
    filename = models.CharField(max_length=255, blank=True, default="")
    content = models.TextField()
    # Unknown (null) until the worker has counted the file's records.
    progress_total = models.PositiveIntegerField(null=True, blank=True)
    progress_added = models.PositiveIntegerField(default=0)
    # The first MAX_STORED_ERRORS row errors, [{"line": n, "message": "..."}]; progress_failed counts all.
    errors = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by_api_key = models.ForeignKey(ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["project", "dataset", "created_at"], name="importjob_dataset")]

    def __str__(self) -> str:
        return f"{self.filename or self.format} → {self.dataset_id} ({self.status})"

    @property
    def message(self) -> str | None:
        """What the API and the admin show: a completed job's summary, else why the job failed."""
        if self.status != ImportStatus.COMPLETED:
            return self.error
        summary = f"Added {self.progress_added} items"
        if self.progress_failed:
            summary += f"; {self.progress_failed} invalid rows were skipped"
        return summary
