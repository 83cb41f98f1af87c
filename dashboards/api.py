"""The metrics API: `GET /api/public/metrics?query=<json>` and `GET /api/public/v2/metrics?query=<json>`.

Both answer `{"data": [row, …]}` (the SDK's MetricsV2Response). A query the engine cannot answer is a
400 whose message names the part at fault.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from dashboards.analytics.scores import judge_calibration, score_comparison, score_series_list, score_summary
from dashboards.metrics.query import parse_query_text
from dashboards.selectors import metrics_query
from dashboards.serializers import (
    CalibrationQuerySerializer,
    ComparisonQuerySerializer,
    RangeSerializer,
    SummaryQuerySerializer,
)
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


class ScoreAnalyticsViewSet(ProjectScopedViewSet):
    """`/api/public/analytics/scores…`: our own score analytics (not in Langfuse's API).

    * `GET analytics/scores` — the score series with data in the range (name, source, evaluator version).
    * `GET analytics/scores/summary?score=…` — distribution, trend and breakdown of one series.
    * `GET analytics/scores/comparison?scores=[…]` — agreement of two or more series on the same objects.
    * `GET analytics/scores/calibration?judge=…&gold=…` — a judge against human gold over time.
    """

    queryset = Trace.objects.none()
    pagination_class = None

    def _input(self, serializer_class):
        serializer = serializer_class(data=self.request.query_params.dict())
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        return data, {"from_timestamp": data["fromTimestamp"], "to_timestamp": data["toTimestamp"]}

    @extend_schema(parameters=[RangeSerializer], responses={200: OpenApiTypes.OBJECT})
    def list(self, request):
        _, window = self._input(RangeSerializer)
        return Response({"data": score_series_list(project=self.project, **window)})

    @extend_schema(parameters=[SummaryQuerySerializer], responses={200: OpenApiTypes.OBJECT})
    def summary(self, request):
        data, window = self._input(SummaryQuerySerializer)
        return Response(
            score_summary(
                project=self.project,
                spec=data["score"],
                breakdown=data["breakdown"],
                granularity=data["granularity"],
                bins=data["bins"],
                **window,
            )
        )

    @extend_schema(parameters=[ComparisonQuerySerializer], responses={200: OpenApiTypes.OBJECT})
    def comparison(self, request):
        data, window = self._input(ComparisonQuerySerializer)
        return Response(score_comparison(project=self.project, specs=data["scores"], **window))

    @extend_schema(parameters=[CalibrationQuerySerializer], responses={200: OpenApiTypes.OBJECT})
    def calibration(self, request):
        data, window = self._input(CalibrationQuerySerializer)
        return Response(
            judge_calibration(
                project=self.project,
                judge=data["judge"],
                gold=data["gold"],
                granularity=data["granularity"],
                metric=data.get("metric"),
                threshold=data.get("threshold"),
                **window,
            )
        )
