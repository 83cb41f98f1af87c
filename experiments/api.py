"""Experiment (dataset run) endpoints: the v4+ cursor reads, the legacy dataset-run endpoints of
older SDKs, our comparison, and platform runs (`/experiments/runs`: start, follow, cancel).

Thin views: validate the query or body, call one selector, service or builder, shape the answer.
Reads go through experiments/selectors.py, which scope them to the key's project."""

from __future__ import annotations

from collections import defaultdict

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from datasets import selectors as dataset_selectors
from evalsite.api.cursors import keyset_page
from evalsite.api.errors import validation_error_for_wire
from evalsite.api.pagination import PagePagination
from evalsite.api.viewsets import ProjectScopedViewSet
from evalsite.tenancy.actors import Actor
from evalsite.tenancy.roles import Role
from experiments import comparison, selectors, services
from experiments import serializers as s
from scoring import selectors as score_selectors
from traces import selectors as trace_selectors


def _group_scores(scores, key: str, limit: int) -> dict[str, list]:
    grouped: dict[str, list] = defaultdict(list)
    for score in sorted(scores, key=lambda score: (score.timestamp, score.score_id), reverse=True):
        bucket = grouped[getattr(score, key)]
        if len(bucket) < limit:
            bucket.append(score)
    return grouped


def _query(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class ExperimentViewSet(ProjectScopedViewSet):
    """`GET /experiments` (newest activity first, cursor pages) and `GET /experiments/compare`."""

    filter_backends = []  # reads filter through the selectors, not django-filter

    @extend_schema(parameters=[s.ExperimentListQuerySerializer], responses=s.ExperimentsResponse)
    def list(self, request):
        query = _query(s.ExperimentListQuerySerializer, request)
        runs = selectors.experiment_run_list(
            project=self.project,
            active_since=query["fromStartTime"],
            started_before=query.get("toStartTime"),
            run_ids=s.comma_list(query.get("id")),
            names=s.comma_list(query.get("name")),
            dataset_ids=s.comma_list(query.get("datasetId")),
            conditions=query["filter"],
        )
        runs, cursor = keyset_page(runs, sort_field="activity_at", after=query.get("cursor"), limit=query["limit"])
        scores: dict[str, list] = {}
        if "scores" in query["fields"] and runs:
            scores = _group_scores(
                score_selectors.score_list_for_runs(project=self.project, run_ids=[run.run_id for run in runs]),
                "dataset_run_id",
                query["scoreLimit"],
            )
        data = [s.experiment_dict(run, query["fields"], scores.get(run.run_id)) for run in runs]
        return Response({"data": data, "meta": {"cursor": cursor}})

    @extend_schema(
        parameters=[s.ComparisonQuerySerializer],
        responses=OpenApiTypes.OBJECT,
        description="Baseline vs candidate run(s): per-run summaries, a paired test per score, per-item deltas.",
    )
    def compare(self, request):
        query = _query(s.ComparisonQuerySerializer, request)
        try:
            candidates = comparison.parse_run_ids(query["candidate"], field_name="candidate")
            run_ids = [query["baseline"], *[run_id for run_id in candidates if run_id != query["baseline"]]]
            if len(run_ids) < 2:
                raise comparison.ComparisonError("candidate", "name a candidate run other than the baseline")
            if len(run_ids) > comparison.MAX_RUNS:
                raise comparison.ComparisonError("candidate", f"compare at most {comparison.MAX_RUNS - 1} candidates")
            result = comparison.comparison_build(
                project=self.project, run_ids=run_ids, baseline_id=query["baseline"], method=query["method"]
            )
        except comparison.ComparisonError as error:
            raise ValidationError({error.field: [error.message]}) from None
        except comparison.RunNotFound as error:
            raise NotFound(str(error)) from None
        return Response(result.to_dict(include_items=query["includeItems"]))


class ExperimentItemViewSet(ProjectScopedViewSet):
    """`GET /experiment-items`: run items, newest first, cursor pages."""

    filter_backends = []  # reads filter through the selectors, not django-filter

    @extend_schema(parameters=[s.ExperimentItemListQuerySerializer], responses=s.ExperimentItemsResponse)
    def list(self, request):
        query = _query(s.ExperimentItemListQuerySerializer, request)
        items = selectors.run_item_list(
            project=self.project,
            started_since=query["fromStartTime"],
            started_before=query.get("toStartTime"),
            run_ids=s.comma_list(query.get("experimentId")),
            run_names=s.comma_list(query.get("experimentName")),
            item_keys=s.comma_list(query.get("experimentItemId")),
            dataset_ids=s.comma_list(query.get("datasetId")),
            conditions=query["filter"],
        )
        items, cursor = keyset_page(items, sort_field="start_at", after=query.get("cursor"), limit=query["limit"])
        scores: dict[str, list] = {}
        trace_ids = sorted({item.trace_id for item in items if item.trace_id})
        if "scores" in query["fields"] and trace_ids:
            scores = _group_scores(
                score_selectors.score_list_for_traces(
                    project=self.project, trace_ids=trace_ids,
                    narrow=lambda found: score_selectors.scores_readable_by_key(
                        project=self.project, role=request.auth.role, scores=found
                    ),
                ),
                "trace_id",
                query["scoreLimit"],
            )
        data = [s.experiment_item_dict(item, query["fields"], scores.get(item.trace_id)) for item in items]
        return Response({"data": data, "meta": {"cursor": cursor}})


class DatasetRunItemViewSet(ProjectScopedViewSet):
    """Legacy `POST`/`GET /dataset-run-items` (SDK v2–v4 `item.link()` and run reads)."""

    filter_backends = []  # reads filter through the selectors, not django-filter
    pagination_class = PagePagination
    required_roles = {"create": Role.MEMBER}

    @extend_schema(request=s.DatasetRunItemCreateSerializer, responses=s.DatasetRunItemResponse)
    def create(self, request):
        serializer = s.DatasetRunItemCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        body = serializer.validated_data
        dataset_item = dataset_selectors.dataset_item_find(project=self.project, item_id=body["datasetItemId"])
        if dataset_item is None:
            raise NotFound(f"Dataset item not found: {body['datasetItemId']}")
        trace_id = body.get("traceId")
        if not trace_id:
            observation = trace_selectors.observation_get(project=self.project, observation_id=body["observationId"])
            trace_id = observation.trace_id if observation is not None else None
            if trace_id is None:
                raise ValidationError(
                    {"traceId": ["required: the observation is not (yet) stored, so its trace is unknown"]}
                )
        item = services.dataset_run_item_link(
            project=self.project,
            dataset_item=dataset_item,
            run_name=body["runName"],
            run_description=body.get("runDescription"),
            metadata=body.get("metadata"),
            trace_id=trace_id,
            observation_id=body.get("observationId"),
            dataset_version=body.get("datasetVersion"),
            created_at=body.get("createdAt"),
        )
        return Response(s.dataset_run_item_dict(item))

    @extend_schema(parameters=[s.DatasetRunItemListQuerySerializer], responses=s.DatasetRunItemResponse(many=True))
    def list(self, request):
        query = _query(s.DatasetRunItemListQuerySerializer, request)
        items = selectors.run_item_list_for_dataset_run(
            project=self.project, dataset_id=query["datasetId"], run_name=query["runName"]
        )
        page = self.paginate_queryset(items)
        return self.get_paginated_response([s.dataset_run_item_dict(item) for item in page])


DATASET_NAME = OpenApiParameter("dataset_name", str, OpenApiParameter.PATH, description="percent-encoded")
RUN_NAME = OpenApiParameter("run_name", str, OpenApiParameter.PATH, description="percent-encoded")


class DatasetRunViewSet(ProjectScopedViewSet):
    """Legacy `GET /datasets/{name}/runs` and `GET`/`DELETE /datasets/{name}/runs/{run}`."""

    filter_backends = []  # reads filter through the selectors, not django-filter
    pagination_class = PagePagination

    def _dataset(self, name: str):
        dataset = dataset_selectors.dataset_find_by_name(project=self.project, name=name)
        if dataset is None:
            raise NotFound(f"Dataset not found: {name}")
        return dataset

    def _runs(self) -> QuerySet:
        """The runs named by the URL (see selectors.experiment_run_list_by_path for the split)."""
        dataset_name, run_name = self.kwargs["dataset_name"], self.kwargs["run_name"]
        runs = selectors.experiment_run_list_by_path(project=self.project, dataset_name=dataset_name, run_name=run_name)
        if runs is None:
            raise NotFound(f"Dataset not found: {dataset_name}")
        return runs

    @extend_schema(parameters=[DATASET_NAME], responses=s.DatasetRunResponse(many=True))
    def list(self, request, dataset_name: str):
        dataset = self._dataset(dataset_name)
        page = self.paginate_queryset(selectors.experiment_run_list_for_dataset(project=self.project, dataset=dataset))
        return self.get_paginated_response([s.dataset_run_dict(run) for run in page])

    @extend_schema(parameters=[DATASET_NAME, RUN_NAME], responses=s.DatasetRunWithItemsResponse)
    def retrieve(self, request, dataset_name: str, run_name: str):
        run = self._runs().first()
        if run is None:
            raise NotFound(f"Dataset run not found: {run_name}")
        items = selectors.run_item_list_for_run(project=self.project, run=run)
        return Response({**s.dataset_run_dict(run), "datasetRunItems": [s.dataset_run_item_dict(i) for i in items]})

    @extend_schema(parameters=[DATASET_NAME, RUN_NAME], responses=s.MessageResponse)
    def destroy(self, request, dataset_name: str, run_name: str):
        runs = list(self._runs())
        if not runs:
            raise NotFound(f"Dataset run not found: {run_name}")
        services.experiment_run_delete(project=self.project, runs=runs, actor=Actor.from_request(request))
        return Response({"message": "Dataset run successfully deleted"})


# experiment_run_start's arguments → the fields of POST /experiments/runs.
RUN_START_FIELDS = {
    "dataset_name": "datasetName",
    "run_name": "runName",
    "description": "runDescription",
    "prompt_name": "promptName",
    "prompt_version": "promptVersion",
    "prompt_label": "promptLabel",
    "model_parameters": "modelParameters",
}


class ExperimentRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ProjectScopedViewSet):
    """`/experiments/runs`: start platform runs, follow their progress, cancel them."""

    filter_backends = []  # reads filter through the selectors, not django-filter
    serializer_class = s.ExperimentRunStatusSerializer
    lookup_field = "run_id"
    required_roles = {"create": Role.MEMBER, "cancel": Role.MEMBER}

    def base_queryset(self):
        return selectors.experiment_run_list_recent(project=self.project)

    @extend_schema(request=s.ExperimentRunStartSerializer, responses={202: s.ExperimentRunStatusSerializer})
    def create(self, request):
        given = s.ExperimentRunStartSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        try:
            run = services.experiment_run_start(
                project=self.project,
                dataset_name=data["datasetName"],
                run_name=data["runName"],
                description=data.get("runDescription"),
                metadata=data.get("metadata"),
                prompt_name=data["promptName"],
                prompt_version=data.get("promptVersion"),
                prompt_label=data.get("promptLabel"),
                provider=data["provider"],
                model=data["model"],
                model_parameters=data.get("modelParameters"),
                concurrency=data["concurrency"],
                trials=data["trials"],
                evaluators=data.get("evaluators"),
                actor=Actor.from_request(request),
            )
        except DjangoValidationError as error:
            raise validation_error_for_wire(error, RUN_START_FIELDS) from None
        return Response(self.get_serializer(run).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses=s.ExperimentRunStatusSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, run_id=None):
        run = services.experiment_run_cancel(project=self.project, run=self.get_object(), actor=Actor.from_request(request))
        return Response(self.get_serializer(run).data)
