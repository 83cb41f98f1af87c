"""The annotation-queue and comment routes of /api/public, as Langfuse's contract and our extras say."""

import pytest
from langfuse.api.core.pydantic_utilities import parse_obj_as
from langfuse.api.organizations.types import MembershipsResponse

from annotations.models import QueueAssignment
from evalsite.tenancy.roles import Role
from scoring.models import Score
from tests.annotations.factories import QueueFactory, QueueItemFactory
from tests.scoring.factories import CategoricalConfigFactory
from tests.tenancy.factories import ProjectMembershipFactory, user_with_role
from tests.traces.factories import TraceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def config(project):
    return CategoricalConfigFactory(project=project, name="quality")


def test_queues_are_created_listed_and_read_and_a_duplicate_name_is_a_400(api, config):
    created = api.post("annotation-queues", {"name": "Review", "description": "d", "scoreConfigIds": [config.id]})
    assert created.status_code == 200, created.content
    body = created.json()
    assert body["scoreConfigIds"] == [config.id] and body["annotatorsPerItem"] == 1 and body["lockSeconds"] == 300
    again = api.post("annotation-queues", {"name": "Review", "scoreConfigIds": [config.id]})
    assert again.status_code == 400 and "already exists" in again.json()["message"]
    unknown = api.post("annotation-queues", {"name": "Other", "scoreConfigIds": ["nope"]})
    assert unknown.status_code == 400 and "scoreConfigIds" in unknown.json()["message"]
    listed = api.get("annotation-queues").json()
    assert [q["name"] for q in listed["data"]] == ["Review"] and listed["meta"]["totalItems"] == 1
    assert api.get(f"annotation-queues/{body['id']}").json()["name"] == "Review"
    assert api.get("annotation-queues/missing").status_code == 404


def test_items_are_added_once_filtered_by_status_patched_and_deleted(api, project, config):
    queue = QueueFactory(project=project, score_config_ids=[config.id])
    first = api.post(f"annotation-queues/{queue.pk}/items", {"objectId": "t1", "objectType": "TRACE"}).json()
    assert first["status"] == "PENDING" and first["created"] is True
    again = api.post(f"annotation-queues/{queue.pk}/items", {"objectId": "t1", "objectType": "TRACE"}).json()
    assert again["id"] == first["id"] and again["created"] is False and "Already in the queue" in again["message"]
    done = api.post(f"annotation-queues/{queue.pk}/items", {"objectId": "s1", "objectType": "SESSION", "status": "COMPLETED"}).json()
    assert done["completedAt"] is not None
    assert [i["objectId"] for i in api.get(f"annotation-queues/{queue.pk}/items", status="PENDING").json()["data"]] == ["t1"]
    assert api.get(f"annotation-queues/{queue.pk}/items", status="NOPE").status_code == 400
    patched = api.patch(f"annotation-queues/{queue.pk}/items/{first['id']}", {"status": "COMPLETED"}).json()
    assert patched["status"] == "COMPLETED" and patched["completedAt"]
    deleted = api.delete(f"annotation-queues/{queue.pk}/items/{first['id']}").json()
    assert deleted["success"] is True and deleted["message"]
    assert api.get(f"annotation-queues/{queue.pk}/items/{first['id']}").status_code == 404
    other = QueueFactory(project=project)
    assert api.get(f"annotation-queues/{other.pk}/items/{done['id']}").status_code == 404


def test_assignments_are_idempotent_by_id_or_email_and_a_non_member_is_a_404(api, project, victim_project):
    queue = QueueFactory(project=project)
    member = user_with_role(project, Role.ANNOTATOR, email="ann@example.com")
    for body in ({"userId": str(member.pk)}, {"userId": str(member.pk)}, {"email": "ANN@example.com"}):
        answer = api.post(f"annotation-queues/{queue.pk}/assignments", body)
        assert answer.json() == {"userId": str(member.pk), "queueId": queue.pk, "projectId": project.pk}
    assert QueueAssignment.objects.count() == 1
    stranger = user_with_role(victim_project, Role.OWNER)
    assert api.post(f"annotation-queues/{queue.pk}/assignments", {"userId": str(stranger.pk)}).status_code == 404
    assert api.post(f"annotation-queues/{queue.pk}/assignments", {}).status_code == 400
    for _ in range(2):
        assert api.delete(f"annotation-queues/{queue.pk}/assignments", {"userId": str(member.pk)}).json() == {"success": True}
    assert not QueueAssignment.objects.exists()


def test_assigning_needs_an_admin_key(api_by_role, project):
    queue = QueueFactory(project=project)
    member = user_with_role(project, Role.ANNOTATOR)
    answer = api_by_role[Role.MEMBER].post(f"annotation-queues/{queue.pk}/assignments", {"userId": str(member.pk)})
    assert answer.status_code == 403


def test_an_api_client_works_a_queue_for_an_annotator_blind_until_they_submit(api_by_role, project, config):
    queue = QueueFactory(project=project, score_config_ids=[config.id], annotators_per_item=2)
    item = QueueItemFactory(queue=queue)
    ann, other = user_with_role(project, Role.ANNOTATOR), user_with_role(project, Role.ANNOTATOR)
    api = api_by_role[Role.ANNOTATOR]
    claimed = api.post(f"annotation-queues/{queue.pk}/claim", {"userId": str(ann.pk)}).json()
    assert claimed["item"]["id"] == item.pk and claimed["item"]["lockedByUserId"] == str(ann.pk)
    submitted = api.post(
        f"annotation-queues/{queue.pk}/items/{item.pk}/submit",
        {"userId": str(ann.pk), "scores": [{"configId": config.id, "value": "bad", "comment": "off topic"}]},
    )
    assert submitted.status_code == 200 and submitted.json()["submissions"] == 1
    claimed = api.post(f"annotation-queues/{queue.pk}/claim", {"userId": str(other.pk)}).json()
    assert claimed["item"]["id"] == item.pk and claimed["scores"] == []
    assert api.get(f"annotation-queues/{queue.pk}/items/{item.pk}/scores", userId=str(other.pk)).json() == []
    late = api.post(
        f"annotation-queues/{queue.pk}/items/{item.pk}/submit",
        {"userId": str(ann.pk), "scores": [{"configId": config.id, "value": "good"}]},
    )
    assert late.status_code == 409 and "no longer hold" in late.json()["message"]
    bad = api.post(
        f"annotation-queues/{queue.pk}/items/{item.pk}/submit",
        {"userId": str(other.pk), "scores": [{"configId": config.id, "value": "splendid"}]},
    )
    assert bad.status_code == 400 and config.id in bad.json()["message"]
    api.post(f"annotation-queues/{queue.pk}/items/{item.pk}/submit", {"userId": str(other.pk), "scores": [{"configId": config.id, "value": "good"}]})
    seen = api.get(f"annotation-queues/{queue.pk}/items/{item.pk}/scores", userId=str(other.pk)).json()
    assert sorted(s["stringValue"] for s in seen) == ["bad", "good"]
    assert Score.objects.filter(queue_id=queue.pk, source="ANNOTATION").count() == 2
    assert api.post(f"annotation-queues/{queue.pk}/claim", {"userId": str(other.pk)}).json()["item"] is None
    progress = api.get(f"annotation-queues/{queue.pk}/progress").json()
    assert progress["queue"] == {"total": 1, "completed": 1, "pending": 0, "inProgress": 0}


def test_a_viewer_cannot_be_claimed_for_and_a_viewer_key_cannot_claim(api_by_role, project, config):
    queue = QueueFactory(project=project, score_config_ids=[config.id])
    QueueItemFactory(queue=queue)
    viewer = user_with_role(project, Role.VIEWER)
    annotator = user_with_role(project, Role.ANNOTATOR)
    assert api_by_role[Role.ANNOTATOR].post(f"annotation-queues/{queue.pk}/claim", {"userId": str(viewer.pk)}).status_code == 403
    assert api_by_role[Role.VIEWER].post(f"annotation-queues/{queue.pk}/claim", {"userId": str(annotator.pk)}).status_code == 403


def test_comments_are_created_listed_with_filters_and_read(api, project):
    trace = TraceFactory(project=project)
    author = user_with_role(project, Role.ANNOTATOR)
    body = {"projectId": project.pk, "objectType": "TRACE", "objectId": trace.trace_id, "content": "Wrong tool", "authorUserId": str(author.pk)}
    created = api.post("comments", body)
    assert created.status_code == 200, created.content
    comment_id = created.json()["id"]
    assert api.post("comments", {**body, "objectId": "missing"}).status_code == 400
    assert api.post("comments", {**body, "projectId": "other"}).status_code == 400
    listed = api.get("comments", objectType="TRACE", objectId=trace.trace_id).json()
    assert [c["id"] for c in listed["data"]] == [comment_id] and listed["data"][0]["authorUserId"] == str(author.pk)
    assert api.get("comments", authorUserId="someone").json()["data"] == []
    assert api.get("comments", objectId="x").status_code == 400
    assert api.get(f"comments/{comment_id}").json()["content"] == "Wrong tool"


def test_project_memberships_are_served_to_admin_keys_of_that_project(api, api_by_role, project, victim_project):
    member = user_with_role(project, Role.ANNOTATOR, email="a@example.com", first_name="Ann", last_name="Lee")
    hidden = user_with_role(project, Role.MEMBER)
    ProjectMembershipFactory(project=project, user=hidden, role=Role.NONE)
    answer = api.get(f"projects/{project.pk}/memberships").json()
    assert answer["memberships"] == [{
        "userId": str(member.pk), "role": "VIEWER", "projectRole": "ANNOTATOR", "email": "a@example.com", "name": "Ann Lee",
    }]
    # The SDK's MembershipRole has no ANNOTATOR: its model must parse the answer.
    parsed = parse_obj_as(MembershipsResponse, answer)  # as the SDK's client reads it
    assert [m.role.value for m in parsed.memberships] == ["VIEWER"]
    assert api.get(f"projects/{victim_project.pk}/memberships").status_code == 404
    assert api_by_role[Role.MEMBER].get(f"projects/{project.pk}/memberships").status_code == 403
