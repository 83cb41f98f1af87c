"""A custom dashboard in headless Chromium: a member builds it in the page, every chart type draws,
and a NUMBER tile shows what the metrics API answers."""

import json

import pytest

from dashboards import services
from dashboards.models import ChartType
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
WIDGETS = {
    ChartType.LINE_TIME_SERIES: ("observations", "latency", "p95", "providedModelName"),
    ChartType.AREA_TIME_SERIES: ("observations", "count", "count", None),
    ChartType.BAR_TIME_SERIES: ("scores-numeric", "value", "avg", "name"),
    ChartType.HORIZONTAL_BAR: ("observations", "totalCost", "sum", "providedModelName"),
    ChartType.VERTICAL_BAR: ("scores-categorical", "count", "count", "stringValue"),
    ChartType.PIE: ("observations", "count", "count", "level"),
    ChartType.NUMBER: ("traces", "count", "count", None),
    ChartType.HISTOGRAM: ("observations", "latency", "histogram", None),
    ChartType.PIVOT_TABLE: ("observations", "totalTokens", "sum", "type"),
}


def test_a_member_builds_a_dashboard_with_every_chart_type(browser, live_server, project, tmp_path):  # noqa: F811
    populate(project, traces=20)
    member = user_with_role(project, Role.MEMBER, staff=False)
    dashboard = services.dashboard_create(project=project, name="Everything")
    for chart_type, (view, measure, agg, dimension) in WIDGETS.items():
        if chart_type == ChartType.NUMBER:
            continue  # added through the page below
        widget = services.widget_create(
            project=project,
            name=chart_type.label,
            view=view,
            metrics=[{"measure": measure, "agg": agg}],
            dimensions=[{"field": dimension}] if dimension else [],
            chart_type=chart_type,
        )
        services.placement_add(
            dashboard=dashboard, placement={"type": "widget", "widgetId": widget.id, "height": 5}
        )
    services.placement_add(
        dashboard=dashboard, placement={"type": "preset", "presetId": "latency", "id": "preset-latency"}
    )

    page = signed_in_page(browser, live_server, member)
    page.set_viewport_size({"width": 1500, "height": 1400})
    url = f"{live_server.url}/projects/{project.pk}/dashboards/{dashboard.id}?from={DAYS['from']}&to={DAYS['to']}"
    page.goto(url)
    form = page.locator("form#add-widget")
    form.locator("input[name=name]").fill("Traces in range")
    form.locator("select[name=view]").select_option("traces")
    form.locator("select[name=measure]").select_option("count")
    form.locator("select[name=agg]").select_option("count")
    form.locator("select[name=chart_type]").select_option("NUMBER")
    form.locator("button[type=submit]").click()
    page.wait_for_selector("figure.chart[data-type=number][data-state=drawn]", timeout=20_000)
    page.wait_for_function(
        "[...document.querySelectorAll('figure.chart')].every(f => f.dataset.state !== 'pending')",
        timeout=20_000,
    )
    page.screenshot(path=tmp_path / "dashboard.png", full_page=True)

    states = page.eval_on_selector_all(
        "figure.chart", "els => els.map(e => [e.dataset.type, e.dataset.state])"
    )
    assert sorted(t for t, _ in states) == sorted(
        ["line", "area", "bar", "hbar", "vbar", "pie", "number", "histogram", "table", "line"]
    )
    assert all(state == "drawn" for _, state in states), states

    window = date_range(DAYS)
    answer = (
        ApiClient(api_key_for(project))
        .get(
            "metrics",
            query=json.dumps(
                {
                    "view": "traces",
                    "metrics": [{"measure": "count", "aggregation": "count"}],
                    "fromTimestamp": window["from"].isoformat(),
                    "toTimestamp": window["to"].isoformat(),
                }
            ),
        )
        .json()["data"]
    )
    assert page.inner_text("figure.chart[data-type=number] p.number") == f"{answer[0]['count_count']} traces"

    # Move the preset to the top right, then remove it.
    tile = page.locator("form.tile-tools", has=page.locator("input[value=preset-latency]"))
    tile.locator("input[name=x]").fill("6")
    tile.locator("input[name=y]").fill("0")
    tile.locator("button[value=move]").click()
    page.wait_for_load_state()
    dashboard.refresh_from_db()
    moved = next(p for p in dashboard.definition["widgets"] if p["id"] == "preset-latency")
    assert (moved["x"], moved["y"]) == (6, 0)


@pytest.mark.django_db
def test_a_viewer_sees_a_dashboard_but_cannot_change_it(client, project):
    dashboard = services.dashboard_create(project=project, name="Read only")
    client.force_login(user_with_role(project, Role.VIEWER, staff=False))
    url = f"/projects/{project.pk}/dashboards/{dashboard.id}"
    page = client.get(url)
    assert page.status_code == 200 and "Add a widget" not in page.content.decode()
    assert client.post(url, {"action": "add-preset", "preset": "latency"}).status_code == 403
    assert client.post(f"/projects/{project.pk}/dashboards", {"name": "x"}).status_code == 403
