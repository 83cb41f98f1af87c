from django.urls import path

from evaluators.api import (
    EvaluationJobViewSet,
    EvaluationRuleBackfillViewSet,
    EvaluationRuleViewSet,
    EvaluatorViewSet,
    RunEvaluationViewSet,
    RunEvaluatorViewSet,
    RunPairwiseViewSet,
    TraceEvaluationsViewSet,
)

# Routes under /api/public/ (no trailing slashes).
api_urlpatterns = [
    path("v2/evaluators", EvaluatorViewSet.as_view({"get": "list", "post": "create"}), name="api-evaluators"),
    path(
        "v2/evaluators/<str:evaluator_id>",
        EvaluatorViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"}),
        name="api-evaluator",
    ),
    path("v2/evaluators/<str:evaluator_id>/versions", EvaluatorViewSet.as_view({"get": "versions"}), name="api-evaluator-versions"),
    # Before v2/evaluation-rules/<rule_id>: rule ids are hex, never "decisions".
    path("v2/evaluation-rules/decisions", TraceEvaluationsViewSet.as_view({"get": "list"}), name="api-rule-decisions"),
    path("v2/evaluation-rules", EvaluationRuleViewSet.as_view({"get": "list", "post": "create"}), name="api-evaluation-rules"),
    path(
        "v2/evaluation-rules/<str:rule_id>",
        EvaluationRuleViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"}),
        name="api-evaluation-rule",
    ),
    path(
        "v2/evaluation-rules/<str:rule_id>/backfill",
        EvaluationRuleBackfillViewSet.as_view({"post": "create"}),
        name="api-evaluation-rule-backfill",
    ),
    path(
        "experiments/runs/<str:run_id>/evaluations",
        RunEvaluationViewSet.as_view({"post": "create"}),
        name="api-run-evaluations",
    ),
    path(
        "experiments/runs/<str:run_id>/pairwise",
        RunPairwiseViewSet.as_view({"post": "create"}),
        name="api-run-pairwise",
    ),
    path(
        "experiments/runs/<str:run_id>/run-evaluations",
        RunEvaluatorViewSet.as_view({"post": "create"}),
        name="api-run-evaluators",
    ),
    path("evaluation-jobs/<str:job_id>/retry", EvaluationJobViewSet.as_view({"post": "retry"}), name="api-evaluation-job-retry"),
]
