"""`/api/public/media`: upload URLs, upload reports and reads, as the langfuse SDK calls them.

1. `POST /media` {traceId, observationId?, contentType, contentLength, sha256Hash, field} →
   `{mediaId, uploadUrl}`; `uploadUrl` is null when the project already stores these bytes.
2. The SDK PUTs the bytes to `uploadUrl` (traces/media/views.py, or an S3 presigned URL).
3. `PATCH /media/{id}` {uploadedAt, uploadHttpStatus, uploadHttpError?, uploadTimeMs?} → 204.
4. `GET /media/{id}` → `{mediaId, contentType, contentLength, uploadedAt, url, urlExpiry}`, 404
   until the bytes are stored and verified.
"""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from evalsite.api.viewsets import ProjectScopedViewSet
from traces.media import links
from traces.media.models import Media
from traces.media.selectors import media_get
from traces.media.serializers import (
    MediaPatchSerializer,
    MediaSerializer,
    MediaUploadRequestSerializer,
    MediaUploadResponseSerializer,
)
from traces.media.services import media_upload_report, media_upload_request


def _site(request) -> str:
    return request.build_absolute_uri("/")[:-1]


class MediaViewSet(ProjectScopedViewSet):
    queryset = Media.objects.all()
    serializer_class = MediaSerializer
    lookup_field = "media_id"
    wire_field_names = {
        "trace_id": "traceId",
        "observation_id": "observationId",
        "dataset_id": "datasetId",
        "dataset_item_id": "datasetItemId",
        "content_type": "contentType",
        "content_length": "contentLength",
        "sha256_hash": "sha256Hash",
    }

    @extend_schema(request=MediaUploadRequestSerializer, responses=MediaUploadResponseSerializer)
    def create(self, request):
        body = MediaUploadRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        ticket = media_upload_request(project=self.project, **body.service_arguments())
        upload_url = links.upload_url(ticket.media, base_url=_site(request)) if ticket.needs_upload else None
        return Response({"mediaId": ticket.media.media_id, "uploadUrl": upload_url}, status=status.HTTP_200_OK)

    def retrieve(self, request, media_id):
        media = media_get(project=self.project, media_id=media_id)
        if media is None:
            raise NotFound(f"Media not found: {media_id}")
        if media.uploaded_at is None:
            raise NotFound(f"Media not yet uploaded: {media_id}")
        url, expiry = links.download_url(media, base_url=_site(request))
        shown = {
            "media_id": media.media_id, "content_type": media.content_type, "content_length": media.content_length,
            "uploaded_at": media.uploaded_at, "url": url, "urlExpiry": expiry,
        }
        return Response(MediaSerializer(shown).data)

    @extend_schema(request=MediaPatchSerializer, responses={204: None})
    def partial_update(self, request, media_id):
        body = MediaPatchSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        media_upload_report(project=self.project, media_id=media_id, **body.service_arguments())
        return Response(status=status.HTTP_204_NO_CONTENT)
