"""Stored media: one `Media` row per project and content (SHA-256), one `MediaReference` per use.

Uploads of the same bytes to a project share one `Media` and one stored object; each trace,
observation or dataset item field that holds them has its own reference. When the last reference
of a content goes (its traces are deleted), the content and its stored object go too
(traces/media/services.py). References name traces and observations by their external ids, like
scores do: the SDK asks for an upload URL before, or while, its spans arrive.
"""

from django.db import models

from evalsite.tenancy.models import Project


class Media(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    # The SDK's id for the content: url-safe base64 of the SHA-256, first 22 characters. The SDK
    # computes it itself and refuses to upload when the server answers another id.
    media_id = models.CharField(max_length=22)
    sha256_hash = models.CharField(max_length=44)  # standard base64, as the SDK sends it
    content_type = models.CharField(max_length=100)
    content_length = models.BigIntegerField()
    # Name in the media storage: project, media id and a random part, so a content deleted and
    # uploaded again never shares a name with the object being deleted after the first commit.
    storage_key = models.CharField(max_length=300)
    # Set when the stored bytes were verified (length and hash): until then the media is not served.
    uploaded_at = models.DateTimeField(null=True, blank=True)
    # What the SDK reported on PATCH /media/{id} about its upload.
    upload_http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    upload_http_error = models.TextField(null=True, blank=True)
    upload_time_ms = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "media_id"], name="media_id_unique"),
            models.UniqueConstraint(fields=["project", "sha256_hash"], name="media_hash_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.media_id} ({self.content_type})"


class MediaReference(models.Model):
    """One use of a media: a trace's (or one of its observation's) field, or a dataset item's.

    Empty strings, not NULL, stand for "none" so the unique constraint holds on both databases.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    media = models.ForeignKey(Media, on_delete=models.CASCADE, related_name="references")
    trace_id = models.CharField(max_length=128, blank=True, default="")
    observation_id = models.CharField(max_length=128, blank=True, default="")
    dataset_id = models.CharField(max_length=128, blank=True, default="")
    dataset_item_id = models.CharField(max_length=128, blank=True, default="")
    field = models.CharField(max_length=20)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "media", "trace_id", "observation_id", "dataset_item_id", "field"],
                name="media_reference_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["project", "trace_id"], name="media_reference_trace"),
            models.Index(fields=["project", "dataset_item_id"], name="media_reference_item"),
        ]

    def __str__(self) -> str:
        return f"{self.media_id} in {self.trace_id or self.dataset_item_id}.{self.field}"
