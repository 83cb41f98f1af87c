"""The annotation workspace in headless Chromium: keyboard first, nothing typed is ever lost."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from annotations.models import QueueItem
from datasets.models import DatasetItem
from evalsite.tenancy.roles import Role
from scoring.models import Score
from tests.annotations.factories import QueueFactory, QueueItemFactory
from tests.datasets.factories import DatasetFactory
from tests.e2e.test_pages_in_chromium import CHROMIUM, browser, signed_in_page  # noqa: F401 - the fixture
from tests.scoring.factories import CategoricalConfigFactory, ScoreConfigFactory
from tests.tenancy.factories import user_with_role
from tests.traces.factories import ObservationFactory, TraceFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.live,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)"),
]
T0 = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)


def queue_with_traces(project, count=2, **fields):
    quality = CategoricalConfigFactory(project=project, name="quality")
    notes = ScoreConfigFactory(project=project, name="notes", data_type="TEXT")
    queue = QueueFactory(
        project=project, name="Support review", score_config_ids=[quality.id, notes.id],
        instructions="# Rate the answer\n\nIs it **correct**? <script>window.injected = 1</script>", **fields,
    )
    for n in range(count):
        trace = TraceFactory(project=project, trace_id=f"trace-{n}", name=f"chat-{n}", input={"q": f"question {n}"},
                             output=f"answer {n}", timestamp=T0)
        ObservationFactory(trace=trace, observation_id=f"llm-{n}", name="generate", start_time=T0, input="prompt text",
                           output=f"generated {n}")
        QueueItemFactory(queue=queue, object_id=trace.trace_id)
    return queue, quality


def test_an_annotator_scores_with_the_keyboard_and_the_next_item_follows(browser, live_server, project):  # noqa: F811
    queue, quality = queue_with_traces(project)
    user = user_with_role(project, Role.ANNOTATOR, staff=False)
    page = signed_in_page(browser, live_server, user)
    page.goto(f"{live_server.url}/projects/{project.pk}/annotations")
    page.click("text=Start annotating")
    page.wait_for_selector("#annotate")
    body = page.inner_text("body")
    assert "Rate the answer" in body and "question 0" in body and "generated 0" in body and "generate" in body
    assert page.locator("#instructions h1").count() == 1
    assert page.evaluate("window.injected") is None  # the instructions' script was not run

    page.keyboard.press("?")
    assert page.locator("#keys").is_visible()
    page.keyboard.press("2")  # the second category of the first config: "ok"
    assert page.locator("input[value=ok]").is_checked()
    page.keyboard.press("Enter")
    page.wait_for_selector("text=question 1")
    score = Score.objects.get(project=project, trace_id="trace-0")
    assert (score.string_value, score.source, score.author_user_id, score.queue_id) == ("ok", "ANNOTATION", user.pk, queue.pk)

    page.keyboard.press("s")
    page.wait_for_selector("text=Nothing left for you")
    assert not Score.objects.filter(trace_id="trace-1").exists()


def test_a_lost_lock_keeps_what_was_typed_and_offers_to_claim_again(browser, live_server, project):  # noqa: F811
    dataset = DatasetFactory(project=project, name="corrections")
    queue, quality = queue_with_traces(project, count=1, corrections_dataset=dataset)
    user, other = user_with_role(project, Role.ANNOTATOR, staff=False), user_with_role(project, Role.ANNOTATOR, staff=False)
    page = signed_in_page(browser, live_server, user)
    page.goto(f"{live_server.url}/projects/{project.pk}/annotations/{queue.pk}")
    page.wait_for_selector("#annotate")
    page.click("input[value=bad]")
    page.fill("textarea[name^=score-]", "misses the refund policy")
    page.fill("textarea[name=corrected_output]", "Refunds take 5 days.")
    page.check("input[name=add_to_dataset]")

    # Meanwhile the lock expired and another annotator took the item.
    QueueItem.objects.filter(queue=queue).update(locked_by=other, locked_until=timezone.now() + timedelta(minutes=5))
    page.click("#submit-button")
    page.wait_for_selector("#lock-lost")
    assert "no longer hold" in page.inner_text("#lock-lost")
    assert page.locator("input[value=bad]").is_checked()
    assert page.input_value("textarea[name^=score-]") == "misses the refund policy"
    assert not Score.objects.exists()

    # The other annotator lets it go; claiming again keeps the input, and submitting stores it all.
    QueueItem.objects.filter(queue=queue).update(locked_by=None, locked_until=None)
    page.click("text=Claim again and keep my input")
    page.wait_for_selector("text=your input is kept")
    assert page.locator("input[value=bad]").is_checked()
    assert page.input_value("textarea[name=corrected_output]") == "Refunds take 5 days."
    page.click("#submit-button")
    page.wait_for_selector("text=Nothing left for you")
    assert {s.name: s.string_value for s in Score.objects.filter(author_user=user)} == {
        "quality": "bad", "notes": "misses the refund policy",
    }
    item = DatasetItem.objects.get(dataset=dataset)
    assert item.expected_output == "Refunds take 5 days." and item.input == {"q": "question 0"}
    assert item.source_trace_id == "trace-0"


def test_comments_show_on_the_trace_page_and_can_be_added_there(browser, live_server, project):  # noqa: F811
    TraceFactory(project=project, trace_id="trace-c", name="chat", timestamp=T0)
    user = user_with_role(project, Role.ANNOTATOR, staff=False)
    page = signed_in_page(browser, live_server, user)
    page.goto(f"{live_server.url}/projects/{project.pk}/traces/trace-c")
    page.fill("form.comment input[name=content]", "Tool call failed silently")
    page.click("form.comment button[type=submit]")
    page.wait_for_selector("p.comment")
    assert "Tool call failed silently" in page.inner_text("#comments + .card")
