"""/api/public/annotation-queues…, /api/public/comments and /api/public/projects/{id}/memberships.

The Langfuse routes (queues, items, assignments, comments) keep its shapes; ours sit under the same
prefix: working on a queue for a user (`claim`, `submit`, `skip`, `renew`, an item's blind
`scores`), `progress` and `agreement`. An API key is not a person, so those name the annotator
(`userId`), who must be a project member whose role allows annotating.
"""

from django.db import transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from annotations import claims
from annotations.agreement import disagreements, queue_agreement
from annotations.models import AnnotationQueue, Comment, QueueItem, QueueRule
from annotations.rules import BACKFILL_TASK
from annotations.selectors import (
    assignee_progress,
    comment_list,
    item_scores,
    queue_configs,
    queue_get,
    queue_item_list,
    queue_list,
    queue_progress,
    queue_rule_list,
)
from annotations.serializers import (
    QUEUE_WIRE_NAMES,
    ActingUserSerializer,
    AdjudicateSerializer,
    AgreementSerializer,
    AssignmentSerializer,
    ClaimResponseSerializer,
    CommentCreateSerializer,
    CommentListQuerySerializer,
    CommentSerializer,
    DisagreementQuerySerializer,
    DisagreementSerializer,
    MembershipSerializer,
    QueueCreateSerializer,
    QueueItemCreateSerializer,
    QueueItemListQuerySerializer,
    QueueItemSerializer,
    QueueItemUpdateSerializer,
    QueueProgressResponseSerializer,
    QueueRuleBackfillSerializer,
    QueueRuleSerializer,
    QueueRuleWriteSerializer,
    QueueSerializer,
    SubmitSerializer,
)
from annotations.services import (
    comment_create,
    queue_assignment_create,
    queue_assignment_delete,
    queue_create,
    queue_item_add,
    queue_item_delete,
    queue_item_set_status,
    queue_member_find,
    queue_rule_create,
    queue_rule_delete,
    queue_rule_update,
)
from evalsite.api.viewsets import ProjectScopedViewSet
from evalsite.jobs import enqueue_after_commit
from evalsite.tenancy.actors import Actor
from evalsite.tenancy.models import Project
from evalsite.tenancy.roles import Role
from evalsite.tenancy.selectors import project_member_list
from scoring.serializers import ScoreSerializer


class QueueScopedMixin:
    """Views under /annotation-queues/{queue_id}: the queue is looked up in the key's project."""

    def queue(self) -> AnnotationQueue:
        if not hasattr(self, "_queue"):
            queue = queue_get(project=self.project, queue_id=self.kwargs["queue_id"])
            if queue is None:
                raise NotFound(f"Annotation queue not found: {self.kwargs['queue_id']}")
            self._queue = queue
        return self._queue

    def acting_user(self, data):
        """The annotator named by `userId`, with their role; 404 when not a project member."""
        body = ActingUserSerializer(data=data)
        body.is_valid(raise_exception=True)
        return queue_member_find(project=self.project, user_id=body.validated_data["userId"])


class AnnotationQueueViewSet(QueueScopedMixin, ProjectScopedViewSet):
    queryset = AnnotationQueue.objects.all()
    serializer_class = QueueSerializer
    lookup_field = "id"
    lookup_url_kwarg = "queue_id"
    wire_field_names = QUEUE_WIRE_NAMES
    required_roles = {"progress": Role.VIEWER, "claim": Role.ANNOTATOR, "agreement": Role.VIEWER, "disagreements": Role.VIEWER}

    def list(self, request):
        queues = self.paginate_queryset(queue_list(project=self.project))
        return self.get_paginated_response(QueueSerializer(queues, many=True).data)

    @extend_schema(request=QueueCreateSerializer, responses=QueueSerializer)
    def create(self, request):
        body = QueueCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        queue = queue_create(project=self.project, actor=Actor.from_request(request), **body.service_arguments())
        return Response(QueueSerializer(queue).data, status=status.HTTP_200_OK)

    def retrieve(self, request, queue_id):
        return Response(QueueSerializer(self.get_object()).data)

    @extend_schema(responses=QueueProgressResponseSerializer, description="Ours: done, pending, in progress, per assignee.")
    def progress(self, request, queue_id):
        queue = self.queue()
        return Response(
            QueueProgressResponseSerializer(
                {
                    "queue": queue_progress(project=self.project, queue=queue),
                    "assignees": assignee_progress(project=self.project, queue=queue),
                }
            ).data
        )

    @extend_schema(
        responses=inline_serializer("QueueAgreementResponse", {"data": AgreementSerializer(many=True)}),
        description=(
            "Ours: per score config, percent agreement, Cohen's kappa (the two annotators sharing the most items), "
            "Fleiss' kappa (categorical and boolean) and Krippendorff's alpha, with the number of items each rests on."
        ),
    )
    def agreement(self, request, queue_id):
        rows = queue_agreement(project=self.project, queue=self.queue())
        return Response({"data": AgreementSerializer(rows, many=True).data})

    @extend_schema(
        parameters=[DisagreementQuerySerializer],
        responses=inline_serializer("QueueDisagreementsResponse", {"data": DisagreementSerializer(many=True)}),
        description="Ours: items whose annotators differ by more than `threshold` on the config (categories: any difference).",
    )
    def disagreements(self, request, queue_id):
        queue = self.queue()
        query = DisagreementQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        config_id = query.validated_data["configId"]
        config = next((c for c in queue_configs(project=self.project, queue=queue) if c.pk == config_id), None)
        if config is None:
            raise ValidationError({"configId": ["not a score config of this queue"]})
        rows = disagreements(project=self.project, queue=queue, config=config, threshold=query.validated_data.get("threshold", 0.0))
        return Response({"data": DisagreementSerializer(rows, many=True).data})

    @extend_schema(
        request=ActingUserSerializer,
        responses=ClaimResponseSerializer,
        description=(
            "Ours: the item the user should work on now, locked for them for the queue's lock time "
            "(the item they already hold, else the oldest pending one they have not done); item null when none is left."
        ),
    )
    def claim(self, request, queue_id):
        queue = self.queue()
        user, role = self.acting_user(request.data)
        item = claims.queue_item_claim_next(project=self.project, queue=queue, user=user, role=role)
        scores = item_scores(project=self.project, item=item, viewer=user) if item else []
        return Response({"item": QueueItemSerializer(item).data if item else None, "scores": ScoreSerializer(scores, many=True).data})


class QueueItemViewSet(QueueScopedMixin, ProjectScopedViewSet):
    queryset = QueueItem.objects.all()
    serializer_class = QueueItemSerializer
    lookup_field = "id"
    lookup_url_kwarg = "item_id"
    wire_field_names = QUEUE_WIRE_NAMES
    required_roles = {"submit": Role.ANNOTATOR, "skip": Role.ANNOTATOR, "renew": Role.ANNOTATOR, "adjudicate": Role.ADMIN}

    def base_queryset(self):
        return QueueItem.objects.filter(queue=self.queue())

    @extend_schema(parameters=[QueueItemListQuerySerializer])
    def list(self, request, queue_id):
        query = QueueItemListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        items = queue_item_list(project=self.project, queue=self.queue(), status=query.validated_data.get("status"))
        return self.get_paginated_response(QueueItemSerializer(self.paginate_queryset(items), many=True).data)

    @extend_schema(request=QueueItemCreateSerializer, responses=QueueItemSerializer)
    def create(self, request, queue_id):
        body = QueueItemCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        result = queue_item_add(
            project=self.project, queue=self.queue(), object_type=data["objectType"], object_id=data["objectId"],
            status=data.get("status") or "PENDING",
        )
        # Adding an object already in the queue changes nothing and says so (`created`, `message`).
        return Response({**QueueItemSerializer(result.item).data, "created": result.created, "message": result.message})

    def retrieve(self, request, queue_id, item_id):
        return Response(QueueItemSerializer(self.get_object()).data)

    @extend_schema(request=QueueItemUpdateSerializer, responses=QueueItemSerializer)
    def partial_update(self, request, queue_id, item_id):
        item = self.get_object()
        body = QueueItemUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        if body.validated_data.get("status"):
            item = queue_item_set_status(project=self.project, item=item, status=body.validated_data["status"])
        return Response(QueueItemSerializer(item).data)

    @extend_schema(
        responses=inline_serializer("DeleteAnnotationQueueItemResponse", {"success": serializers.BooleanField(), "message": serializers.CharField()})
    )
    def destroy(self, request, queue_id, item_id):
        queue_item_delete(project=self.project, item=self.get_object())
        return Response({"success": True, "message": "Item removed from the queue"})

    def _work(self, request):
        item = self.get_object()
        user, role = self.acting_user(request.data)
        if role < Role.ANNOTATOR:
            raise NotFound("User is not an annotator of this project")
        return item, user, role

    @extend_schema(request=SubmitSerializer, responses=QueueItemSerializer, description="Ours: the user's scores for the item they hold; 409 when they no longer hold it.")
    def submit(self, request, queue_id, item_id):
        body = SubmitSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        item, user, role = self._work(request)
        scores = [
            claims.ScoreInput(score["configId"], score["value"], score.get("comment")) for score in body.validated_data["scores"]
        ]
        item = claims.queue_item_submit(project=self.project, item=item, user=user, role=role, scores=scores)
        return Response(QueueItemSerializer(item).data)

    @extend_schema(
        request=AdjudicateSerializer,
        responses=ScoreSerializer(many=True),
        description="Ours: an ADMIN member's final scores for the item (metadata.adjudicated = true); returns every score of the item.",
    )
    def adjudicate(self, request, queue_id, item_id):
        body = AdjudicateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        item = self.get_object()
        user, role = self.acting_user(request.data)
        scores = [
            claims.ScoreInput(score["configId"], score["value"], score.get("comment")) for score in body.validated_data["scores"]
        ]
        claims.queue_item_adjudicate(project=self.project, item=item, user=user, role=role, scores=scores)
        return Response(ScoreSerializer(item_scores(project=self.project, item=item, see_all=True), many=True).data)

    @extend_schema(request=ActingUserSerializer, responses=QueueItemSerializer, description="Ours: pass the held item over.")
    def skip(self, request, queue_id, item_id):
        item, user, _ = self._work(request)
        return Response(QueueItemSerializer(claims.queue_item_skip(project=self.project, item=item, user=user)).data)

    @extend_schema(request=ActingUserSerializer, responses=QueueItemSerializer, description="Ours: extend the held lock.")
    def renew(self, request, queue_id, item_id):
        item, user, _ = self._work(request)
        return Response(QueueItemSerializer(claims.queue_item_renew(project=self.project, item=item, user=user)).data)

    @extend_schema(
        parameters=[OpenApiParameter("userId", str, required=True, description="whose view: blind until they submitted")],
        responses=ScoreSerializer(many=True),
        description="Ours: the queue's scores on the item as `userId` may see them (only their own until they submitted).",
    )
    def scores(self, request, queue_id, item_id):
        item = self.get_object()
        user, _ = self.acting_user(request.query_params)
        return Response(ScoreSerializer(item_scores(project=self.project, item=item, viewer=user), many=True).data)


class QueueRuleViewSet(QueueScopedMixin, ProjectScopedViewSet):
    """Ours: rules that fill the queue from new scores (annotations/RULES.md)."""

    queryset = QueueRule.objects.all()
    serializer_class = QueueRuleSerializer
    lookup_field = "id"
    lookup_url_kwarg = "rule_id"
    wire_field_names = QUEUE_WIRE_NAMES

    def base_queryset(self):
        return QueueRule.objects.filter(queue=self.queue())

    def list(self, request, queue_id):
        rules = self.paginate_queryset(queue_rule_list(project=self.project, queue=self.queue()))
        return self.get_paginated_response(QueueRuleSerializer(rules, many=True).data)

    @extend_schema(
        request=QueueRuleWriteSerializer,
        responses=QueueRuleSerializer,
        description=(
            "Ours: when a score named scoreName is written with a value `operator` threshold, its trace goes into "
            "the queue if it passes the filters and the (reproducible) sampling. It applies to scores written from "
            "now on; POST …/backfill applies it to the stored ones."
        ),
    )
    def create(self, request, queue_id):
        body = QueueRuleWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        rule = queue_rule_create(
            project=self.project, queue=self.queue(), actor=Actor.from_request(request), **body.service_arguments()
        )
        return Response(QueueRuleSerializer(rule).data, status=status.HTTP_201_CREATED)

    def retrieve(self, request, queue_id, rule_id):
        return Response(QueueRuleSerializer(self.get_object()).data)

    @extend_schema(request=QueueRuleWriteSerializer, responses=QueueRuleSerializer)
    def partial_update(self, request, queue_id, rule_id):
        rule = self.get_object()
        body = QueueRuleWriteSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        rule = queue_rule_update(project=self.project, rule=rule, actor=Actor.from_request(request), **body.service_arguments())
        return Response(QueueRuleSerializer(rule).data)

    @extend_schema(responses={204: None})
    def destroy(self, request, queue_id, rule_id):
        queue_rule_delete(project=self.project, rule=self.get_object(), actor=Actor.from_request(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=None,
        responses={202: QueueRuleBackfillSerializer},
        description="Ours: apply the rule to the scores already stored, in a worker (202).",
    )
    def backfill(self, request, queue_id, rule_id):
        request.data  # noqa: B018  (parsed for its checks: a malformed or oversized body is refused, as everywhere)
        rule = self.get_object()
        enqueue_after_commit(BACKFILL_TASK, self.project.pk, rule.pk)
        return Response({"status": "queued"}, status=status.HTTP_202_ACCEPTED)


class QueueAssignmentViewSet(QueueScopedMixin, ProjectScopedViewSet):
    queryset = AnnotationQueue.objects.all()
    serializer_class = AssignmentSerializer
    wire_field_names = QUEUE_WIRE_NAMES
    required_roles = {"POST": Role.ADMIN, "DELETE": Role.ADMIN}

    def _body(self, request):
        body = AssignmentSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return body.validated_data

    @extend_schema(
        request=AssignmentSerializer,
        responses=inline_serializer(
            "CreateAnnotationQueueAssignmentResponse",
            {"userId": serializers.CharField(), "queueId": serializers.CharField(), "projectId": serializers.CharField()},
        ),
    )
    def create(self, request, queue_id):
        data = self._body(request)
        assignment = queue_assignment_create(
            project=self.project, queue=self.queue(), user_id=data.get("userId"), email=data.get("email"),
            actor=Actor.from_request(request),
        )
        return Response({"userId": str(assignment.user_id), "queueId": assignment.queue_id, "projectId": self.project.pk})

    @extend_schema(
        request=AssignmentSerializer,
        responses=inline_serializer("DeleteAnnotationQueueAssignmentResponse", {"success": serializers.BooleanField()}),
    )
    def destroy(self, request, queue_id):
        data = self._body(request)
        queue_assignment_delete(
            project=self.project, queue=self.queue(), user_id=data.get("userId"), email=data.get("email"),
            actor=Actor.from_request(request),
        )
        return Response({"success": True})


class CommentViewSet(ProjectScopedViewSet):
    queryset = Comment.objects.all()
    serializer_class = CommentSerializer
    lookup_field = "id"
    lookup_url_kwarg = "comment_id"
    wire_field_names = QUEUE_WIRE_NAMES
    required_roles = {"create": Role.ANNOTATOR}

    @extend_schema(parameters=[CommentListQuerySerializer])
    def list(self, request):
        query = CommentListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        author = data.get("authorUserId")
        comments = comment_list(
            project=self.project, object_type=data.get("objectType"), object_id=data.get("objectId"),
            author_user_id=author if author is None or author.isdigit() else None,
        )
        if author is not None and not author.isdigit():
            comments = comments.none()  # user ids are numbers here: no user has this one
        return self.get_paginated_response(CommentSerializer(self.paginate_queryset(comments), many=True).data)

    @extend_schema(
        request=CommentCreateSerializer, responses=inline_serializer("CreateCommentResponse", {"id": serializers.CharField()})
    )
    def create(self, request):
        body = CommentCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        if data["projectId"] != self.project.pk:
            raise ValidationError({"projectId": ["must be the project of the API key"]})
        with transaction.atomic():
            comment = comment_create(
                project=self.project, object_type=data["objectType"], object_id=data["objectId"], content=data["content"],
                author_user_id=data.get("authorUserId"),
            )
        return Response({"id": comment.pk})

    def retrieve(self, request, comment_id):
        return Response(CommentSerializer(self.get_object()).data)


# Langfuse's roles, which the SDK's MembershipRole enum accepts and nothing else: ANNOTATOR, ours
# alone, reads as VIEWER there (it writes no project data but annotations), and exactly in `projectRole`.
LANGFUSE_ROLES = {"OWNER", "ADMIN", "MEMBER", "VIEWER"}


def langfuse_role(role: Role) -> str:
    return role.name if role.name in LANGFUSE_ROLES else "VIEWER"


class ProjectMembershipViewSet(ProjectScopedViewSet):
    """Who can be assigned: the project's members, for ADMIN keys of that project."""

    queryset = Project.objects.all()
    project_lookup = "pk"
    serializer_class = MembershipSerializer
    pagination_class = None
    required_roles = {"GET": Role.ADMIN}

    @extend_schema(responses=inline_serializer("MembershipsResponse", {"memberships": MembershipSerializer(many=True)}))
    def list(self, request, project_id):
        if project_id != self.project.pk:
            raise NotFound(f"Project not found: {project_id}")
        rows = [
            {
                "userId": str(user.pk), "role": langfuse_role(role), "projectRole": role.name, "email": user.email or "",
                "name": user.get_full_name() or user.get_username(),
            }
            for user, role in project_member_list(project=self.project)
        ]
        return Response({"memberships": rows})
