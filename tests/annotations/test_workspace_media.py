"""The annotation workspace shows the media of the object under review (annotations/workspace.py):
images inline, files as links, through signed URLs of the project's own media only."""

import pytest
from django.urls import reverse

from evalsite.tenancy.roles import Role
from tests.annotations.factories import QueueFactory, QueueItemFactory
from tests.support.api import ApiClient
from tests.tenancy.factories import api_key_for, user_with_role
from tests.traces.factories import ObservationFactory, TraceFactory
from tests.traces.media.factories import PDF, png, reference, stored_media

pytestmark = pytest.mark.django_db


def queue_on_trace(project, trace_id, **trace_fields):
    trace = TraceFactory(project=project, trace_id=trace_id, **trace_fields)
    queue = QueueFactory(project=project)
    QueueItemFactory(queue=queue, object_id=trace.trace_id)
    return queue, trace


def workspace(client, project, queue):
    return client.get(reverse("annotation-workspace", kwargs={"project_id": project.pk, "queue_id": queue.pk}))


@pytest.mark.parametrize("role", [Role.ANNOTATOR, Role.MEMBER, Role.ADMIN, Role.OWNER])
def test_the_workspace_shows_the_trace_s_image_inline_and_its_pdf_as_a_link(client, project, media_root, role):
    image = png(rgb=(30, 60, 90))
    stored_media(project, image, trace_id="with-media")
    stored_media(project, PDF, "application/pdf", trace_id="with-media", observation_id="llm", field="output")
    queue, trace = queue_on_trace(project, "with-media", input={"photo": reference(image, "image/png")}, output="a blue square")
    ObservationFactory(trace=trace, observation_id="llm", output=f"report: {reference(PDF, 'application/pdf')}")
    client.force_login(user_with_role(project, role, staff=False))

    response = workspace(client, project, queue)

    html = response.content.decode()
    assert response.status_code == 200 and html.count("<img ") == 1 and "📎 application/pdf" in html
    image_url = html.split('<img src="', 1)[1].split('"', 1)[0]
    assert image_url.startswith("/media/download/")
    served = client.get(image_url)
    assert served.status_code == 200 and b"".join(served.streaming_content) == image


def test_another_project_s_user_gets_neither_the_page_nor_the_media(client, project, victim_project, media_root):
    image = png(rgb=(90, 60, 30))
    media = stored_media(project, image, trace_id="t")
    queue, _ = queue_on_trace(project, "t", input=reference(image, "image/png"))
    # The victim's own trace names the same media id: its workspace must not link the project's bytes.
    victim_queue, _ = queue_on_trace(victim_project, "v", input=reference(image, "image/png"))
    client.force_login(user_with_role(victim_project, Role.OWNER, staff=False))

    assert workspace(client, project, queue).status_code in (403, 404)
    own = workspace(client, victim_project, victim_queue)
    html = own.content.decode()
    assert own.status_code == 200 and "<img " not in html and "/media/download/" not in html and "not available" in html
    assert ApiClient(api_key_for(victim_project)).get(f"media/{media.media_id}").status_code == 404
