"""Input and output shapes of the dataset endpoints (Langfuse's `Dataset`, `DatasetItem`, …).

Outputs carry every key the SDK's models require, null-valued ones included. Inputs treat null as
"not provided": the SDK sends explicit nulls for every unset optional field.
"""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from datasets.models import CellFormat, ImportFormat, ImportMode, ItemStatus
from evalsite.api.fields import TimestampField
from traces.media.selectors import media_links, media_references_resolved

_DATETIME = serializers.DateTimeField()


class DatasetSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField(allow_null=True)
    metadata = serializers.JSONField(allow_null=True)
    inputSchema = serializers.JSONField(source="input_schema", allow_null=True)
    expectedOutputSchema = serializers.JSONField(source="expected_output_schema", allow_null=True)
    projectId = serializers.CharField(source="project_id")
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")


class DatasetUpsertSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=500, trim_whitespace=False)
    description = serializers.CharField(required=False, allow_null=True, allow_blank=True, trim_whitespace=False)
    metadata = serializers.JSONField(required=False, allow_null=True)
    inputSchema = serializers.JSONField(required=False, allow_null=True)
    expectedOutputSchema = serializers.JSONField(required=False, allow_null=True)

    def service_arguments(self) -> dict:
        data = self.validated_data
        return {
            "name": data["name"],
            "description": data.get("description"),
            "metadata": data.get("metadata"),
            "input_schema": data.get("inputSchema"),
            "expected_output_schema": data.get("expectedOutputSchema"),
        }


class DatasetItemMediaSerializer(serializers.Serializer):
    """The media a reference resolves to (a `traces.media.selectors.MediaLink`)."""

    mediaId = serializers.CharField(source="media_id")
    contentType = serializers.CharField(source="content_type")
    contentLength = serializers.IntegerField(source="content_length")
    url = serializers.CharField(help_text="signed download URL")
    urlExpiry = serializers.DateTimeField(source="expires_at", help_text="when `url` stops working")


class DatasetItemMediaReferenceSerializer(serializers.Serializer):
    """One media reference of an item (the SDK's `DatasetItemMediaReference`)."""

    field = serializers.ChoiceField(choices=["input", "expectedOutput", "metadata"])
    referenceString = serializers.CharField(source="reference.text")
    jsonPath = serializers.CharField(source="json_path", help_text="of the string holding the reference, e.g. `$['image']`")
    media = DatasetItemMediaSerializer(source="link")


def _item_fields(item) -> dict:
    return {"input": item.input, "expectedOutput": item.expected_output, "metadata": item.metadata}


def dataset_item_context(*, request, project, items) -> dict:
    """Context for `DatasetItemSerializer` over several items: the links to the media they refer to
    in one query (without it each item holding a reference looks up its own)."""
    values = [value for item in items for value in _item_fields(item).values()]
    return {"request": request, "media_links": media_links(project=project, values=values, base_url=_site(request))}


def _site(request) -> str:
    return request.build_absolute_uri("/")[:-1] if request is not None else ""


class DatasetItemSerializer(serializers.Serializer):
    """Reads rows of the current table and of the history alike (see datasets/selectors.py).

    `mediaReferences` resolves the SDK's media references in input, expectedOutput and metadata to
    the project's stored media, with signed download URLs (absolute when the context has the
    `request`); references to media not stored are left out."""

    id = serializers.CharField(source="item_id")
    status = serializers.CharField()
    input = serializers.JSONField(allow_null=True)
    expectedOutput = serializers.JSONField(source="expected_output", allow_null=True)
    metadata = serializers.JSONField(allow_null=True)
    sourceTraceId = serializers.CharField(source="source_trace_id", allow_null=True)
    sourceObservationId = serializers.CharField(source="source_observation_id", allow_null=True)
    datasetId = serializers.CharField(source="dataset_id")
    datasetName = serializers.SerializerMethodField()
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")
    version = serializers.SerializerMethodField()
    mediaReferences = serializers.SerializerMethodField()

    def get_datasetName(self, item) -> str:
        name = getattr(item, "dataset_name", None)
        return name if name is not None else item.dataset.name

    def get_version(self, item) -> str:
        return _DATETIME.to_representation(getattr(item, "version", None) or item.updated_at)

    @extend_schema_field(DatasetItemMediaReferenceSerializer(many=True))
    def get_mediaReferences(self, item) -> list:
        resolved = media_references_resolved(
            project=item.project_id, fields=_item_fields(item), links=self.context.get("media_links"),
            base_url=_site(self.context.get("request")),
        )
        return DatasetItemMediaReferenceSerializer(resolved, many=True).data


class DatasetItemUpsertSerializer(serializers.Serializer):
    datasetName = serializers.CharField(max_length=500, trim_whitespace=False)
    id = serializers.CharField(required=False, allow_null=True, max_length=200, trim_whitespace=False)
    input = serializers.JSONField(required=False, allow_null=True)
    expectedOutput = serializers.JSONField(required=False, allow_null=True)
    metadata = serializers.JSONField(required=False, allow_null=True)
    sourceTraceId = serializers.CharField(required=False, allow_null=True, max_length=128)
    sourceObservationId = serializers.CharField(required=False, allow_null=True, max_length=128)
    status = serializers.ChoiceField(choices=ItemStatus.values, required=False, allow_null=True)

    def service_arguments(self) -> dict:
        data = self.validated_data
        return {
            "dataset_name": data["datasetName"],
            "item_id": data.get("id"),
            "input": data.get("input"),
            "expected_output": data.get("expectedOutput"),
            "metadata": data.get("metadata"),
            "source_trace_id": data.get("sourceTraceId"),
            "source_observation_id": data.get("sourceObservationId"),
            "status": data.get("status"),
        }


class DatasetItemListQuerySerializer(serializers.Serializer):
    datasetName = serializers.CharField(required=False, trim_whitespace=False)
    version = TimestampField(required=False)
    sourceTraceId = serializers.CharField(required=False)
    sourceObservationId = serializers.CharField(required=False)

    def validate(self, data):
        if "version" in data and "datasetName" not in data:
            raise serializers.ValidationError({"version": ["reading a version needs datasetName"]})
        return data


class DatasetItemDeletedSerializer(serializers.Serializer):
    message = serializers.CharField()


class DatasetV1Serializer(DatasetSerializer):
    """The legacy `GET /datasets/{name}` shape: the dataset with its ACTIVE items and run names."""

    items = DatasetItemSerializer(source="active_items", many=True)
    runs = serializers.ListField(source="run_names", child=serializers.CharField())


class ImportCreateSerializer(serializers.Serializer):
    """Either a multipart `file` or a JSON `content` string; `mapping` as an object (a JSON string
    in a multipart form). The mapping's own checks are the import service's (datasets/IMPORT.md)."""

    file = serializers.FileField(required=False, allow_null=True)
    content = serializers.CharField(required=False, allow_null=True, trim_whitespace=False)
    filename = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=255)
    format = serializers.ChoiceField(choices=ImportFormat.values, required=False, allow_null=True)
    mapping = serializers.JSONField(required=False, allow_null=True)
    mode = serializers.ChoiceField(choices=ImportMode.values, required=False, allow_null=True)
    cellFormat = serializers.ChoiceField(choices=CellFormat.values, required=False, allow_null=True)

    def validate(self, data):
        if bool(data.get("file")) == (data.get("content") is not None):
            raise serializers.ValidationError({"file": ["send either a file (multipart) or content (text), not both"]})
        return data


class ImportJobSerializer(serializers.Serializer):
    id = serializers.CharField()
    datasetId = serializers.CharField(source="dataset_id")
    datasetName = serializers.CharField(source="dataset.name")
    filename = serializers.CharField()
    format = serializers.CharField()
    mode = serializers.CharField()
    cellFormat = serializers.CharField(source="cell_format")
    mapping = serializers.JSONField()
    status = serializers.CharField()
    progress = serializers.SerializerMethodField()
    errors = serializers.JSONField()
    errorsTruncated = serializers.SerializerMethodField()
    message = serializers.CharField(allow_null=True)
    createdAt = serializers.DateTimeField(source="created_at")
    startedAt = serializers.DateTimeField(source="started_at", allow_null=True)
    finishedAt = serializers.DateTimeField(source="finished_at", allow_null=True)

    def get_progress(self, job) -> dict:
        return {"total": job.progress_total, "done": job.progress_done, "failed": job.progress_failed, "added": job.progress_added}

    def get_errorsTruncated(self, job) -> bool:
        return job.progress_failed > len(job.errors)
