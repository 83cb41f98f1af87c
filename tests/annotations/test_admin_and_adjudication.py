"""The queue, rule admins (writes through the services) and the ADMINs' adjudication pages."""

import pytest
from django.urls import reverse

from annotations.claims import ScoreInput, queue_item_claim_next, queue_item_submit
from annotations.models import AnnotationQueue, QueueAssignment, QueueRule
from evalsite.tenancy.models import AuditLog
from evalsite.tenancy.roles import Role
from scoring.models import Score
from tests.annotations.factories import QueueFactory, QueueItemFactory
from tests.scoring.factories import CategoricalConfigFactory
from tests.tenancy.factories import user_with_role

pytestmark = pytest.mark.django_db


@pytest.fixture
def config(project):
    return CategoricalConfigFactory(project=project, name="quality")


def annotate(project, queue, user, label):
    item = queue_item_claim_next(project=project, queue=queue, user=user, role=Role.ANNOTATOR)
    queue_item_submit(project=project, item=item, user=user, role=Role.ANNOTATOR, scores=[ScoreInput(queue.score_config_ids[0], label)])
    return item


def queue_form(project, config, **extra):
    return {
        "project": project.pk, "name": "Review", "description": "", "instructions": "Be **kind**",
        "score_configs": [config.pk], "annotators_per_item": 2, "lock_seconds": 120, "access": "ASSIGNED",
        "corrections_dataset": "", **extra,
    }


def test_the_admin_creates_a_queue_through_the_service_and_assigns_members(client, project, config, victim_project):
    admin = user_with_role(project, Role.ADMIN)
    annotator = user_with_role(project, Role.ANNOTATOR, email="ann@example.com")
    client.force_login(admin)
    foreign = CategoricalConfigFactory(project=victim_project)
    refused = client.post(reverse("admin:annotations_annotationqueue_add"), queue_form(project, foreign))
    assert refused.status_code == 200 and not AnnotationQueue.objects.exists()  # not a choice for this user

    created = client.post(reverse("admin:annotations_annotationqueue_add"), queue_form(project, config))
    assert created.status_code == 302, created.content.decode()[:2000]
    queue = AnnotationQueue.objects.get(project=project)
    assert queue.score_config_ids == [config.pk] and queue.annotators_per_item == 2 and queue.lock_seconds == 120
    assert AuditLog.objects.filter(action="annotation_queue.create", actor_user=admin).exists()

    duplicate = client.post(reverse("admin:annotations_annotationqueue_add"), queue_form(project, config))
    assert duplicate.status_code == 200 and "already exists" in duplicate.content.decode()

    change_url = reverse("admin:annotations_annotationqueue_change", args=[queue.pk])
    changed = client.post(change_url, queue_form(project, config, assignees=[str(annotator.pk)], lock_seconds=60))
    assert changed.status_code == 302
    assert QueueAssignment.objects.filter(queue=queue, user=annotator).exists()
    page = client.get(change_url).content.decode()
    assert "progress per assignee" in page.lower() and "ann@example.com" in page


def test_a_member_cannot_assign_and_a_viewer_sees_the_queue_read_only(client, project, config):
    queue = QueueFactory(project=project, score_config_ids=[config.pk])
    annotator = user_with_role(project, Role.ANNOTATOR)
    client.force_login(user_with_role(project, Role.MEMBER))
    change_url = reverse("admin:annotations_annotationqueue_change", args=[queue.pk])
    client.post(change_url, queue_form(project, config, name=queue.name, assignees=[str(annotator.pk)]))
    assert not QueueAssignment.objects.filter(queue=queue).exists()
    client.force_login(user_with_role(project, Role.VIEWER))
    page = client.get(change_url)
    assert page.status_code == 200 and "quality" in page.content.decode()


def test_the_rule_admin_checks_filters_like_the_api_and_saves_through_the_service(client, project, config):
    queue = QueueFactory(project=project, score_config_ids=[config.pk])
    client.force_login(user_with_role(project, Role.MEMBER))
    form = {"queue": queue.pk, "name": "low", "enabled": "on", "score_name": "judge", "score_source": "EVAL",
            "operator": "<", "threshold": "0.5", "sample_rate": "0.5", "filter": '[{"type": "stringOptions", "column": "model", "operator": "any of", "value": ["x"]}]'}
    refused = client.post(reverse("admin:annotations_queuerule_add"), form)
    assert refused.status_code == 200 and "applies to observations" in refused.content.decode()
    saved = client.post(reverse("admin:annotations_queuerule_add"), {**form, "filter": "[]"})
    assert saved.status_code == 302
    rule = QueueRule.objects.get(queue=queue)
    assert (rule.project_id, rule.score_source, rule.sample_rate, rule.filter) == (project.pk, "EVAL", 0.5, [])


def test_an_admin_sees_every_annotator_side_by_side_and_writes_the_final_score(client, project, config):
    queue = QueueFactory(project=project, score_config_ids=[config.pk], annotators_per_item=2)
    QueueItemFactory(queue=queue)
    first = user_with_role(project, Role.ANNOTATOR, email="first@example.com")
    second = user_with_role(project, Role.ANNOTATOR, email="second@example.com")
    annotate(project, queue, first, "good")
    item = annotate(project, queue, second, "bad")

    client.force_login(user_with_role(project, Role.ADMIN, staff=False))
    listed = client.get(reverse("annotation-adjudication", args=[project.pk, queue.pk]), {"config": config.pk})
    assert listed.status_code == 200 and [row["item"].pk for row in listed.context["rows"]] == [item.pk]
    url = reverse("annotation-adjudication-item", args=[project.pk, queue.pk, item.pk])
    page = client.get(url)
    assert page.context["annotators"] == ["first@example.com", "second@example.com"]
    assert page.context["rows"][0].by_user == ["good", "bad"] and page.context["rows"][0].final == ""
    assert client.post(url, {f"final-{config.pk}": "bad", f"comment-{config.pk}": "second is right"}).status_code == 302
    final = Score.objects.get(project=project, metadata__adjudicated=True)
    assert final.string_value == "bad" and final.comment == "second is right"
    assert client.get(url).context["rows"][0].final == "bad"
    bad = client.post(url, {f"final-{config.pk}": "not a category"})
    assert bad.status_code == 400 and Score.objects.filter(project=project, metadata__adjudicated=True).count() == 1


def test_below_admin_the_adjudication_pages_lead_back_and_refuse_writes(client, project, config):
    queue = QueueFactory(project=project, score_config_ids=[config.pk])
    item = QueueItemFactory(queue=queue)
    client.force_login(user_with_role(project, Role.MEMBER, staff=False))
    url = reverse("annotation-adjudication-item", args=[project.pk, queue.pk, item.pk])
    assert client.get(url).status_code == 302
    assert client.post(url, {f"final-{config.pk}": "good"}).status_code == 403
    assert not Score.objects.filter(project=project).exists()


def test_the_item_and_rule_lists_filter_by_the_users_own_queues_only(client, project, victim_project, config):
    mine = QueueFactory(project=project, name="my queue", score_config_ids=[config.pk])
    QueueItemFactory(queue=mine)
    theirs = QueueFactory(project=victim_project, name="victim queue")
    QueueItemFactory(queue=theirs)
    client.force_login(user_with_role(project, Role.OWNER))
    for name in ("queueitem", "queuerule", "annotationqueue"):
        page = client.get(reverse(f"admin:annotations_{name}_changelist")).content.decode()
        assert "victim queue" not in page, name
    assert "my queue" in client.get(reverse("admin:annotations_queueitem_changelist")).content.decode()
