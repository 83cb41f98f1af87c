"""The metrics API: `GET /api/public/metrics?query=<json>` and `GET /api/public/v2/metrics?query=<json>`.

Both answer `{"data": [row, …]}` (the SDK's MetricsV2Response). A query the engine cannot answer is a
400 whose message names the part at fault.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from dashboards.metrics.query import parse_query_text
from dashboards.selectors import metrics_query
from evalsite.api.viewsets import ProjectScopedViewSet
from traces.models import Trace

QUERY_PARAMETER = OpenApiParameter(
    "query",
    OpenApiTypes.STR,
    required=True,
    description="JSON {view, dimensions, metrics, filters, timeDimension, fromTimestamp, toTimestamp, orderBy, config}",
)


class MetricsViewSet(ProjectScopedViewSet):
    # Scoping comes from the project of the key; the engine reads the project's tables itself.
    queryset = Trace.objects.none()
    pagination_class = None
    version = 1

    @extend_schema(parameters=[QUERY_PARAMETER], responses={200: OpenApiTypes.OBJECT})
    def list(self, request):
        document = parse_query_text(request.query_params.get("query"))
        return Response({"data": metrics_query(project=self.project, query=document, version=self.version)})


class MetricsV2ViewSet(MetricsViewSet):
    version = 2
