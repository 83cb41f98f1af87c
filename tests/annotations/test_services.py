"""Queues, items, assignments and comments through their services."""

import pytest
from django.core.exceptions import ValidationError

from annotations.markdown import render_markdown
from annotations.models import ItemStatus, QueueAssignment, QueueItem
from annotations.services import (
    ObjectRef,
    comment_create,
    queue_assignment_create,
    queue_assignment_delete,
    queue_create,
    queue_item_add,
    queue_items_add_many,
    queue_update,
    run_item_refs,
)
from evalsite.errors import NotFound
from evalsite.tenancy.roles import Role
from tests.annotations.factories import QueueFactory, QueueItemFactory
from tests.experiments.factories import RunItemFactory
from tests.scoring.factories import ScoreConfigFactory
from tests.tenancy.factories import ProjectMembershipFactory, UserFactory, user_with_role
from tests.traces.factories import ObservationFactory, TraceFactory

pytestmark = pytest.mark.django_db


def test_a_queue_has_defaults_and_refuses_a_duplicate_name(project):
    config = ScoreConfigFactory(project=project)
    queue = queue_create(project=project, name="Review", score_config_ids=[config.id])
    assert (queue.annotators_per_item, queue.lock_seconds, queue.access) == (1, 300, "PROJECT")
    with pytest.raises(ValidationError) as error:
        queue_create(project=project, name="Review", score_config_ids=[])
    assert "already exists" in error.value.message_dict["name"][0]


def test_a_queue_refuses_configs_of_another_project_and_bad_numbers(project, victim_project):
    foreign = ScoreConfigFactory(project=victim_project)
    with pytest.raises(ValidationError) as error:
        queue_create(project=project, name="q", score_config_ids=[foreign.id], annotators_per_item=0, lock_seconds=1)
    assert set(error.value.message_dict) == {"score_config_ids", "annotators_per_item", "lock_seconds"}


def test_lowering_n_completes_the_items_that_now_have_enough_annotators(project):
    queue = QueueFactory(project=project, annotators_per_item=3)
    item = QueueItemFactory(queue=queue, submissions=2)
    queue_update(project=project, queue=queue, annotators_per_item=2)
    item.refresh_from_db()
    assert item.status == ItemStatus.COMPLETED and item.completed_at is not None


def test_adding_an_object_twice_is_a_no_op_that_says_so(project):
    queue = QueueFactory(project=project)
    first = queue_item_add(project=project, queue=queue, object_type="TRACE", object_id="t1")
    again = queue_item_add(project=project, queue=queue, object_type="TRACE", object_id="t1")
    assert first.created and not again.created and again.item.pk == first.item.pk
    assert "Already in the queue" in again.message
    assert QueueItem.objects.filter(queue=queue).count() == 1


def test_an_observation_item_knows_its_trace_and_an_unknown_observation_is_refused(project):
    observation = ObservationFactory(trace=TraceFactory(project=project))
    queue = QueueFactory(project=project)
    added = queue_item_add(project=project, queue=queue, object_type="OBSERVATION", object_id=observation.observation_id)
    assert added.item.trace_id == observation.trace_id
    with pytest.raises(ValidationError) as error:
        queue_item_add(project=project, queue=queue, object_type="OBSERVATION", object_id="nope")
    assert "object_id" in error.value.message_dict


def test_many_objects_are_added_once_each_and_run_items_become_their_traces(project):
    queue = QueueFactory(project=project)
    run_items = [RunItemFactory(run__project=project) for _ in range(3)]
    refs = run_item_refs(project=project, run_items=run_items)
    assert queue_items_add_many(project=project, queue=queue, refs=refs) == (3, 0)
    more = [*refs[:2], ObjectRef("SESSION", "s1"), ObjectRef("TRACE", run_items[0].trace_id)]
    assert queue_items_add_many(project=project, queue=queue, refs=more) == (1, 3)
    item = QueueItem.objects.get(queue=queue, object_id=run_items[1].trace_id)
    assert item.object_type == "TRACE" and item.run_item_id == run_items[1].pk


def test_assignments_by_id_or_email_are_idempotent_and_need_a_member(project, victim_project):
    queue = QueueFactory(project=project)
    member = user_with_role(project, Role.ANNOTATOR, email="Ann@Example.com")
    queue_assignment_create(project=project, queue=queue, user_id=member.pk)
    queue_assignment_create(project=project, queue=queue, email="ann@example.com")
    assert QueueAssignment.objects.filter(queue=queue).count() == 1
    outsider = user_with_role(victim_project, Role.OWNER)
    with pytest.raises(NotFound):
        queue_assignment_create(project=project, queue=queue, user_id=outsider.pk)
    excluded = user_with_role(project, Role.MEMBER)
    ProjectMembershipFactory(project=project, user=excluded, role=Role.NONE)
    with pytest.raises(NotFound):
        queue_assignment_create(project=project, queue=queue, user_id=excluded.pk)
    queue_assignment_delete(project=project, queue=queue, user_id=member.pk)
    queue_assignment_delete(project=project, queue=queue, user_id=member.pk)
    assert not QueueAssignment.objects.filter(queue=queue).exists()
    with pytest.raises(NotFound):
        queue_assignment_create(project=project, queue=queue, user_id=UserFactory().pk)


def test_a_comment_needs_an_existing_object_and_a_member_author(project):
    trace = TraceFactory(project=project, session_id="s-1")
    member = user_with_role(project, Role.VIEWER)
    comment = comment_create(project=project, object_type="TRACE", object_id=trace.trace_id, content="Look", author_user_id=member.pk)
    assert comment.author_user == member
    assert comment_create(project=project, object_type="SESSION", object_id="s-1", content="ok").pk
    with pytest.raises(ValidationError) as error:
        comment_create(project=project, object_type="TRACE", object_id="missing", content="x" * 5001, author_user_id=UserFactory().pk)
    assert set(error.value.message_dict) == {"content", "author_user_id"}
    with pytest.raises(ValidationError) as error:
        comment_create(project=project, object_type="PROMPT", object_id="missing", content="hi", author_user_id=UserFactory().pk)
    assert set(error.value.message_dict) == {"object_id", "author_user_id"}


def test_instructions_render_markdown_without_any_script(project):
    html = render_markdown(
        "# Rate it\n\n**bold** <script>alert(1)</script> [x](javascript:alert(1)) <img src=x onerror=alert(2)>"
        "\n\n[ok](https://example.com)"
    )
    assert "<h1>Rate it</h1>" in html and "<strong>bold</strong>" in html
    assert "<script" not in html and "javascript:" not in html.replace("[x](javascript:alert(1))", "")
    assert "onerror" not in html.replace("&lt;img src=x onerror=alert(2)&gt;", "")
    assert 'href="https://example.com"' in html and "noopener" in html
