from django.urls import path

from dashboards.api import MetricsV2ViewSet, MetricsViewSet
from dashboards.pages import ProjectHomePage, SdkExperimentResultsLink, SdkTraceLink

# Under /api/public/.
api_urlpatterns = [
    path("metrics", MetricsViewSet.as_view({"get": "list"}), name="api-metrics"),
    path("v2/metrics", MetricsV2ViewSet.as_view({"get": "list"}), name="api-metrics-v2"),
]
# Under /projects/<project_id>/.
page_urlpatterns = [
    path("", ProjectHomePage.as_view(), name="project-home"),
]
# Under /project/<project_id>/: the SDK's links to Langfuse's UI routes. Trace ids may contain "/".
sdk_link_urlpatterns = [
    path("traces/<path:trace_id>", SdkTraceLink.as_view(), name="sdk-trace-link"),
    path("experiments/results", SdkExperimentResultsLink.as_view(), name="sdk-experiment-results-link"),
]
