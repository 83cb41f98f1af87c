from django.urls import path

from annotations.adjudication import AdjudicationItemPage, AdjudicationListPage
from annotations.api import (
    AnnotationQueueViewSet,
    CommentViewSet,
    ProjectMembershipViewSet,
    QueueAssignmentViewSet,
    QueueItemViewSet,
    QueueRuleViewSet,
)
from annotations.pages import QueueListPage, WorkspacePage
from annotations.pairs.api import QueuePairsViewSet
from annotations.pairs.pages import PairWorkspacePage

QUEUE = "annotation-queues/<str:queue_id>"
ITEM = f"{QUEUE}/items/<str:item_id>"
RULE = f"{QUEUE}/rules/<str:rule_id>"

# Routes under /api/public/ (no trailing slashes).
api_urlpatterns = [
    path("annotation-queues", AnnotationQueueViewSet.as_view({"get": "list", "post": "create"}), name="api-annotation-queues"),
    path(QUEUE, AnnotationQueueViewSet.as_view({"get": "retrieve"}), name="api-annotation-queue"),
    path(f"{QUEUE}/progress", AnnotationQueueViewSet.as_view({"get": "progress"}), name="api-annotation-queue-progress"),
    path(f"{QUEUE}/agreement", AnnotationQueueViewSet.as_view({"get": "agreement"}), name="api-annotation-queue-agreement"),
    path(
        f"{QUEUE}/disagreements",
        AnnotationQueueViewSet.as_view({"get": "disagreements"}),
        name="api-annotation-queue-disagreements",
    ),
    path(f"{QUEUE}/claim", AnnotationQueueViewSet.as_view({"post": "claim"}), name="api-annotation-queue-claim"),
    path(f"{QUEUE}/pairs", QueuePairsViewSet.as_view({"post": "create"}), name="api-annotation-queue-pairs"),
    path(f"{QUEUE}/items", QueueItemViewSet.as_view({"get": "list", "post": "create"}), name="api-annotation-queue-items"),
    path(
        ITEM,
        QueueItemViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"}),
        name="api-annotation-queue-item",
    ),
    path(f"{ITEM}/submit", QueueItemViewSet.as_view({"post": "submit"}), name="api-annotation-queue-item-submit"),
    path(f"{ITEM}/skip", QueueItemViewSet.as_view({"post": "skip"}), name="api-annotation-queue-item-skip"),
    path(f"{ITEM}/renew", QueueItemViewSet.as_view({"post": "renew"}), name="api-annotation-queue-item-renew"),
    path(f"{ITEM}/adjudicate", QueueItemViewSet.as_view({"post": "adjudicate"}), name="api-annotation-queue-item-adjudicate"),
    path(f"{ITEM}/scores", QueueItemViewSet.as_view({"get": "scores"}), name="api-annotation-queue-item-scores"),
    path(f"{QUEUE}/rules", QueueRuleViewSet.as_view({"get": "list", "post": "create"}), name="api-annotation-queue-rules"),
    path(
        RULE,
        QueueRuleViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"}),
        name="api-annotation-queue-rule",
    ),
    path(f"{RULE}/backfill", QueueRuleViewSet.as_view({"post": "backfill"}), name="api-annotation-queue-rule-backfill"),
    path(
        f"{QUEUE}/assignments",
        QueueAssignmentViewSet.as_view({"post": "create", "delete": "destroy"}),
        name="api-annotation-queue-assignments",
    ),
    path("comments", CommentViewSet.as_view({"get": "list", "post": "create"}), name="api-comments"),
    path("comments/<str:comment_id>", CommentViewSet.as_view({"get": "retrieve"}), name="api-comment"),
    path(
        "projects/<str:project_id>/memberships",
        ProjectMembershipViewSet.as_view({"get": "list"}),
        name="api-project-memberships",
    ),
]
# Under /projects/<project_id>/.
page_urlpatterns = [
    path("annotations", QueueListPage.as_view(), name="annotation-queues"),
    path("annotations/<str:queue_id>", WorkspacePage.as_view(), name="annotation-workspace"),
    path("annotations/<str:queue_id>/pairs", PairWorkspacePage.as_view(), name="annotation-pair-workspace"),
    path("annotations/<str:queue_id>/adjudicate", AdjudicationListPage.as_view(), name="annotation-adjudication"),
    path(
        "annotations/<str:queue_id>/adjudicate/<str:item_id>",
        AdjudicationItemPage.as_view(),
        name="annotation-adjudication-item",
    ),
]
