from django.urls import path

from scoring.api import ScoreConfigViewSet, ScoreV3ViewSet, ScoreViewSet

# Routes under /api/public/ (no trailing slashes) and under /projects/<project_id>/.
api_urlpatterns = [
    path("scores", ScoreViewSet.as_view({"get": "list", "post": "create"}), name="api-scores"),
    path(
        "scores/<str:score_id>",
        ScoreViewSet.as_view({"get": "retrieve", "delete": "destroy"}),
        name="api-score",
    ),
    path("v2/scores", ScoreViewSet.as_view({"get": "list"}), name="api-v2-scores"),
    path("v2/scores/<str:score_id>", ScoreViewSet.as_view({"get": "retrieve"}), name="api-v2-score"),
    path("v3/scores", ScoreV3ViewSet.as_view({"get": "list"}), name="api-v3-scores"),
    path(
        "score-configs",
        ScoreConfigViewSet.as_view({"get": "list", "post": "create"}),
        name="api-score-configs",
    ),
    path(
        "score-configs/<str:config_id>",
        ScoreConfigViewSet.as_view({"get": "retrieve", "patch": "partial_update"}),
        name="api-score-config",
    ),
]
page_urlpatterns = []
