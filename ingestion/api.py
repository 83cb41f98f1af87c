"""The ingestion endpoints: OTLP trace export and the legacy batch.

Both read the raw body (refused with a 413 above EVALSITE_MAX_BODY_BYTES, or with more spans or
events than EVALSITE_MAX_SPANS_PER_REQUEST / EVALSITE_MAX_EVENTS_PER_REQUEST), decode it, and call
one service of ingestion/services.py that stores everything in one transaction before the answer.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.response import Response

from evalsite import text
from evalsite.api.errors import PayloadTooLarge
from evalsite.api.viewsets import ProjectScopedViewSet
from evalsite.tenancy.actors import Actor
from evalsite.tenancy.roles import Role
from ingestion import otlp
from ingestion.services import ingestion_batch_ingest, spans_ingest
from traces.models import Trace


def request_body(request) -> bytes:
    """The raw body, refused with a 413 above the configured limit (EVALSITE_MAX_BODY_BYTES)."""
    try:
        return request.body
    except RequestDataTooBig:
        raise PayloadTooLarge(
            f"Request body larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes; send smaller batches"
        ) from None


class OtlpTraceViewSet(ProjectScopedViewSet):
    """`POST /otel/v1/traces`: OTLP/HTTP trace export, protobuf (gzip or plain) or OTLP/JSON.

    The body is read raw (any content type reaches the view, so a wrong one gets our 400, not
    DRF's 415), decoded, mapped and stored before the answer: a 200 means durably stored.
    """

    queryset = Trace.objects.all()
    required_roles = {"create": Role.MEMBER}

    @extend_schema(
        request={"application/x-protobuf": OpenApiTypes.BINARY, "application/json": OpenApiTypes.OBJECT},
        responses={200: OpenApiTypes.OBJECT},
        description="OTLP ExportTraceServiceRequest; empty protobuf answer for protobuf requests, {} for JSON.",
    )
    def create(self, request):
        content_type = request.META.get("CONTENT_TYPE", "")
        body = request_body(request)
        try:
            export = otlp.open_export_request(
                body,
                content_type,
                request.META.get("HTTP_CONTENT_ENCODING"),
                max_bytes=settings.DATA_UPLOAD_MAX_MEMORY_SIZE,
                max_spans=settings.EVALSITE_MAX_SPANS_PER_REQUEST,
            )
            if export:
                # Records are made and mapped as the service writes them, a chunk at a time.
                spans_ingest(project=self.project, spans=map(otlp.map_span, export.by_trace()))
        except otlp.TooManySpans as error:
            raise PayloadTooLarge(
                f"The export holds {error.count} spans; at most {error.limit} spans are accepted per request "
                "(EVALSITE_MAX_SPANS_PER_REQUEST): export smaller batches"
            ) from None
        except otlp.PayloadTooLarge as error:
            raise PayloadTooLarge(str(error)) from None
        except otlp.InvalidContentType:
            raise ParseError(
                f"Invalid content type {content_type!r}: send application/x-protobuf or application/json"
            ) from None
        except otlp.OtlpDecodeError as error:
            # Raised before anything is written, or (a malformed OTLP/JSON span) inside the
            # service's transaction, which it rolls back: either way nothing is stored.
            raise ParseError(f"Invalid OTLP payload: {error}") from None
        if "protobuf" in content_type:
            # An empty ExportTraceServiceResponse serialises to zero bytes.
            return HttpResponse(b"", content_type="application/x-protobuf")
        return Response({})


class IngestionViewSet(ProjectScopedViewSet):
    """`POST /ingestion`: the legacy batch; always 207 with per-event successes and errors."""

    queryset = Trace.objects.all()
    required_roles = {"create": Role.MEMBER}

    @extend_schema(request=OpenApiTypes.OBJECT, responses={207: OpenApiTypes.OBJECT})
    def create(self, request):
        try:
            document = text.loads(request_body(request) or b"null")
        except (ValueError, RecursionError) as error:
            raise ParseError(f"Invalid JSON body: {error}") from None
        if not isinstance(document, dict) or not isinstance(document.get("batch"), list):
            raise ValidationError({"batch": ["is required: an array of ingestion events"]})
        limit = settings.EVALSITE_MAX_EVENTS_PER_REQUEST
        if len(document["batch"]) > limit:
            raise PayloadTooLarge(
                f"The batch holds {len(document['batch'])} events; at most {limit} events are accepted per "
                "request (EVALSITE_MAX_EVENTS_PER_REQUEST): send smaller batches"
            )
        result = ingestion_batch_ingest(
            project=self.project, events=document["batch"], actor=Actor.from_request(request)
        )
        return Response({"successes": result.successes, "errors": result.errors}, status=status.HTTP_207_MULTI_STATUS)
