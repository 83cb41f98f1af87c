"""`/api/public/v2/evaluators`, `/api/public/v2/evaluation-rules` (Langfuse's v2 API), and our
additions: `POST /api/public/experiments/runs/{id}/evaluations` (backfill a run), `…/pairwise` (judge
a run against a baseline, pair by pair), the evaluation
jobs ledger with retry, and "why didn't it fire" for a trace.

Errors on these routes have the shape of the SDK's `PublicApiError` (`message`, `code`, `details`
with `issues`), beside the platform's `error` name, so the SDK raises its own typed errors.
"""

from __future__ import annotations

from django.db.models import Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from evalsite.api.errors import exception_handler as platform_exception_handler
from evalsite.api.fields import TimestampField
from evalsite.api.viewsets import ProjectScopedViewSet
from evalsite.tenancy.actors import Actor
from evaluators import backfill, budgets, explain, jobs, offline, pairwise, run_level, selectors, services
from evaluators import serializers as s
from evaluators.models import EvaluationJob, EvaluationRule, Evaluator, RuleAssignment
from experiments import selectors as experiment_selectors

ERROR_CODES = {
    401: "authentication_failed",
    403: "access_denied",
    404: "resource_not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "invalid_body",
    415: "invalid_body",
    429: "rate_limited",
}


def _issues(detail, path=()) -> list[dict]:
    if isinstance(detail, dict):
        return [issue for key, value in detail.items() for issue in _issues(value, (*path, key))]
    if isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            return [{"code": getattr(item, "code", "invalid"), "message": str(item), "path": list(path)} for item in detail]
        return [issue for index, item in enumerate(detail) for issue in _issues(item, (*path, index))]
    return [{"code": "invalid", "message": str(detail), "path": list(path)}]


def public_api_exception_handler(exc, context):
    response = platform_exception_handler(exc, context)
    if response is None:
        return None
    request = context.get("request")
    body = dict(response.data)
    if response.status_code == 400:
        body["code"] = "invalid_query" if request is not None and request.method == "GET" else "invalid_body"
    else:
        body["code"] = ERROR_CODES.get(response.status_code, "invalid_request")
    details = body.pop("details", None)
    body["details"] = {"issues": _issues(details)} if details is not None else None
    if response.status_code == 429 and response.headers.get("Retry-After"):
        body["details"] = {"retryAfterSeconds": int(response.headers["Retry-After"])}
    response.data = body
    return response


class PublicApiViewSet(ProjectScopedViewSet):
    filter_backends = []

    def get_exception_handler(self):
        return public_api_exception_handler

    def parsed(self, serializer_class, data):
        if not isinstance(data, dict):
            from rest_framework.exceptions import ValidationError

            raise ValidationError({"body": ["The body must be a JSON object."]})
        serializer = serializer_class(data=data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


def _page(queryset, query) -> tuple[list, str | None]:
    after = s.decode_cursor(query.get("cursor"))
    if after is not None:
        moment, pk = after
        queryset = queryset.filter(Q(created_at__lt=moment) | Q(created_at=moment, pk__lt=pk))
    rows = list(queryset.order_by("-created_at", "-pk")[: query["limit"] + 1])
    if len(rows) <= query["limit"]:
        return rows, None
    rows = rows[: query["limit"]]
    return rows, s.encode_cursor(rows[-1].created_at, rows[-1].pk)


EVALUATOR_WIRE_NAMES = {
    "kind": "type", "model_config": "modelConfig", "model_parameters": "modelParameters",
    "variable_mapping": "variableMapping", "output_definition": "outputDefinition",
    "score_config_id": "scoreConfigId",
}


def _definition_changes(data: dict) -> dict:
    names = {
        "prompt": "prompt", "modelConfig": "model_config", "modelParameters": "model_parameters",
        "variableMapping": "variable_mapping", "outputDefinition": "output_definition",
        "scoreConfigId": "score_config_id", "check": "check",
    }
    return {service: data[wire] for wire, service in names.items() if wire in data}


class EvaluatorViewSet(PublicApiViewSet):
    queryset = Evaluator.objects.all()
    wire_field_names = EVALUATOR_WIRE_NAMES

    def _one(self, evaluator_id: str) -> Evaluator:
        evaluator = selectors.evaluator_list(project=self.project).filter(pk=evaluator_id).first()
        if evaluator is None:
            raise NotFound(f"Evaluator not found: {evaluator_id}")
        return evaluator

    def _render(self, evaluators: list[Evaluator]) -> list[dict]:
        ids = [e.pk for e in evaluators]
        versions = services.latest_versions(project=self.project, evaluator_ids=ids)
        assignments: dict[str, list] = {}
        for assignment in RuleAssignment.objects.filter(project=self.project, evaluator_id__in=ids).order_by("-created_at"):
            assignments.setdefault(assignment.evaluator_id, []).append(assignment)
        exhausted = selectors.project_over_budget(project=self.project)
        return [s.evaluator_dict(e, versions[e.pk], assignments.get(e.pk, []), budget_exhausted=exhausted) for e in evaluators]

    @extend_schema(parameters=[s.EvaluatorListQuerySerializer], responses=OpenApiTypes.OBJECT,
                   operation_id="public_v2_evaluators_list")
    def list(self, request):
        query = self.parsed(s.EvaluatorListQuerySerializer, request.query_params.dict())
        # Checks are ours: the SDK's evaluator union knows llm_as_judge and code only, so a
        # default list returns judges, and checks come with ?type=check.
        kinds = (query["type"],) if query.get("type") else ("llm_as_judge",)
        rows, cursor = _page(
            selectors.evaluator_list(project=self.project, kinds=kinds).select_related("created_by"), query
        )
        return Response({"data": self._render(rows), "meta": {"cursor": cursor}})

    @extend_schema(request=s.EvaluatorWriteSerializer, responses=OpenApiTypes.OBJECT)
    def create(self, request):
        data = self.parsed(s.EvaluatorWriteSerializer, request.data)
        if "name" not in data:
            from rest_framework.exceptions import ValidationError

            raise ValidationError({"name": ["This field is required."]})
        evaluator = services.evaluator_create(
            project=self.project, name=data["name"], kind=data.get("type", "llm_as_judge"),
            description=data.get("description"), actor=Actor.from_request(request), **_definition_changes(data),
        )
        return Response(self._render([evaluator])[0], status=status.HTTP_200_OK)

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def retrieve(self, request, evaluator_id: str):
        return Response(self._render([self._one(evaluator_id)])[0])

    @extend_schema(request=s.EvaluatorWriteSerializer, responses=OpenApiTypes.OBJECT)
    def partial_update(self, request, evaluator_id: str):
        evaluator = self._one(evaluator_id)
        data = self.parsed(s.EvaluatorWriteSerializer, request.data)
        changes = {key: data[key] for key in ("name", "description") if key in data}
        definition = _definition_changes(data)
        if definition or "type" in data:
            # A definition is replaced whole: what is not sent is reset (modelConfig → none).
            definition.setdefault("model_config", None)
        evaluator = services.evaluator_update(
            project=self.project, evaluator=evaluator, kind=data.get("type"), actor=Actor.from_request(request),
            **changes, **definition,
        )
        return Response(self._render([evaluator])[0])

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def destroy(self, request, evaluator_id: str):
        evaluator = self._one(evaluator_id)
        services.evaluator_delete(project=self.project, evaluator=evaluator, actor=Actor.from_request(request))
        return Response({"id": evaluator_id})

    @extend_schema(parameters=[s.PageQuerySerializer], responses=OpenApiTypes.OBJECT)
    def versions(self, request, evaluator_id: str):
        evaluator = self._one(evaluator_id)
        query = self.parsed(s.PageQuerySerializer, request.query_params.dict())
        versions = selectors.evaluator_version_list(project=self.project, evaluator=evaluator)
        start = int(query.get("cursor") or 0) if (query.get("cursor") or "0").isdigit() else None
        if start is None:
            from rest_framework.exceptions import ValidationError

            raise ValidationError({"cursor": ["is not a cursor returned by this endpoint"]})
        rows = list(versions[start : start + query["limit"] + 1])
        cursor = str(start + query["limit"]) if len(rows) > query["limit"] else None
        return Response({"data": [s.evaluator_version_dict(v) for v in rows[: query["limit"]]], "meta": {"cursor": cursor}})


RULE_WIRE_NAMES = {"evaluator_assignments": "evaluatorAssignments", "delay_seconds": "delaySeconds", "monthly_budget": "monthlyBudget"}
RULE_FIELDS = {
    "name": "name", "enabled": "enabled", "sampling": "sampling", "filter": "filter",
    "evaluatorAssignments": "evaluator_assignments", "target": "target", "delaySeconds": "delay_seconds",
    "monthlyBudget": "monthly_budget",
}


class EvaluationRuleViewSet(PublicApiViewSet):
    queryset = EvaluationRule.objects.all()
    wire_field_names = RULE_WIRE_NAMES

    def _one(self, rule_id: str) -> EvaluationRule:
        rule = selectors.evaluation_rule_list(project=self.project).filter(pk=rule_id).first()
        if rule is None:
            raise NotFound(f"Evaluation rule not found: {rule_id}")
        return rule

    def _changes(self, data: dict) -> dict:
        changes = {service: data[wire] for wire, service in RULE_FIELDS.items() if wire in data}
        if "evaluator_assignments" in changes:
            changes["evaluator_assignments"] = [dict(a) for a in changes["evaluator_assignments"]]
        return changes

    @extend_schema(parameters=[s.PageQuerySerializer], responses=OpenApiTypes.OBJECT,
                   operation_id="public_v2_evaluation_rules_list")
    def list(self, request):
        query = self.parsed(s.PageQuerySerializer, request.query_params.dict())
        rows, cursor = _page(selectors.evaluation_rule_list(project=self.project).select_related("created_by"), query)
        return Response({"data": [s.rule_dict(rule) for rule in rows], "meta": {"cursor": cursor}})

    @extend_schema(request=s.RuleWriteSerializer, responses=OpenApiTypes.OBJECT)
    def create(self, request):
        data = self.parsed(s.RuleWriteSerializer, request.data)
        missing = [name for name in ("name", "enabled", "evaluatorAssignments") if name not in data]
        if missing:
            from rest_framework.exceptions import ValidationError

            raise ValidationError({name: ["This field is required."] for name in missing})
        rule = services.evaluation_rule_create(project=self.project, actor=Actor.from_request(request), **self._changes(data))
        return Response(s.rule_dict(self._one(rule.pk)))

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def retrieve(self, request, rule_id: str):
        rule = self._one(rule_id)
        return Response(s.rule_dict(rule, budget=budgets.budget_state(project=self.project, rule=rule)))

    @extend_schema(request=s.RuleWriteSerializer, responses=OpenApiTypes.OBJECT)
    def partial_update(self, request, rule_id: str):
        rule = self._one(rule_id)
        data = self.parsed(s.RuleWriteSerializer, request.data)
        services.evaluation_rule_update(project=self.project, rule=rule, actor=Actor.from_request(request), **self._changes(data))
        return Response(s.rule_dict(self._one(rule_id)))

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def destroy(self, request, rule_id: str):
        services.evaluation_rule_delete(project=self.project, rule=self._one(rule_id), actor=Actor.from_request(request))
        return Response({"id": rule_id})


class RuleBackfillSerializer(serializers.Serializer):
    fromTimestamp = TimestampField()  # noqa: N815
    toTimestamp = TimestampField()  # noqa: N815
    confirm = serializers.BooleanField(required=False, default=False)


class EvaluationRuleBackfillViewSet(PublicApiViewSet):
    """`POST /v2/evaluation-rules/{id}/backfill`: the estimate, then with `confirm: true` the jobs."""

    queryset = EvaluationRule.objects.all()
    wire_field_names = {"start": "fromTimestamp"}

    @extend_schema(request=RuleBackfillSerializer, responses={200: OpenApiTypes.OBJECT, 202: OpenApiTypes.OBJECT})
    def create(self, request, rule_id: str):
        rule = selectors.evaluation_rule_list(project=self.project).filter(pk=rule_id).first()
        if rule is None:
            raise NotFound(f"Evaluation rule not found: {rule_id}")
        data = self.parsed(RuleBackfillSerializer, request.data)
        window = {"project": self.project, "rule": rule, "start": data["fromTimestamp"], "end": data["toTimestamp"]}
        if not data["confirm"]:
            return Response({"estimate": backfill.rule_backfill_estimate(**window)})
        return Response(backfill.rule_backfill(**window), status=status.HTTP_202_ACCEPTED)


class DecisionsQuerySerializer(serializers.Serializer):
    traceId = serializers.CharField(max_length=128)  # noqa: N815


class TraceEvaluationsViewSet(PublicApiViewSet):
    """`GET /v2/evaluation-rules/decisions?traceId=…`: why each enabled rule did (not) judge a trace."""

    queryset = EvaluationJob.objects.all()

    @extend_schema(parameters=[DecisionsQuerySerializer], responses=OpenApiTypes.OBJECT)
    def list(self, request):
        from traces.selectors import trace_get

        trace_id = self.parsed(DecisionsQuerySerializer, request.query_params.dict())["traceId"]
        if trace_get(project=self.project, trace_id=trace_id) is None:
            raise NotFound(f"Trace not found: {trace_id}")
        return Response({"data": explain.trace_rule_decisions(project=self.project, trace_id=trace_id)})


class RunEvaluationViewSet(PublicApiViewSet):
    """`POST /experiments/runs/{runId}/evaluations`: evaluate a recorded run (SDK or platform)."""

    queryset = EvaluationJob.objects.all()
    wire_field_names = {"evaluators": "evaluators"}

    @extend_schema(request=s.RunEvaluationsSerializer, responses={202: OpenApiTypes.OBJECT})
    def create(self, request, run_id: str):
        run = experiment_selectors.experiment_run_list_by_ids(project=self.project, run_ids=[run_id]).get(run_id)
        if run is None:
            raise NotFound(f"Experiment run not found: {run_id}")
        data = self.parsed(s.RunEvaluationsSerializer, request.data)
        summary = offline.run_evaluate(project=self.project, run=run, evaluators=[dict(a) for a in data["evaluators"]])
        return Response(summary, status=status.HTTP_202_ACCEPTED)


class RunPairwiseViewSet(PublicApiViewSet):
    """`POST /experiments/runs/{runId}/pairwise`: judge this run (the candidate, B) against a
    baseline run (A) item by item with a pairwise evaluator (evaluators/PAIRWISE.md)."""

    queryset = EvaluationJob.objects.all()
    wire_field_names = {"baseline_run_id": "baselineRunId", "evaluator_id": "evaluatorId", "both_orders": "bothOrders"}

    @extend_schema(request=s.RunPairwiseSerializer, responses={202: OpenApiTypes.OBJECT})
    def create(self, request, run_id: str):
        run = experiment_selectors.experiment_run_list_by_ids(project=self.project, run_ids=[run_id]).get(run_id)
        if run is None:
            raise NotFound(f"Experiment run not found: {run_id}")
        data = self.parsed(s.RunPairwiseSerializer, request.data)
        summary = pairwise.run_pairwise_evaluate(
            project=self.project, run=run, baseline_run_id=data["baselineRunId"], evaluator_id=data["evaluatorId"],
            both_orders=data["bothOrders"],
        )
        return Response(summary, status=status.HTTP_202_ACCEPTED)


class RunEvaluatorSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["mean", "precision_recall_f1"])
    scoreName = serializers.CharField(max_length=500)  # noqa: N815
    labelPath = serializers.CharField(required=False, allow_null=True, max_length=500)  # noqa: N815


class RunEvaluatorViewSet(PublicApiViewSet):
    """`POST /experiments/runs/{runId}/run-evaluations`: an aggregate written as run-level scores."""

    queryset = EvaluationJob.objects.all()
    wire_field_names = {"kind": "type", "score_name": "scoreName", "label_path": "labelPath"}

    @extend_schema(request=RunEvaluatorSerializer, responses=OpenApiTypes.OBJECT)
    def create(self, request, run_id: str):
        run = experiment_selectors.experiment_run_list_by_ids(project=self.project, run_ids=[run_id]).get(run_id)
        if run is None:
            raise NotFound(f"Experiment run not found: {run_id}")
        data = self.parsed(RunEvaluatorSerializer, request.data)
        result = run_level.run_evaluator_apply(
            project=self.project, run=run, kind=data["type"], score_name=data["scoreName"], label_path=data.get("labelPath")
        )
        return Response(result)


class EvaluationJobViewSet(PublicApiViewSet):
    """Retry a failed job (`POST /evaluation-jobs/{id}/retry`)."""

    queryset = EvaluationJob.objects.all()

    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def retry(self, request, job_id: str):
        request.data  # noqa: B018  (parsed for its checks: a malformed or oversized body is refused, as everywhere)
        job = selectors.evaluation_job_list(project=self.project).filter(pk=int(job_id) if job_id.isdigit() else -1).first()
        if job is None:
            raise NotFound(f"Evaluation job not found: {job_id}")
        job = jobs.job_retry(project=self.project, job=job, actor=Actor.from_request(request))
        return Response({"id": job.pk, "status": job.get_status_display()})
