from annotations.models import AnnotationQueue, QueueAssignment, QueueItem, QueueRule
from evalsite.tenancy.roles import Role
from tests.annotations.factories import CommentFactory, QueueFactory, QueueItemFactory, QueueRuleFactory
from tests.scoring.factories import CategoricalConfigFactory
from tests.support.cross_project import CrossProjectCase, PageCase
from tests.tenancy.factories import user_with_role

QUEUE = "api/public/annotation-queues/<str:queue_id>"
ITEM = f"{QUEUE}/items/<str:item_id>"
RULE = f"{QUEUE}/rules/<str:rule_id>"


def make_queue(project) -> dict:
    config = CategoricalConfigFactory(project=project)
    return {"queue_id": QueueFactory(project=project, name="victim queue", score_config_ids=[config.id]).pk}


def make_item(project) -> dict:
    kwargs = make_queue(project)
    item = QueueItemFactory(queue=AnnotationQueue.objects.get(pk=kwargs["queue_id"]), object_id="victim-trace")
    return {**kwargs, "item_id": item.pk}


def item_unchanged(project, kwargs) -> bool:
    item = QueueItem.objects.filter(project=project, pk=kwargs["item_id"]).first()
    return item is not None and item.status == "PENDING" and item.submissions == 0 and item.locked_by_id is None


def queue_unassigned(project, kwargs) -> bool:
    return not QueueAssignment.objects.filter(project=project, queue_id=kwargs["queue_id"]).exists()


def make_rule(project) -> dict:
    rule = QueueRuleFactory(queue=AnnotationQueue.objects.get(pk=make_queue(project)["queue_id"]))
    return {"queue_id": rule.queue_id, "rule_id": rule.pk}


def rule_unchanged(project, kwargs) -> bool:
    rule = QueueRule.objects.filter(project=project, pk=kwargs["rule_id"]).first()
    return rule is not None and rule.threshold == 0.5 and rule.enabled


RULE_BODY = {"name": "low", "scoreName": "judge", "operator": "<", "threshold": 0.9, "enabled": False}


def make_comment(project) -> dict:
    return {"comment_id": CommentFactory(project=project).pk}


def make_project(project) -> dict:
    user_with_role(project, Role.MEMBER)
    return {"project_id": project.pk}


# A body naming an existing user: only scoping may refuse (the user is not of the attacker's project
# either, but the queue or item is looked up first).
ACTING = {"userId": "1"}

CASES = [
    CrossProjectCase(pattern=QUEUE, make=make_queue),
    CrossProjectCase(pattern=f"{QUEUE}/progress", make=make_queue),
    CrossProjectCase(pattern=f"{QUEUE}/claim", make=make_queue, body=ACTING),
    CrossProjectCase(pattern=f"{QUEUE}/items", make=make_queue, body={"objectId": "t", "objectType": "TRACE"}),
    CrossProjectCase(pattern=ITEM, make=make_item, body={"status": "COMPLETED"}, still_there=item_unchanged),
    CrossProjectCase(
        pattern=f"{ITEM}/submit", make=make_item, body={**ACTING, "scores": [{"configId": "c", "value": "good"}]},
        still_there=item_unchanged,
    ),
    CrossProjectCase(pattern=f"{ITEM}/skip", make=make_item, body=ACTING, still_there=item_unchanged),
    CrossProjectCase(pattern=f"{ITEM}/renew", make=make_item, body=ACTING, still_there=item_unchanged),
    CrossProjectCase(pattern=f"{ITEM}/scores", make=make_item),
    CrossProjectCase(
        pattern=f"{ITEM}/adjudicate", make=make_item, body={**ACTING, "scores": [{"configId": "c", "value": "good"}]},
        still_there=item_unchanged,
    ),
    CrossProjectCase(pattern=f"{QUEUE}/agreement", make=make_queue),
    CrossProjectCase(pattern=f"{QUEUE}/disagreements", make=make_queue),
    CrossProjectCase(pattern=f"{QUEUE}/assignments", make=make_queue, body=ACTING, still_there=queue_unassigned),
    CrossProjectCase(pattern=f"{QUEUE}/rules", make=make_queue, body=RULE_BODY),
    CrossProjectCase(pattern=RULE, make=make_rule, body=RULE_BODY, still_there=rule_unchanged),
    CrossProjectCase(pattern=f"{RULE}/backfill", make=make_rule, still_there=rule_unchanged),
    CrossProjectCase(pattern="api/public/comments/<str:comment_id>", make=make_comment),
    CrossProjectCase(pattern="api/public/projects/<str:project_id>/memberships", make=make_project),
]


def make_page_queue(project) -> dict:
    return make_queue(project)


PAGE_CASES = [
    PageCase(pattern="projects/<str:project_id>/annotations", make=lambda project: {}),
    PageCase(pattern="projects/<str:project_id>/annotations/<str:queue_id>", make=make_page_queue),
    PageCase(pattern="projects/<str:project_id>/annotations/<str:queue_id>/adjudicate", make=make_page_queue),
    PageCase(pattern="projects/<str:project_id>/annotations/<str:queue_id>/adjudicate/<str:item_id>", make=make_item),
]

# Pair queues (annotations/pairs/): the route and the pair workspace.
CASES += [CrossProjectCase(pattern=f"{QUEUE}/pairs", make=make_queue, body={"runId": "r", "baselineRunId": "b"})]
PAGE_CASES += [PageCase(pattern="projects/<str:project_id>/annotations/<str:queue_id>/pairs", make=make_page_queue)]
