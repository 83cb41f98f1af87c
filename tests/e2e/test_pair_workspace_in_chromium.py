"""The pair workspace in headless Chromium: two outputs side by side, answered with a / b / t."""

import pytest

from annotations.pairs.services import queue_pairs_add
from evalsite.tenancy.roles import Role
from scoring.models import Score
from tests.annotations.factories import QueueFactory
from tests.e2e.test_pages_in_chromium import CHROMIUM, browser, signed_in_page  # noqa: F401 - the fixture
from tests.experiments.factories import ExperimentRunFactory, RunItemFactory
from tests.tenancy.factories import user_with_role

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.live,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)"),
]


def test_an_annotator_prefers_with_the_keys_and_the_next_pair_follows(browser, live_server, project):  # noqa: F811
    baseline = ExperimentRunFactory(project=project, name="baseline")
    candidate = ExperimentRunFactory(project=project, name="candidate")
    for index in range(3):
        for run in (baseline, candidate):
            RunItemFactory(run=run, item_key=f"item-{index}", input=f"question {index}", output=f"{run.name} says {index}")
    queue = QueueFactory(project=project, name="Which is better")
    queue_pairs_add(project=project, queue=queue, run=candidate, baseline_run_id=baseline.run_id)
    user = user_with_role(project, Role.ANNOTATOR, staff=False)
    page = signed_in_page(browser, live_server, user)
    page.goto(f"{live_server.url}/projects/{project.pk}/annotations/{queue.pk}/pairs")

    seen = []
    for key in ("a", "b", "t"):
        page.wait_for_selector("#output-a")
        question = page.inner_text("#pair-input")
        assert question not in seen
        seen.append(question)
        assert "says" in page.inner_text("#output-a") and "says" in page.inner_text("#output-b")
        page.keyboard.press(key)
        page.wait_for_load_state("load")
        page.wait_for_function(f"!document.body.innerText.includes({question!r}) || !document.getElementById('pair-input')")
    page.wait_for_selector("text=Nothing left for you in this queue.")

    scores = Score.objects.filter(project=project, source="ANNOTATION", name="preference")
    assert scores.count() == 3
    assert {score.metadata["pairwise"]["winner"] for score in scores} >= {"tie"}
