"""'Add to an annotation queue' on the real Trace and Observation admins (registered through
traces.hooks), with "select all" applying to the whole filtered list, not the page."""

import pytest
from django.urls import reverse

from annotations.models import QueueItem
from evalsite.tenancy.roles import Role
from tests.annotations.factories import QueueFactory
from tests.tenancy.factories import user_with_role
from tests.traces.factories import ObservationFactory, TraceFactory

pytestmark = pytest.mark.django_db


def run_action(client, url, action, selection, queue, select_across=False):
    data = {"action": action, "_selected_action": selection}
    if select_across:
        data["select_across"] = "1"
    page = client.post(url, data)
    assert page.status_code == 200 and b"Add to the queue" in page.content
    return client.post(url, {**data, "apply": "1", "queue": queue.pk}, follow=True)


def test_select_all_adds_every_filtered_trace_and_says_what_was_already_there(client, project, victim_project):
    queue = QueueFactory(project=project)
    prod = [TraceFactory(project=project, environment="prod") for _ in range(130)]  # more than one admin page
    TraceFactory(project=project, environment="dev")
    client.force_login(user_with_role(project, Role.MEMBER))
    url = reverse("admin:traces_trace_changelist") + "?environment=prod"
    answer = run_action(client, url, "add_traces_to_queue", [prod[0].pk], queue, select_across=True)
    assert "Added 130 item(s)" in answer.content.decode()
    assert set(QueueItem.objects.filter(queue=queue).values_list("object_id", flat=True)) == {t.trace_id for t in prod}
    again = run_action(client, url, "add_traces_to_queue", [prod[0].pk, prod[1].pk], queue)
    assert "Added 0 item(s)" in again.content.decode() and "2 were already in the queue" in again.content.decode()


def test_observations_are_added_with_their_trace_and_only_the_projects_queues_are_offered(client, project, victim_project):
    queue = QueueFactory(project=project, name="ours")
    QueueFactory(project=victim_project, name="theirs")
    observation = ObservationFactory(trace=TraceFactory(project=project))
    client.force_login(user_with_role(project, Role.MEMBER))
    url = reverse("admin:traces_observation_changelist")
    page = client.post(url, {"action": "add_observations_to_queue", "_selected_action": [observation.pk]}).content.decode()
    assert "ours" in page and "theirs" not in page
    run_action(client, url, "add_observations_to_queue", [observation.pk], queue)
    item = QueueItem.objects.get(queue=queue)
    assert (item.object_type, item.object_id, item.trace_id) == ("OBSERVATION", observation.observation_id, observation.trace_id)


def test_an_annotator_cannot_fill_a_queue(client, project):
    queue = QueueFactory(project=project)
    trace = TraceFactory(project=project)
    client.force_login(user_with_role(project, Role.ANNOTATOR))
    url = reverse("admin:traces_trace_changelist")
    answer = client.post(url, {"action": "add_traces_to_queue", "_selected_action": [trace.pk], "apply": "1", "queue": queue.pk}, follow=True)
    assert not QueueItem.objects.exists()
    assert answer.status_code in (200, 403)


def test_run_items_go_into_a_queue_as_their_traces_remembering_the_run_item(client, project):
    from tests.experiments.factories import RunItemFactory

    queue = QueueFactory(project=project)
    items = [RunItemFactory(run__project=project) for _ in range(3)]
    client.force_login(user_with_role(project, Role.MEMBER))
    url = reverse("admin:experiments_runitem_changelist")
    answer = run_action(client, url, "add_run_items_to_queue", [items[0].pk], queue, select_across=True)
    assert "Added 3 item(s)" in answer.content.decode()
    stored = {item.object_id: item.run_item_id for item in QueueItem.objects.filter(queue=queue)}
    assert stored == {item.trace_id: item.pk for item in items}


def test_the_sessions_of_the_selected_traces_go_into_the_queue_once_each(client, project):
    queue = QueueFactory(project=project)
    traces = [TraceFactory(project=project, session_id=f"chat-{n % 2}") for n in range(5)] + [TraceFactory(project=project)]
    client.force_login(user_with_role(project, Role.MEMBER))
    url = reverse("admin:traces_trace_changelist")
    answer = run_action(client, url, "add_trace_sessions_to_queue", [t.pk for t in traces], queue)
    assert "Added 2 item(s)" in answer.content.decode()
    items = set(QueueItem.objects.filter(queue=queue).values_list("object_type", "object_id"))
    assert items == {("SESSION", "chat-0"), ("SESSION", "chat-1")}
