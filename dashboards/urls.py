from django.urls import path

from dashboards.analytics_page import ScoreAnalyticsPage
from dashboards.api import MetricsV2ViewSet, MetricsViewSet, ScoreAnalyticsViewSet
from dashboards.api_dashboards import DashboardViewSet, DashboardWidgetViewSet
from dashboards.dashboard_pages import DashboardListPage, DashboardPage
from dashboards.pages import ProjectHomePage, SdkExperimentResultsLink, SdkTraceLink

# Under /api/public/.
api_urlpatterns = [
    path("metrics", MetricsViewSet.as_view({"get": "list"}), name="api-metrics"),
    path("v2/metrics", MetricsV2ViewSet.as_view({"get": "list"}), name="api-metrics-v2"),
    path(
        "unstable/dashboards",
        DashboardViewSet.as_view({"get": "list", "post": "create"}),
        name="api-dashboards",
    ),
    path(
        "unstable/dashboards/<str:dashboard_id>",
        DashboardViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"}),
        name="api-dashboard",
    ),
    path(
        "unstable/dashboards/<str:dashboard_id>/placements",
        DashboardViewSet.as_view({"post": "add_placement"}),
        name="api-dashboard-placements",
    ),
    path(
        "unstable/dashboards/<str:dashboard_id>/placements/<str:placement_id>",
        DashboardViewSet.as_view({"patch": "update_placement", "delete": "delete_placement"}),
        name="api-dashboard-placement",
    ),
    path(
        "unstable/dashboard-widgets",
        DashboardWidgetViewSet.as_view({"get": "list", "post": "create"}),
        name="api-dashboard-widgets",
    ),
    path(
        "unstable/dashboard-widgets/<str:widget_id>",
        DashboardWidgetViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"}),
        name="api-dashboard-widget",
    ),
    path("analytics/scores", ScoreAnalyticsViewSet.as_view({"get": "list"}), name="api-score-analytics"),
    path(
        "analytics/scores/summary",
        ScoreAnalyticsViewSet.as_view({"get": "summary"}),
        name="api-score-analytics-summary",
    ),
    path(
        "analytics/scores/comparison",
        ScoreAnalyticsViewSet.as_view({"get": "comparison"}),
        name="api-score-analytics-comparison",
    ),
    path(
        "analytics/scores/calibration",
        ScoreAnalyticsViewSet.as_view({"get": "calibration"}),
        name="api-score-analytics-calibration",
    ),
]
# Under /projects/<project_id>/.
page_urlpatterns = [
    path("", ProjectHomePage.as_view(), name="project-home"),
    path("analytics/scores", ScoreAnalyticsPage.as_view(), name="score-analytics"),
    path("dashboards", DashboardListPage.as_view(), name="dashboard-list"),
    path("dashboards/<str:dashboard_id>", DashboardPage.as_view(), name="dashboard-detail"),
]
# Under /project/<project_id>/: the SDK's links to Langfuse's UI routes. Trace ids may contain "/".
sdk_link_urlpatterns = [
    path("traces/<path:trace_id>", SdkTraceLink.as_view(), name="sdk-trace-link"),
    path("experiments/results", SdkExperimentResultsLink.as_view(), name="sdk-experiment-results-link"),
]
