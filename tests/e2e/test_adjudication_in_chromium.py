"""The adjudication pages in headless Chromium: an ADMIN finds a disagreement and writes the final score."""

import pytest

from annotations.claims import ScoreInput, queue_item_claim_next, queue_item_submit
from evalsite.tenancy.roles import Role
from scoring.models import Score
from tests.annotations.factories import QueueFactory, QueueItemFactory
from tests.e2e.test_pages_in_chromium import CHROMIUM, browser, signed_in_page  # noqa: F401 - the fixture
from tests.scoring.factories import CategoricalConfigFactory
from tests.tenancy.factories import user_with_role
from tests.traces.factories import TraceFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.live,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)"),
]


def test_an_admin_adjudicates_a_disagreement_from_the_queue_list(browser, live_server, project):  # noqa: F811
    quality = CategoricalConfigFactory(project=project, name="quality")
    queue = QueueFactory(project=project, name="Support review", score_config_ids=[quality.id], annotators_per_item=2)
    for n in range(2):
        TraceFactory(project=project, trace_id=f"trace-{n}")
        QueueItemFactory(queue=queue, object_id=f"trace-{n}")
    annotators = [user_with_role(project, Role.ANNOTATOR, email=f"a{n}@example.com") for n in range(2)]
    for _ in range(2):
        for user, label in zip(annotators, ("good", "bad"), strict=True):
            item = queue_item_claim_next(project=project, queue=queue, user=user, role=Role.ANNOTATOR)
            # Oldest first: trace-0 gets good / bad (a disagreement), then trace-1 good / good.
            value = label if item.object_id == "trace-0" else "good"
            queue_item_submit(project=project, item=item, user=user, role=Role.ANNOTATOR, scores=[ScoreInput(quality.id, value)])

    page = signed_in_page(browser, live_server, user_with_role(project, Role.ADMIN, staff=False))
    page.goto(f"{live_server.url}/projects/{project.pk}/annotations")
    page.click("text=Adjudicate")
    page.select_option("select[name=config]", quality.id)
    page.click("#filter button")
    page.wait_for_selector("#items")
    assert page.locator("#items tbody tr").count() == 1 and "trace-0" in page.inner_text("#items")
    page.click("#items a")
    page.wait_for_selector("#scores")
    row = page.inner_text("#scores tbody tr")
    assert "good" in row and "bad" in row and "a0@example.com" in page.inner_text("#scores thead")
    page.select_option(f"select[name=final-{quality.id}]", "bad")
    page.fill(f"input[name=comment-{quality.id}]", "the answer was wrong")
    page.click("text=Save the final scores")
    page.wait_for_selector("text=Final scores saved.")
    final = Score.objects.get(project=project, metadata__adjudicated=True)
    assert final.string_value == "bad" and final.comment == "the answer was wrong" and final.trace_id == "trace-0"
