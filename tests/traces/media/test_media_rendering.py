"""Media references shown on the pages (trace, comparison) and handed to judges (`media_resolve`)."""

import base64
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from evalsite.tenancy.roles import Role
from experiments.models import RunItem
from tests.experiments.factories import scored_runs
from tests.tenancy.factories import user_with_role
from tests.traces.factories import ObservationFactory, TraceFactory
from tests.traces.media.factories import PDF, png, reference, stored_media
from traces.media.rendering import render_media
from traces.media.selectors import media_links, media_resolve

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)
AUDIO = b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 28


def test_text_around_references_is_escaped_and_each_media_shown_by_its_kind(project):
    image, audio = png(), AUDIO
    for content, content_type in ((image, "image/png"), (PDF, "application/pdf"), (audio, "audio/wav")):
        stored_media(project, content, content_type)
    missing = reference(b"never uploaded", "image/jpeg")
    text = (
        f"<b>look</b> {reference(image, 'image/png')} and {reference(PDF, 'application/pdf')} "
        f"{reference(audio, 'audio/wav', 'base64_data_uri')} {missing}"
    )
    html = render_media(text, media_links(project=project, values=[text]))
    assert html.startswith("&lt;b&gt;look&lt;/b&gt; ")
    assert html.count("<img ") == 1 and html.count('href="/media/download/') == 3 and "<audio controls" in html
    assert "📎 application/pdf · " in html
    assert "[image/jpeg media " in html and "not available" in html


def test_media_of_another_project_is_never_linked(project, victim_project):
    image = png()
    stored_media(victim_project, image)
    text = reference(image, "image/png")
    assert media_links(project=project, values=[{"input": [text]}]) == {}
    assert "not available" in render_media(text, {})


def test_the_trace_page_shows_images_inline_and_files_as_links_in_one_query(client, project):
    image = png()
    stored_media(project, image, trace_id="trace-1")
    stored_media(project, PDF, "application/pdf", trace_id="trace-1", field="output")
    trace = TraceFactory(
        project=project, trace_id="trace-1", input={"img": reference(image, "image/png")},
        output=f"see {reference(PDF, 'application/pdf')}", timestamp=T0,
    )
    ObservationFactory(trace=trace, observation_id="root", input={"img": reference(image, "image/png")}, start_time=T0)
    client.force_login(user_with_role(project, Role.VIEWER, staff=False))
    page_url = reverse("trace-detail", kwargs={"project_id": project.pk, "trace_id": "trace-1"})
    with CaptureQueriesContext(connection) as queries:
        response = client.get(page_url)
    html = response.content.decode()
    assert response.status_code == 200 and html.count("<img ") == 2 and "📎 application/pdf" in html
    assert len([q for q in queries.captured_queries if "traces_media" in q["sql"]]) == 1
    image_url = html.split('<img src="', 1)[1].split('"', 1)[0]
    served = client.get(image_url)
    assert served.status_code == 200 and b"".join(served.streaming_content) == image


def test_the_comparison_page_shows_media_in_outputs(client, project):
    image = png(rgb=(1, 200, 1))
    runs = scored_runs(project, {"baseline": [0.5, 0.7], "candidate": [0.6, 0.8]})
    item = RunItem.objects.filter(run=runs[1]).order_by("item_key").first()
    item.output = {"chart": reference(image, "image/png")}
    item.save(update_fields=["output"])
    stored_media(project, image, trace_id=item.trace_id, field="output")
    client.force_login(user_with_role(project, Role.VIEWER, staff=False))
    ids = ",".join(run.run_id for run in runs)
    response = client.get(reverse("experiment-compare", kwargs={"project_id": project.pk}) + f"?runs={ids}")
    assert response.status_code == 200 and response.content.decode().count("<img ") == 1


def test_a_judge_gets_the_value_as_content_parts_with_its_media_inline(project):
    image = png()
    stored_media(project, image)
    stored_media(project, PDF, "application/pdf")
    stored_media(project, AUDIO, "audio/wav")
    value = [
        {"role": "user", "content": [{"type": "text", "text": "what is this?"},
                                     {"type": "image_url", "image_url": {"url": reference(image, "image/png")}}]},
        {"role": "user", "content": f"and {reference(PDF, 'application/pdf')} {reference(AUDIO, 'audio/wav')}"},
    ]
    parts = media_resolve(project=project, value=value)
    kinds = [part["type"] for part in parts]
    assert kinds == ["text", "image_url", "text", "file", "text", "input_audio", "text"]
    assert parts[1]["image_url"]["url"] == "data:image/png;base64," + base64.b64encode(image).decode()
    assert parts[3]["file"]["file_data"] == "data:application/pdf;base64," + base64.b64encode(PDF).decode()
    assert parts[5]["input_audio"] == {"data": base64.b64encode(AUDIO).decode(), "format": "wav"}
    assert '"what is this?"' in parts[0]["text"]


def test_a_judge_gets_a_description_for_media_it_cannot_take_or_that_is_over_budget(project):
    image = png()
    stored_media(project, image)
    csv = b"a,b\n1,2\n"
    stored_media(project, csv, "text/csv")
    text = f"{reference(image, 'image/png')} {reference(b'never stored', 'text/csv')} {reference(csv, 'text/csv')}"
    parts = media_resolve(project=project, value=text, max_total_bytes=10)
    assert [part["type"] for part in parts] == ["text"]
    assert "image/png" in parts[0]["text"] and "not shown" in parts[0]["text"] and "not stored" in parts[0]["text"]
    assert media_resolve(project=project, value="plain") == [{"type": "text", "text": "plain"}]
