"""Reads of traces, observations, sessions and daily metrics, and trace deletion.

A trace carries its scores on the wire; they come from the `trace_scores` sources that apps above
register (traces/hooks.py), so this module knows no score model. Ingestion is ingestion/api.py.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from evalsite.api.cursors import decode_cursor, keyset_page
from evalsite.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, PagePagination, positive_int_param
from evalsite.api.viewsets import ProjectScopedViewSet
from evalsite.tenancy.actors import Actor
from traces import hooks
from traces.filters import observation_filter_q, parse_filter, trace_filter_fields, trace_filter_q
from traces.models import Observation, Trace
from traces.selectors import (
    TraceStats,
    daily_metrics,
    observation_get,
    observation_list,
    observations_for_traces,
    session_get,
    session_list,
    trace_context,
    trace_get,
    trace_list,
    trace_stats,
)
from traces.serializers import (
    OBSERVATION_V2_DEFAULT_GROUPS,
    TRACE_FIELD_GROUPS,
    DailyMetricsQuerySerializer,
    ObservationListQuerySerializer,
    ObservationSerializer,
    ObservationV2QuerySerializer,
    SessionListQuerySerializer,
    TraceDeleteSerializer,
    TraceListQuerySerializer,
    TraceSerializer,
    TraceWithDetailsSerializer,
    daily_metrics_row,
    observation_v2,
    session_row,
)
from traces.services import traces_delete

# --- traces ---------------------------------------------------------------------------------


class TraceViewSet(ProjectScopedViewSet):
    """`/traces`: list (page pagination, filters), get one with observations and scores, delete."""

    queryset = Trace.objects.all()
    serializer_class = TraceWithDetailsSerializer

    @extend_schema(parameters=[TraceListQuerySerializer])
    def list(self, request):
        query = TraceListQuerySerializer(data=_query_dict(request, lists=("tags", "environment")))
        query.is_valid(raise_exception=True)
        groups = query.validated_data.get("fields")
        groups = set(groups) if groups else None
        conditions = parse_filter(query.validated_data["filter"]) if query.validated_data.get("filter") else []
        traces = trace_list(project=self.project, **query.selector_filters(overridden=trace_filter_fields(conditions)))
        if conditions:
            traces = traces.filter(trace_filter_q(conditions=conditions))
        traces = self.paginate_queryset(traces)
        trace_ids = [trace.trace_id for trace in traces]
        wanted = set(TRACE_FIELD_GROUPS) if groups is None else groups
        stats = (
            trace_stats(project=self.project, trace_ids=trace_ids)
            if trace_ids and wanted & {"observations", "metrics"}
            else {}
        )
        score_ids: dict[str, list[str]] = {}
        if trace_ids and "scores" in wanted:
            for source in hooks.trace_scores:
                for trace_id, ids in source.score_ids(
                    project=self.project, trace_ids=trace_ids, role=request.auth.role
                ).items():
                    score_ids.setdefault(trace_id, []).extend(ids)
        context = {"stats": stats, "score_ids": score_ids, "groups": groups}
        return self.get_paginated_response(TraceWithDetailsSerializer(traces, many=True, context=context).data)

    def retrieve(self, request, trace_id):
        trace = trace_get(project=self.project, trace_id=trace_id)
        if trace is None:
            raise NotFound(f"Trace not found: {trace_id}")
        observations = observations_for_traces(project=self.project, trace_ids=[trace_id]).get(trace_id, [])
        stats = TraceStats()
        for observation in observations:
            stats.observation_ids.append(observation.observation_id)
            end = observation.end_time or observation.start_time
            stats.start = observation.start_time if stats.start is None else min(stats.start, observation.start_time)
            stats.end = end if stats.end is None else max(stats.end, end)
            stats.total_cost += observation.total_cost or 0
        context = {"stats": {trace_id: stats}, "score_ids": {}, "groups": None}
        data = TraceWithDetailsSerializer(trace, context=context).data
        data["observations"] = ObservationSerializer(
            observations, many=True, context={"prompt_ids": prompt_ids_for(self.project, observations)}
        ).data
        data["scores"] = [
            score
            for source in hooks.trace_scores
            for score in source.scores(project=self.project, trace=trace, role=request.auth.role)
        ]
        return Response(data)

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def destroy(self, request, trace_id):
        if not traces_delete(project=self.project, trace_ids=[trace_id], actor=Actor.from_request(request)):
            raise NotFound(f"Trace not found: {trace_id}")
        return Response({"message": "Trace deleted successfully"})

    @extend_schema(request=TraceDeleteSerializer, responses={200: OpenApiTypes.OBJECT}, operation_id="traces_delete_multiple")
    def destroy_many(self, request):
        body = TraceDeleteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        deleted = traces_delete(
            project=self.project, trace_ids=body.validated_data["traceIds"], actor=Actor.from_request(request)
        )
        return Response({"message": f"{deleted} traces deleted"})


# --- observations ---------------------------------------------------------------------------


class ObservationViewSet(ProjectScopedViewSet):
    """`/observations` (v1): page pagination, newest first."""

    queryset = Observation.objects.all()
    serializer_class = ObservationSerializer

    @extend_schema(parameters=[ObservationListQuerySerializer])
    def list(self, request):
        query = ObservationListQuerySerializer(data=_query_dict(request, lists=("environment",)))
        query.is_valid(raise_exception=True)
        if query.validated_data.get("filter"):
            # The structured filter takes precedence over the single-value filters, as on v2
            # (the 4.x SDK's batch evaluation of observations sends it here).
            conditions = parse_filter(query.validated_data["filter"])
            observations = observation_list(project=self.project).filter(
                observation_filter_q(project=self.project, conditions=conditions)
            )
        else:
            observations = observation_list(project=self.project, **query.selector_filters())
        observations = observations.order_by("-start_time", "-id")
        page = self.paginate_queryset(observations)
        context = {"prompt_ids": prompt_ids_for(self.project, page)}
        return self.get_paginated_response(ObservationSerializer(page, many=True, context=context).data)

    def retrieve(self, request, observation_id):
        observation = observation_get(project=self.project, observation_id=observation_id)
        if observation is None:
            raise NotFound(f"Observation not found: {observation_id}")
        context = {"prompt_ids": prompt_ids_for(self.project, [observation])}
        return Response(ObservationSerializer(observation, context=context).data)


class ObservationV2ViewSet(ProjectScopedViewSet):
    """`/v2/observations`: newest first, keyset cursor over (start time, row id), field groups."""

    queryset = Observation.objects.all()
    pagination_class = None

    @extend_schema(
        parameters=[
            ObservationV2QuerySerializer,
            OpenApiParameter("limit", int, description=f"1–{MAX_LIMIT}, default {DEFAULT_LIMIT}"),
            OpenApiParameter("cursor", str, description="meta.cursor of the previous page"),
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    def list(self, request):
        limit = positive_int_param(request, "limit", DEFAULT_LIMIT, MAX_LIMIT)
        query = ObservationV2QuerySerializer(data=_query_dict(request, lists=("environment",)))
        query.is_valid(raise_exception=True)
        data = query.validated_data
        groups = set(data.get("fields") or OBSERVATION_V2_DEFAULT_GROUPS) | {"core"}
        if data.get("filter"):
            # The structured filter takes precedence over the single-value filters (as upstream).
            observations = observation_list(project=self.project).filter(
                observation_filter_q(project=self.project, conditions=parse_filter(data["filter"]))
            )
        else:
            observations = observation_list(project=self.project, **query.selector_filters())
            if data.get("isRootObservation") is not None:
                observations = observations.filter(parent_observation_id__isnull=data["isRootObservation"])
        after = decode_cursor(request.query_params.get("cursor"))
        page, cursor = keyset_page(observations, sort_field="start_time", after=after, limit=limit)
        needs_trace = bool(groups & {"basic", "trace_context"})
        traces = trace_context(project=self.project, trace_ids={o.trace_id for o in page}) if needs_trace and page else {}
        expand = {key.strip() for key in (data.get("expandMetadata") or "").split(",") if key.strip()}
        prompt_ids = prompt_ids_for(self.project, page) if "prompt" in groups else {}
        items = [
            observation_v2(
                observation,
                groups=groups,
                trace=traces.get(observation.trace_id),
                expand_metadata=expand,
                prompt_ids=prompt_ids,
            )
            for observation in page
        ]
        return Response({"data": items, "meta": {"cursor": cursor}})


# --- sessions and metrics -------------------------------------------------------------------


class SessionViewSet(ProjectScopedViewSet):
    """`/sessions`: the session ids of the project's traces, newest first; one with its traces."""

    queryset = Trace.objects.all()

    @extend_schema(parameters=[SessionListQuerySerializer], responses={200: OpenApiTypes.OBJECT}, operation_id="sessions_list")
    def list(self, request):
        query = SessionListQuerySerializer(data=_query_dict(request, lists=("environment",)))
        query.is_valid(raise_exception=True)
        data = query.validated_data
        sessions = session_list(
            project=self.project,
            from_timestamp=data.get("fromTimestamp"),
            to_timestamp=data.get("toTimestamp"),
            environments=data.get("environment"),
        )
        page = self.paginate_queryset(sessions)
        return self.get_paginated_response([session_row(row, self.project.pk) for row in page])

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def retrieve(self, request, session_id):
        found = session_get(project=self.project, session_id=session_id)
        if found is None:
            raise NotFound(f"Session not found: {session_id}")
        session, traces = found
        return Response(
            {
                "id": session.id,
                "createdAt": session.created_at,
                "projectId": session.project_id,
                "environment": session.environment,
                "traces": TraceSerializer(traces, many=True).data,
            }
        )


class _Sized(list):
    """A list the page paginator can count (it calls `.count()` like on a queryset)."""

    def count(self, *args):
        return len(self)


class DailyMetricsViewSet(ProjectScopedViewSet):
    """`/metrics/daily`: per day, newest first, page pagination over days."""

    queryset = Trace.objects.all()
    pagination_class = PagePagination

    @extend_schema(parameters=[DailyMetricsQuerySerializer], responses={200: OpenApiTypes.OBJECT})
    def list(self, request):
        query = DailyMetricsQuerySerializer(data=_query_dict(request, lists=("tags", "environment")))
        query.is_valid(raise_exception=True)
        days = daily_metrics(project=self.project, **query.selector_filters())
        page = self.paginate_queryset(_Sized(days))
        return self.get_paginated_response([daily_metrics_row(day) for day in page])


def prompt_ids_for(project, observations) -> dict[tuple[str, int], str]:
    """(prompt name, version) → prompt id for the prompts these observations name: one query
    when some does, none otherwise (traces.hooks.prompt_ids)."""
    versions = {
        (o.prompt_name, o.prompt_version) for o in observations if o.prompt_name and o.prompt_version is not None
    }
    found: dict[tuple[str, int], str] = {}
    if versions:
        for source in hooks.prompt_ids:
            found.update(source.prompt_ids(project=project, versions=versions))
    return found


def _query_dict(request, *, lists: tuple[str, ...]) -> dict:
    """Query parameters for an input serializer: repeated keys (`?tags=a&tags=b`) for list
    fields, the last value for the others."""
    params = request.query_params
    data = {key: params.get(key) for key in params}
    for key in lists:
        if key in params:
            data[key] = params.getlist(key)
    return data
