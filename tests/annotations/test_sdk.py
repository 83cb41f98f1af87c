"""The unmodified langfuse SDK (lf.api.annotation_queues, lf.api.comments) parses every answer."""

import pytest

from evalsite.tenancy.roles import Role
from tests.scoring.factories import CategoricalConfigFactory
from tests.support.live import langfuse_client
from tests.tenancy.factories import api_key_for, user_with_role
from tests.traces.factories import TraceFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live]


def test_the_sdk_drives_queues_items_assignments_and_comments(live_server, project):
    from langfuse.api import AnnotationQueueObjectType, AnnotationQueueStatus

    config = CategoricalConfigFactory(project=project)
    member = user_with_role(project, Role.ANNOTATOR)
    trace = TraceFactory(project=project)
    with langfuse_client(live_server, api_key_for(project)) as lf:
        api = lf.api
        queue = api.annotation_queues.create_queue(name="Review", description="check answers", score_config_ids=[config.id])
        assert queue.score_config_ids == [config.id]
        assert [q.id for q in api.annotation_queues.list_queues().data] == [queue.id]
        assert api.annotation_queues.get_queue(queue.id).name == "Review"

        item = api.annotation_queues.create_queue_item(queue.id, object_id=trace.trace_id, object_type=AnnotationQueueObjectType.TRACE)
        assert item.status == AnnotationQueueStatus.PENDING and item.completed_at is None
        same = api.annotation_queues.create_queue_item(queue.id, object_id=trace.trace_id, object_type=AnnotationQueueObjectType.TRACE)
        assert same.id == item.id
        page = api.annotation_queues.list_queue_items(queue.id, status=AnnotationQueueStatus.PENDING)
        assert [i.id for i in page.data] == [item.id] and page.meta.total_items == 1
        assert api.annotation_queues.get_queue_item(queue.id, item.id).object_id == trace.trace_id
        done = api.annotation_queues.update_queue_item(queue.id, item.id, status=AnnotationQueueStatus.COMPLETED)
        assert done.status == AnnotationQueueStatus.COMPLETED and done.completed_at is not None
        assert api.annotation_queues.delete_queue_item(queue.id, item.id).success

        assigned = api.annotation_queues.create_queue_assignment(queue.id, user_id=str(member.pk))
        assert (assigned.user_id, assigned.queue_id, assigned.project_id) == (str(member.pk), queue.id, project.pk)
        assert api.annotation_queues.delete_queue_assignment(queue.id, user_id=str(member.pk)).success

        created = api.comments.create(project_id=project.pk, object_type="TRACE", object_id=trace.trace_id, content="Looks wrong", author_user_id=str(member.pk))
        comments = api.comments.get(object_type="TRACE", object_id=trace.trace_id)
        assert [c.id for c in comments.data] == [created.id] and comments.meta.total_items == 1
        comment = api.comments.get_by_id(created.id)
        assert comment.content == "Looks wrong" and comment.author_user_id == str(member.pk)
