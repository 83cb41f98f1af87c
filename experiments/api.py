"""Experiment (dataset run) endpoints: the v4+ cursor reads, the legacy dataset-run endpoints of
older SDKs, and our comparison. Thin views: validate the query or body, call one selector, service
or builder, shape the answer."""

from __future__ import annotations

from collections import defaultdict

from django.db.models import DateTimeField, Q, QuerySet
from django.db.models.functions import Coalesce
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from datasets import selectors as dataset_selectors
from evalsite.api.pagination import PagePagination
from evalsite.api.viewsets import ProjectScopedViewSet
from evalsite.tenancy.actors import Actor
from evalsite.tenancy.roles import Role
from experiments import comparison, selectors, services
from experiments import serializers as s
from experiments.models import ExperimentRun, RunItem
from scoring import selectors as score_selectors
from traces import selectors as trace_selectors


def _apply_filters(queryset: QuerySet, conditions: list) -> QuerySet:
    for field, operator, value in conditions:
        if operator == "=":
            queryset = queryset.filter(**{field: value})
        elif operator == "!=":
            queryset = queryset.exclude(**{field: value})
        elif operator == "any of":
            queryset = queryset.filter(**{f"{field}__in": value})
        elif operator == "none of":
            queryset = queryset.exclude(**{f"{field}__in": value})
        elif operator == "contains":
            queryset = queryset.filter(**{f"{field}__contains": value})
        else:  # "starts with"
            queryset = queryset.filter(**{f"{field}__startswith": value})
    return queryset


def _cursor_page(queryset: QuerySet, sort_field: str, query: dict) -> tuple[list, str | None]:
    """Keyset page, newest first by (sort_field, pk); the cursor names the last row returned."""
    if query.get("cursor"):
        moment, pk = query["cursor"]
        queryset = queryset.filter(Q(**{f"{sort_field}__lt": moment}) | Q(**{sort_field: moment, "pk__lt": pk}))
    limit = query["limit"]
    rows = list(queryset.order_by(f"-{sort_field}", "-pk")[: limit + 1])
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    last = rows[-1]
    return rows, s.encode_cursor(getattr(last, sort_field), last.pk)


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

    queryset = ExperimentRun.objects.all()

    def base_queryset(self):
        return selectors.experiment_run_list(project=self.project).annotate(
            start_at=Coalesce("started_at", "created_at", output_field=DateTimeField())
        )

    @extend_schema(parameters=[s.ExperimentListQuerySerializer], responses=s.ExperimentsResponse)
    def list(self, request):
        query = _query(s.ExperimentListQuerySerializer, request)
        runs = self.get_queryset().filter(activity_at__gte=query["fromStartTime"])
        if query.get("toStartTime"):
            runs = runs.filter(start_at__lt=query["toStartTime"])
        for param, field in (("id", "run_id"), ("name", "name"), ("datasetId", "dataset_id")):
            if s.comma_list(query.get(param)):
                runs = runs.filter(**{f"{field}__in": s.comma_list(query[param])})
        runs, cursor = _cursor_page(_apply_filters(runs, query["filter"]), "activity_at", query)
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

    queryset = RunItem.objects.all()

    def base_queryset(self):
        return RunItem.objects.select_related("run", "dataset_item").annotate(
            start_at=Coalesce("started_at", "created_at", output_field=DateTimeField())
        )

    @extend_schema(parameters=[s.ExperimentItemListQuerySerializer], responses=s.ExperimentItemsResponse)
    def list(self, request):
        query = _query(s.ExperimentItemListQuerySerializer, request)
        items = self.get_queryset().filter(start_at__gte=query["fromStartTime"])
        if query.get("toStartTime"):
            items = items.filter(start_at__lt=query["toStartTime"])
        for param, field in (
            ("experimentId", "run__run_id"),
            ("experimentName", "run__name"),
            ("experimentItemId", "item_key"),
            ("datasetId", "run__dataset_id"),
        ):
            if s.comma_list(query.get(param)):
                items = items.filter(**{f"{field}__in": s.comma_list(query[param])})
        items, cursor = _cursor_page(_apply_filters(items, query["filter"]), "start_at", query)
        scores: dict[str, list] = {}
        trace_ids = sorted({item.trace_id for item in items if item.trace_id})
        if "scores" in query["fields"] and trace_ids:
            scores = _group_scores(
                score_selectors.score_list_for_traces(project=self.project, trace_ids=trace_ids),
                "trace_id",
                query["scoreLimit"],
            )
        data = [s.experiment_item_dict(item, query["fields"], scores.get(item.trace_id)) for item in items]
        return Response({"data": data, "meta": {"cursor": cursor}})


class DatasetRunItemViewSet(ProjectScopedViewSet):
    """Legacy `POST`/`GET /dataset-run-items` (SDK v2–v4 `item.link()` and run reads)."""

    queryset = RunItem.objects.all()
    pagination_class = PagePagination
    required_roles = {"create": Role.MEMBER}

    def base_queryset(self):
        return RunItem.objects.select_related("run").order_by("created_at", "pk")

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
        items = self.get_queryset().filter(run__dataset_id=query["datasetId"], run__name=query["runName"])
        page = self.paginate_queryset(items)
        return self.get_paginated_response([s.dataset_run_item_dict(item) for item in page])


DATASET_NAME = OpenApiParameter("dataset_name", str, OpenApiParameter.PATH, description="percent-encoded")
RUN_NAME = OpenApiParameter("run_name", str, OpenApiParameter.PATH, description="percent-encoded")


class DatasetRunViewSet(ProjectScopedViewSet):
    """Legacy `GET /datasets/{name}/runs` and `GET`/`DELETE /datasets/{name}/runs/{run}`."""

    queryset = ExperimentRun.objects.all()
    pagination_class = PagePagination

    def base_queryset(self):
        return ExperimentRun.objects.select_related("dataset").order_by("-created_at", "-pk")

    def _dataset(self, name: str):
        dataset = dataset_selectors.dataset_find_by_name(project=self.project, name=name)
        if dataset is None:
            raise NotFound(f"Dataset not found: {name}")
        return dataset

    def _runs(self) -> QuerySet:
        """The runs named by the URL. Both names may contain '/', so "<a>/runs/<b>" can be split more
        than one way; the split whose dataset exists wins (the longest dataset name on a tie)."""
        dataset_name, run_name = self.kwargs["dataset_name"], self.kwargs["run_name"]
        full = f"{dataset_name}/runs/{run_name}"
        parts = full.split("/runs/")
        splits = [("/runs/".join(parts[:i]), "/runs/".join(parts[i:])) for i in range(1, len(parts))]
        existing = dataset_selectors.dataset_names_existing(project=self.project, names=[name for name, _ in splits])
        for name, run in sorted(splits, key=lambda split: len(split[0]), reverse=True):
            if name in existing:
                return self.get_queryset().filter(dataset__name=name, name=run)
        raise NotFound(f"Dataset not found: {dataset_name}")

    @extend_schema(parameters=[DATASET_NAME], responses=s.DatasetRunResponse(many=True))
    def list(self, request, dataset_name: str):
        dataset = self._dataset(dataset_name)
        page = self.paginate_queryset(self.get_queryset().filter(dataset=dataset))
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
