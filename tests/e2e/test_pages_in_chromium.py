"""The server-rendered pages in headless Chromium: what a person sees and clicks.

Uses Debian's chromium (installed by .ci/run) driven by Playwright; no browser is downloaded.
"""

import shutil
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from django.db import connections

from evalsite.tenancy.roles import Role
from scoring.models import Score
from tests.experiments.factories import scored_runs
from tests.scoring.factories import ScoreConfigFactory
from tests.tenancy.factories import user_with_role
from tests.traces.factories import ObservationFactory, TraceFactory

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.live,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)"),
]


@pytest.fixture
def browser(monkeypatch):
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop on this thread; the test's own ORM calls are still
    # plain synchronous code, which Django would otherwise refuse to run there.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "1")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"],
        )
        yield browser
        browser.close()
        # Connections opened while Playwright drives this thread belong to that context; close
        # them here, or PostgreSQL still sees a session when the test database is dropped.
        connections.close_all()


def signed_in_page(browser, live_server, user):
    page = browser.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", "pw-for-tests")
    page.click("button[type=submit]")
    return page


def test_the_comparison_page_draws_its_charts_and_filters_regressions(browser, live_server, project, tmp_path):
    rng = np.random.default_rng(7)
    baseline = list(rng.random(30))
    candidate = [min(1.0, value + 0.3) if index % 5 else value - 0.2 for index, value in enumerate(baseline)]
    runs = scored_runs(project, {"baseline": baseline, "candidate": candidate})
    user = user_with_role(project, Role.VIEWER, staff=False)

    page = signed_in_page(browser, live_server, user)
    ids = ",".join(run.run_id for run in runs)
    page.goto(f"{live_server.url}/projects/{project.pk}/experiments/compare?runs={ids}&baseline={runs[0].run_id}")
    page.wait_for_selector(".chart .main-svg", timeout=15_000)  # plotly rendered the means with their intervals
    text = page.inner_text("body")
    assert "accuracy" in text and "candidate better" in text
    all_rows = page.locator("tbody tr").count()
    page.set_viewport_size({"width": 1400, "height": 1100})
    page.screenshot(path=tmp_path / "compare.png", full_page=False)  # kept by pytest's tmp dir, to look at

    page.select_option("select[name=filter]", "regressed")
    if page.locator("form.controls button[type=submit]").count():
        page.click("form.controls button[type=submit]")
    page.wait_for_url("**filter=regressed**")
    regressed_rows = page.locator("tbody tr").count()
    assert 0 < regressed_rows < all_rows


def test_a_member_scores_a_trace_by_hand_on_the_trace_page(browser, live_server, project):
    t0 = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)
    trace = TraceFactory(project=project, trace_id="trace-e2e", name="support-chat", input={"q": "refund?"},
                         output="yes", timestamp=t0)
    ObservationFactory(trace=trace, observation_id="root", name="handle", start_time=t0,
                       end_time=t0 + timedelta(seconds=2))
    ScoreConfigFactory(project=project, name="helpfulness", data_type="NUMERIC", min_value=0, max_value=5)
    user = user_with_role(project, Role.MEMBER, staff=False)

    page = signed_in_page(browser, live_server, user)
    page.goto(f"{live_server.url}/projects/{project.pk}/traces/trace-e2e")
    assert "support-chat" in page.inner_text("body") and "handle" in page.inner_text("body")
    page.select_option("form.score select[name=config]", label="helpfulness (numeric)")
    page.fill("form.score input[name=value]", "4")
    page.fill("form.score input[name=comment]", "clear answer")
    page.click("form.score button[type=submit]")
    page.wait_for_load_state()
    score = Score.objects.get(project=project, trace_id="trace-e2e", name="helpfulness")
    assert score.value == 4 and score.source == "ANNOTATION" and score.comment == "clear answer"
    shown = page.locator("span[title='ANNOTATION: clear answer']")
    assert shown.count() == 1 and "helpfulness 4" in shown.inner_text()
