"""/api/public/scores (v1, v2, v3) and /api/public/score-configs.

`POST /scores` answers, per the Langfuse contract:
* one score object → 200 `{"id"}`, or 400 naming the field;
* an array, all valid → 202 `{"message": "Accepted"}`;
* an array, some invalid → 207 `{"accepted", "rejected", "errors": [{"message": "[index] field: …"}]}`,
  the valid ones stored;
* an array, none valid → 400 with the same per-item `accepted/rejected/errors` beside the usual
  error fields: nothing was stored, and a 4xx says so plainly (a 207 is for partial success).
"""

from collections import defaultdict
from dataclasses import dataclass

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from evalsite.api.cursors import decode_cursor, keyset_page
from evalsite.api.errors import PayloadTooLarge
from evalsite.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, positive_int_param
from evalsite.api.viewsets import ProjectScopedViewSet
from evalsite.tenancy.actors import Actor
from scoring.models import Score, ScoreConfig
from scoring.selectors import (
    score_config_list,
    score_list,
    score_list_for_traces,
    score_trace_summaries,
    scores_readable_by_key,
)
from scoring.serializers import (
    ScoreConfigCreateSerializer,
    ScoreConfigSerializer,
    ScoreConfigUpdateSerializer,
    ScoreListQuerySerializer,
    ScoreSerializer,
    ScoreV3QuerySerializer,
    ScoreV3Serializer,
)
from scoring.services import score_config_create, score_config_update, score_delete, scores_ingest

# The SDK keeps score batches under 1 MB; leave room for other clients, refuse what is abuse.
SCORES_MAX_BODY_BYTES = 5 * 1024 * 1024

BATCH_RESULT = inline_serializer(
    "CreateScoreBatchResults",
    {
        "accepted": serializers.IntegerField(),
        "rejected": serializers.IntegerField(),
        "errors": serializers.ListField(child=inline_serializer("CreateScoreBatchError", {"message": serializers.CharField()})),
    },
)


def batch_errors(errors) -> list[dict]:
    return [{"message": f"[{index}] {error}"} for index, error in errors]


def visible_to_key(view, scores):
    """`scores` as the request's API key may read them."""
    return scores_readable_by_key(project=view.project, role=view.request.auth.role, scores=scores)


class ScoreViewSet(ProjectScopedViewSet):
    """Create (one or many), read, list (v1/v2 page pagination) and delete scores."""

    queryset = Score.objects.all()
    serializer_class = ScoreSerializer
    lookup_field = "score_id"

    def base_queryset(self):
        # A get reads what a list would show (blind annotation for ANNOTATOR keys).
        return visible_to_key(self, Score.objects.filter(project=self.project))

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={
            200: inline_serializer("CreateScoreResponse", {"id": serializers.CharField()}),
            202: inline_serializer("CreateScoreBatchResponse", {"message": serializers.CharField()}),
            207: BATCH_RESULT,
        },
        description="One score object (200 {id}) or an array of scores (202, or 207 when some are invalid).",
    )
    def create(self, request):
        length = request.META.get("CONTENT_LENGTH")
        if length and length.isdigit() and int(length) > SCORES_MAX_BODY_BYTES:
            raise PayloadTooLarge(f"Score requests are limited to {SCORES_MAX_BODY_BYTES} bytes; send smaller arrays")
        body = request.data
        actor = Actor.from_request(request)
        if isinstance(body, dict):
            result = scores_ingest(project=self.project, items=[body], actor=actor)
            if result.errors:
                fields = defaultdict(list)
                for _, error in result.errors:
                    fields[error.field].append(error.detail)
                raise ValidationError(dict(fields))
            return Response({"id": result.accepted[0]}, status=status.HTTP_200_OK)
        if not isinstance(body, list):
            raise ValidationError({"body": ["expected a score object or an array of score objects"]})

        result = scores_ingest(project=self.project, items=body, actor=actor)
        if not result.errors:
            return Response({"message": "Accepted"}, status=status.HTTP_202_ACCEPTED)
        rejected = len({index for index, _ in result.errors})
        outcome = {"accepted": len(result.accepted), "rejected": rejected, "errors": batch_errors(result.errors)}
        if result.accepted:
            return Response(outcome, status=status.HTTP_207_MULTI_STATUS)
        messages = "; ".join(error["message"] for error in outcome["errors"])
        return Response(
            {"message": f"Invalid request data: no score was stored: {messages}", "error": "InvalidRequestError", **outcome},
            status=status.HTTP_400_BAD_REQUEST,
        )

    @extend_schema(parameters=[ScoreListQuerySerializer])
    def list(self, request):
        query = ScoreListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        scores = visible_to_key(self, score_list(project=self.project, **query.selector_filters()))
        return self.get_paginated_response(self.serialize(self.paginate_queryset(scores)))

    def retrieve(self, request, score_id):
        return Response(self.serialize([self.get_object()])[0])

    @extend_schema(responses={204: None})
    def destroy(self, request, score_id):
        if not score_delete(project=self.project, score_id=score_id, actor=Actor.from_request(request)):
            raise NotFound(f"Score not found: {score_id}")
        return Response(status=status.HTTP_204_NO_CONTENT)

    def serialize(self, scores: "list[Score]") -> "list[dict]":
        summaries = score_trace_summaries(project=self.project, trace_ids=[s.trace_id for s in scores if s.trace_id])
        return ScoreSerializer(scores, many=True, context={"trace_summaries": summaries}).data


class ScoreV3ViewSet(ProjectScopedViewSet):
    """`GET /v3/scores`: newest first, keyset cursor over (timestamp, row id)."""

    queryset = Score.objects.all()
    serializer_class = ScoreV3Serializer
    pagination_class = None

    @extend_schema(
        parameters=[
            ScoreV3QuerySerializer,
            OpenApiParameter("limit", int, description=f"1–{MAX_LIMIT}, default {DEFAULT_LIMIT}"),
            OpenApiParameter("cursor", str, description="meta.cursor of the previous page"),
        ],
        responses=inline_serializer(
            "GetScoresV3Response",
            {
                "data": ScoreV3Serializer(many=True),
                "meta": inline_serializer(
                    "GetScoresV3Meta", {"cursor": serializers.CharField(allow_null=True), "limit": serializers.IntegerField()}
                ),
            },
        ),
    )
    def list(self, request):
        limit = positive_int_param(request, "limit", DEFAULT_LIMIT, MAX_LIMIT)
        query = ScoreV3QuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        after = decode_cursor(request.query_params.get("cursor"))
        scores = visible_to_key(self, score_list(project=self.project, **query.selector_filters()))
        rows, cursor = keyset_page(scores, sort_field="timestamp", after=after, limit=limit)
        data = ScoreV3Serializer(rows, many=True).data
        return Response({"data": data, "meta": {"cursor": cursor, "limit": limit}})


class ScoreConfigViewSet(ProjectScopedViewSet):
    """Score configs: list (archived included, as upstream), create, get, patch (rename, archive…)."""

    queryset = ScoreConfig.objects.all()
    serializer_class = ScoreConfigSerializer
    lookup_field = "id"
    lookup_url_kwarg = "config_id"

    def list(self, request):
        configs = self.paginate_queryset(score_config_list(project=self.project, include_archived=True))
        return self.get_paginated_response(ScoreConfigSerializer(configs, many=True).data)

    @extend_schema(request=ScoreConfigCreateSerializer, responses=ScoreConfigSerializer)
    def create(self, request):
        body = ScoreConfigCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        config = score_config_create(project=self.project, actor=Actor.from_request(request), **body.service_arguments())
        return Response(ScoreConfigSerializer(config).data, status=status.HTTP_200_OK)

    def retrieve(self, request, config_id):
        return Response(ScoreConfigSerializer(self.get_object()).data)

    @extend_schema(request=ScoreConfigUpdateSerializer, responses=ScoreConfigSerializer)
    def partial_update(self, request, config_id):
        config = self.get_object()
        body = ScoreConfigUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        config = score_config_update(
            project=self.project, config=config, actor=Actor.from_request(request), **body.service_changes()
        )
        return Response(ScoreConfigSerializer(config).data)


@dataclass(frozen=True)  # equal instances: registering again (a ready() run twice) adds nothing
class TraceScores:
    """The scores the trace API carries (`traces.hooks.trace_scores`, registered by ScoringConfig):
    score ids in `GET /traces`, v1 score objects in `GET /traces/{id}`. One query each."""

    def score_ids(self, *, project, trace_ids: list[str], role) -> dict[str, list[str]]:
        ids: dict[str, list[str]] = {}
        for score in score_list_for_traces(project=project, trace_ids=trace_ids, narrow=self.narrow(project, role)):
            ids.setdefault(score.trace_id, []).append(score.score_id)
        return ids

    def scores(self, *, project, trace, role) -> list[dict]:
        scores = score_list_for_traces(project=project, trace_ids=[trace.trace_id], narrow=self.narrow(project, role))
        summaries = {trace.trace_id: {"user_id": trace.user_id, "tags": trace.tags, "environment": trace.environment}}
        return ScoreSerializer(scores, many=True, context={"trace_summaries": summaries}).data

    @staticmethod
    def narrow(project, role):
        """What a key of `role` may read of a scores queryset (blind annotation, score_api_filters)."""
        return lambda scores: scores_readable_by_key(project=project, role=role, scores=scores)
