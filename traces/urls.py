from django.urls import path

from traces.api import (
    DailyMetricsViewSet,
    ObservationV2ViewSet,
    ObservationViewSet,
    SessionViewSet,
    TraceViewSet,
)
from traces.media import urls as media_urls
from traces.pages import TraceDetailPage

# Routes under /api/public/ (no trailing slashes) and under /projects/<project_id>/.
# Trace, observation and session ids are the client's strings and may contain "/" (the SDK
# percent-encodes it, and Django decodes it before routing), hence <path:…>.
api_urlpatterns = [
    path("traces", TraceViewSet.as_view({"get": "list", "delete": "destroy_many"}), name="api-traces"),
    path(
        "traces/<path:trace_id>",
        TraceViewSet.as_view({"get": "retrieve", "delete": "destroy"}),
        name="api-trace",
    ),
    path("observations", ObservationViewSet.as_view({"get": "list"}), name="api-observations"),
    path(
        "observations/<path:observation_id>",
        ObservationViewSet.as_view({"get": "retrieve"}),
        name="api-observation",
    ),
    path("v2/observations", ObservationV2ViewSet.as_view({"get": "list"}), name="api-v2-observations"),
    path("sessions", SessionViewSet.as_view({"get": "list"}), name="api-sessions"),
    path("sessions/<path:session_id>", SessionViewSet.as_view({"get": "retrieve"}), name="api-session"),
    path("metrics/daily", DailyMetricsViewSet.as_view({"get": "list"}), name="api-metrics-daily"),
    *media_urls.api_urlpatterns,
]
page_urlpatterns = [
    path("traces/<path:trace_id>", TraceDetailPage.as_view(), name="trace-detail"),
]
