"""Media the unmodified SDK uploaded, shown on the trace page in headless Chromium."""

import pytest

from evalsite.tenancy.roles import Role
from tests.e2e.test_pages_in_chromium import CHROMIUM, browser, signed_in_page  # noqa: F401 (fixture)
from tests.support.live import langfuse_client, wait_for_media_uploads
from tests.tenancy.factories import api_key_for, user_with_role
from tests.traces.media.factories import PDF, png
from traces.media.models import Media

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.live,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)"),
]


def test_the_trace_page_shows_the_sdks_image_inline_and_its_pdf_as_a_link(browser, live_server, project, tmp_path):  # noqa: F811
    import base64

    from langfuse.media import LangfuseMedia

    image = png(width=40, height=30, rgb=(220, 20, 60))
    data_uri = "data:image/png;base64," + base64.b64encode(image).decode()
    with langfuse_client(live_server, api_key_for(project), flush_interval=60, flush_at=1000) as lf:
        with lf.start_as_current_observation(
            name="vision-call",
            # An OpenAI-style message with a data URI, as an instrumented app sends it, and a PDF.
            input=[{"role": "user", "content": [{"type": "text", "text": "describe"},
                                                {"type": "image_url", "image_url": {"url": data_uri}}]}],
            metadata={"attachment": LangfuseMedia(content_bytes=PDF, content_type="application/pdf")},
        ) as root:
            root.update(output="a crimson rectangle")
        trace_id = root.trace_id
        wait_for_media_uploads(lf)
        lf.flush()
    assert Media.objects.filter(project=project, uploaded_at__isnull=False).count() == 2

    page = signed_in_page(browser, live_server, user_with_role(project, Role.VIEWER, staff=False))
    page.goto(f"{live_server.url}/projects/{project.pk}/traces/{trace_id}")
    image_element = page.locator(".card img").first
    image_element.wait_for(timeout=15_000)
    page.wait_for_function(
        "() => { const img = document.querySelector('.card img'); return img.complete && img.naturalWidth > 0 }",
        timeout=15_000,
    )
    assert image_element.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [40, 30]
    page.click("details summary")  # the observation's input/output/metadata
    # The root span's input is the trace's too (issue 15), so the PDF is linked from both.
    link = page.locator("details a.media-file").first
    assert "application/pdf" in link.inner_text()
    response = page.request.get(live_server.url + link.get_attribute("href"))
    assert response.status == 200 and response.body() == PDF
    page.screenshot(path=tmp_path / "trace-media.png", full_page=True)  # kept by pytest's tmp dir, to look at
