"""The project's dashboard in headless Chromium: its charts draw, its numbers are the metrics API's,
and a range without data shows empty states rather than errors."""

import json

import pytest

from dashboards.builtin import builtin_queries
from dashboards.pages import date_range
from evalsite.tenancy.roles import Role
from tests.dashboards.data import populate
from tests.e2e.test_pages_in_chromium import CHROMIUM, browser, signed_in_page  # noqa: F401 (fixture)
from tests.support.api import ApiClient
from tests.tenancy.factories import api_key_for, user_with_role

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.live,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)"),
]
DAYS = {"from": "2025-03-03", "to": "2025-03-12"}


def test_the_home_dashboard_draws_the_metrics_apis_numbers(browser, live_server, project, tmp_path):  # noqa: F811
    made = populate(project, traces=25)
    user = user_with_role(project, Role.VIEWER, staff=False)
    page = signed_in_page(browser, live_server, user)
    page.set_viewport_size({"width": 1400, "height": 1200})
    page.goto(f"{live_server.url}/projects/{project.pk}/?from={DAYS['from']}&to={DAYS['to']}&env=production")
    page.wait_for_selector("figure#chart-latency[data-state=drawn] .main-svg", timeout=20_000)
    page.screenshot(path=tmp_path / "home.png", full_page=True)

    window = date_range(DAYS)
    queries = builtin_queries(
        from_timestamp=window["from"], to_timestamp=window["to"], environments=["production"]
    )
    api = ApiClient(api_key_for(project))

    def answer(name):
        response = api.get("metrics", query=json.dumps(queries[name]))
        assert response.status_code == 200
        return response.json()["data"]

    observations = answer("observations_over_time")
    expected = sum(row["count_count"] for row in observations)
    assert expected == sum(1 for o in made["observations"] if o.environment == "production")
    assert page.inner_text("[data-number=observations] b") == str(expected)
    assert page.inner_text("[data-number=traces] b") == str(
        sum(row["count_count"] for row in answer("traces_over_time"))
    )
    # What plotly holds is what the API answered, bucket by bucket.
    drawn = page.evaluate("document.querySelector('#chart-latency .plot').data.map(t => [t.name, t.y])")
    latency = answer("latency_percentiles")
    assert drawn == [[p, [row[f"{p}_latency"] for row in latency]] for p in ("p50", "p90", "p95", "p99")]
    bars = page.evaluate("document.querySelector('#chart-cost .plot').data[0].x")
    assert bars == [row["sum_totalCost"] for row in answer("cost_by_model")]
    for figure in ("traces", "observations", "latency", "cost", "errors", "scores"):
        assert page.get_attribute(f"#chart-{figure}", "data-state") == "drawn", figure
    # No judge ran and no queue exists here: both panels say so (their numbers: tests/dashboards).
    for figure in ("evaluator_spend", "queue_progress"):
        assert page.get_attribute(f"#chart-{figure}", "data-state") == "empty", figure


def test_a_range_without_data_shows_empty_charts_with_their_titles(browser, live_server, project):  # noqa: F811
    user = user_with_role(project, Role.VIEWER, staff=False)
    page = signed_in_page(browser, live_server, user)
    page.goto(f"{live_server.url}/projects/{project.pk}/?range=24h")
    page.wait_for_selector("figure#chart-scores[data-state=empty]", timeout=20_000)
    for figure in ("traces", "observations", "latency", "cost", "errors", "scores"):
        assert page.get_attribute(f"#chart-{figure}", "data-state") == "empty", figure
    text = page.inner_text("main")
    assert "No data in this range." in text and "Observation latency percentiles" in text and "UTC" in text
