"""Wire shapes of the media API (the langfuse SDK's GetMediaUploadUrlRequest, PatchMediaBody,
GetMediaResponse)."""

from rest_framework import serializers

from evalsite.api.fields import TimestampField
from traces.media.limits import MEDIA_CONTENT_TYPES

BIGINT_MAX = 2**63 - 1


class MediaUploadRequestSerializer(serializers.Serializer):
    traceId = serializers.CharField(max_length=128, required=False, allow_null=True, allow_blank=True)
    observationId = serializers.CharField(max_length=128, required=False, allow_null=True, allow_blank=True)
    datasetId = serializers.CharField(max_length=128, required=False, allow_null=True, allow_blank=True)
    datasetItemId = serializers.CharField(max_length=128, required=False, allow_null=True, allow_blank=True)
    contentType = serializers.ChoiceField(choices=MEDIA_CONTENT_TYPES)
    contentLength = serializers.IntegerField(min_value=1, max_value=BIGINT_MAX)
    sha256Hash = serializers.CharField(max_length=64)
    field = serializers.CharField(max_length=32)

    def service_arguments(self) -> dict:
        data = self.validated_data
        return {
            "trace_id": data.get("traceId") or None,
            "observation_id": data.get("observationId") or None,
            "dataset_id": data.get("datasetId") or None,
            "dataset_item_id": data.get("datasetItemId") or None,
            "content_type": data["contentType"],
            "content_length": data["contentLength"],
            "sha256_hash": data["sha256Hash"],
            "field": data["field"],
        }


class MediaUploadResponseSerializer(serializers.Serializer):
    mediaId = serializers.CharField()
    uploadUrl = serializers.CharField(allow_null=True, help_text="null: the project already stores these bytes")


class MediaPatchSerializer(serializers.Serializer):
    uploadedAt = TimestampField()
    uploadHttpStatus = serializers.IntegerField(min_value=100, max_value=599)
    uploadHttpError = serializers.CharField(required=False, allow_null=True, allow_blank=True, trim_whitespace=False)
    uploadTimeMs = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=BIGINT_MAX)

    def service_arguments(self) -> dict:
        data = self.validated_data
        return {
            "uploaded_at": data["uploadedAt"],
            "upload_http_status": data["uploadHttpStatus"],
            "upload_http_error": data.get("uploadHttpError"),
            "upload_time_ms": data.get("uploadTimeMs"),
        }


class MediaSerializer(serializers.Serializer):
    mediaId = serializers.CharField(source="media_id")
    contentType = serializers.CharField(source="content_type")
    contentLength = serializers.IntegerField(source="content_length")
    uploadedAt = serializers.DateTimeField(source="uploaded_at")
    url = serializers.CharField(help_text="signed download URL")
    urlExpiry = serializers.DateTimeField(help_text="when `url` stops working")
