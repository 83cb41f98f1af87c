"""Dataset endpoints: Langfuse's v2 datasets, dataset items, the legacy v1 dataset reads, and our
imports and exports. Thin views: an input serializer, one service or selector, an output serializer."""

from django.http import StreamingHttpResponse
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from datasets import exporting, importing, selectors, services
from datasets.models import CellFormat, Dataset, DatasetItem, ImportFormat, ImportJob, ImportMode
from datasets.serializers import (
    DatasetItemDeletedSerializer,
    DatasetItemListQuerySerializer,
    DatasetItemSerializer,
    DatasetItemUpsertSerializer,
    DatasetSerializer,
    DatasetUpsertSerializer,
    DatasetV1Serializer,
    ImportCreateSerializer,
    ImportJobSerializer,
    dataset_item_context,
)
from datasets.uploads import ImportUploadHandler
from evalsite.api.fields import TimestampField
from evalsite.api.pagination import PagePagination
from evalsite.api.parsers import JSONParser
from evalsite.api.viewsets import ProjectScopedViewSet
from evalsite.tenancy.actors import Actor

# How the wire spells the datasets services' argument names in error details.
WIRE_FIELD_NAMES = {"input_schema": "inputSchema", "expected_output_schema": "expectedOutputSchema"}


class DatasetViewSet(ProjectScopedViewSet):
    """`/v2/datasets`: upsert by name, list, and get by name (names may contain '/')."""

    wire_field_names = WIRE_FIELD_NAMES

    queryset = Dataset.objects.all()
    serializer_class = DatasetSerializer

    def list(self, request):
        page = self.paginate_queryset(selectors.dataset_list(project=self.project))
        return self.get_paginated_response(DatasetSerializer(page, many=True).data)

    @extend_schema(request=DatasetUpsertSerializer, responses=DatasetSerializer)
    def create(self, request):
        serializer = DatasetUpsertSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        dataset = services.dataset_upsert(
            project=self.project, actor=Actor.from_request(request), **serializer.service_arguments()
        )
        return Response(DatasetSerializer(dataset).data)

    def retrieve(self, request, dataset_name: str):
        dataset = selectors.dataset_get_by_name(project=self.project, name=dataset_name)
        return Response(DatasetSerializer(dataset).data)


class DatasetV1ViewSet(ProjectScopedViewSet):
    """The legacy `/datasets` reads of SDK v2–v4: each dataset with its ACTIVE items and run names."""

    wire_field_names = WIRE_FIELD_NAMES

    queryset = Dataset.objects.all()
    serializer_class = DatasetV1Serializer

    def _v1(self, datasets: list[Dataset]) -> list[dict]:
        datasets = selectors.datasets_with_items_and_runs(project=self.project, datasets=datasets)
        return DatasetV1Serializer(datasets, many=True, context={"request": self.request}).data

    def list(self, request):
        page = self.paginate_queryset(selectors.dataset_list(project=self.project))
        return self.get_paginated_response(self._v1(page))

    def retrieve(self, request, dataset_name: str):
        dataset = selectors.dataset_get_by_name(project=self.project, name=dataset_name)
        return Response(self._v1([dataset])[0])


class ItemPagination(PagePagination):
    """Deep pages cheaply: the offset is walked reading item ids only (served by the list-order
    index, without touching the wide rows), then the page's rows are read by id. The SDK reads a
    10,000-item dataset as 200 pages of 50, the last ones at offsets near 10,000."""

    def paginate_queryset(self, queryset, request, view=None):
        item_ids = super().paginate_queryset(queryset.values_list("item_id", flat=True), request, view)
        rows = {row.item_id: row for row in queryset.filter(item_id__in=item_ids)}
        return [rows[item_id] for item_id in item_ids]


class DatasetItemViewSet(ProjectScopedViewSet):
    wire_field_names = WIRE_FIELD_NAMES
    queryset = DatasetItem.objects.all()
    serializer_class = DatasetItemSerializer
    pagination_class = ItemPagination

    @extend_schema(
        parameters=[
            OpenApiParameter("datasetName", str),
            OpenApiParameter("version", OpenApiTypes.DATETIME, description="Read the items as of this time"),
            OpenApiParameter("sourceTraceId", str),
            OpenApiParameter("sourceObservationId", str),
            OpenApiParameter("page", int),
            OpenApiParameter("limit", int, description="At most 1000"),
        ]
    )
    def list(self, request):
        """ACTIVE items, current or as of `version`, newest first (as Langfuse lists them)."""
        query = DatasetItemListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        dataset = None
        if "datasetName" in params:
            dataset = selectors.dataset_get_by_name(project=self.project, name=params["datasetName"])
        items = selectors.dataset_item_list(
            project=self.project,
            dataset=dataset,
            version=params.get("version"),
            source_trace_id=params.get("sourceTraceId"),
            source_observation_id=params.get("sourceObservationId"),
        ).reverse()
        page = self.paginate_queryset(items)
        context = dataset_item_context(request=request, project=self.project, items=page)
        return self.get_paginated_response(DatasetItemSerializer(page, many=True, context=context).data)

    @extend_schema(request=DatasetItemUpsertSerializer, responses=DatasetItemSerializer)
    def create(self, request):
        serializer = DatasetItemUpsertSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        item = services.dataset_item_upsert(
            project=self.project, actor=Actor.from_request(request), **serializer.service_arguments()
        )
        return Response(DatasetItemSerializer(item, context={"request": request}).data)

    def retrieve(self, request, item_id: str):
        item = selectors.dataset_item_get(project=self.project, item_id=item_id)
        return Response(DatasetItemSerializer(item, context={"request": request}).data)

    @extend_schema(responses=DatasetItemDeletedSerializer)
    def destroy(self, request, item_id: str):
        item = selectors.dataset_item_get(project=self.project, item_id=item_id)
        services.dataset_item_delete(project=self.project, item=item, actor=Actor.from_request(request))
        return Response({"message": f"Dataset item {item_id} deleted"})


class DatasetImportViewSet(ProjectScopedViewSet):
    """Start an import (202 with the job) and follow it."""

    wire_field_names = WIRE_FIELD_NAMES

    queryset = ImportJob.objects.all()
    serializer_class = ImportJobSerializer
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @extend_schema(request=ImportCreateSerializer, responses={202: ImportJobSerializer})
    def create(self, request, dataset_name: str):
        dataset = selectors.dataset_get_by_name(project=self.project, name=dataset_name)
        # Before the body is read: a multipart file streams to disk and stops at the size limit (413).
        request.upload_handlers = [ImportUploadHandler(request)]
        serializer = ImportCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        upload = data.get("file")
        if upload:
            content, filename = importing.decode_upload_file(upload), data.get("filename") or upload.name or ""
        else:
            content, filename = data["content"], data.get("filename") or ""
        job = importing.import_job_create(
            project=self.project,
            dataset=dataset,
            import_format=data.get("format"),
            content=content,
            mapping=data.get("mapping"),
            mode=data.get("mode") or ImportMode.SKIP_INVALID,
            cell_format=data.get("cellFormat") or CellFormat.TEXT,
            filename=filename,
            actor=Actor.from_request(request),
        )
        return Response(ImportJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)

    def retrieve(self, request, job_id: str):
        job = selectors.import_job_get(project=self.project, job_id=job_id)
        return Response(ImportJobSerializer(job).data)


class ExportQuerySerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=ImportFormat.values, required=False, default=ImportFormat.JSONL)
    version = TimestampField(required=False)
    includeArchived = serializers.BooleanField(required=False, default=False)


class FormatIsOurs(DefaultContentNegotiation):
    """`?format=` is this endpoint's own parameter (csv|jsonl), not DRF's renderer override;
    errors are always JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class DatasetExportViewSet(ProjectScopedViewSet):
    queryset = Dataset.objects.all()
    content_negotiation_class = FormatIsOurs

    @extend_schema(
        parameters=[
            OpenApiParameter("format", str, enum=ImportFormat.values),
            OpenApiParameter("version", OpenApiTypes.DATETIME),
            OpenApiParameter("includeArchived", bool),
        ],
        responses={(200, "text/csv"): OpenApiTypes.STR, (200, "application/x-ndjson"): OpenApiTypes.STR},
    )
    def export(self, request, dataset_name: str):
        """Stream the items (ACTIVE unless includeArchived), current or as of `version`."""
        query = ExportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        dataset = selectors.dataset_get_by_name(project=self.project, name=dataset_name)
        response = StreamingHttpResponse(
            exporting.export_chunks(
                project=self.project,
                dataset=dataset,
                export_format=params["format"],
                version=params.get("version"),
                include_archived=params["includeArchived"],
            ),
            content_type=exporting.CONTENT_TYPES[params["format"]],
        )
        response["Content-Disposition"] = content_disposition_header(
            True, exporting.export_filename(dataset, params["format"])
        )
        return response
