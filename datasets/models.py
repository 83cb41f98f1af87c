from django.db import models

from evalsite.tenancy.models import Project, new_id


class Dataset(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    id = models.CharField(primary_key=True, max_length=64, default=new_id, editable=False)
    name = models.CharField(max_length=500, help_text="Unique in the project; may contain '/' (folders)")
    description = models.TextField(null=True, blank=True)
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
    source_trace_id = models.CharField(max_length=128, null=True, blank=True)
    source_observation_id = models.CharField(max_length=128, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["project", "item_id"], name="datasetitem_id_unique")]
        indexes = [
            models.Index(fields=["project", "dataset", "status", "created_at"], name="datasetitem_listing"),
            models.Index(fields=["project", "source_trace_id"], name="datasetitem_source_trace"),
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
    source_trace_id = models.CharField(max_length=128, null=True, blank=True)
    source_observation_id = models.CharField(max_length=128, null=True, blank=True)
    item_created_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["project", "dataset", "item_id", "valid_from"], name="itemrevision_lookup"),
            models.Index(fields=["project", "dataset", "valid_from"], name="itemrevision_versions"),
        ]
