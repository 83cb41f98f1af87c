"""/api/public/unstable/dashboards* and /unstable/dashboard-widgets*, over HTTP and through the SDK."""

import pytest

from dashboards.models import Dashboard, Widget
from evalsite.tenancy.roles import Role
from tests.support.live import langfuse_client
from tests.tenancy.factories import api_key_for

WIDGET = {
    "name": "p95 latency by model",
    "view": "observations",
    "dimensions": [{"field": "providedModelName"}],
    "metrics": [{"measure": "latency", "agg": "p95"}],
    "filters": [],
    "chartType": "HORIZONTAL_BAR",
    "chartConfig": {"row_limit": 10},
}


@pytest.mark.django_db
def test_widgets_and_dashboards_round_trip_with_placements(api):
    widget = api.post("unstable/dashboard-widgets", WIDGET).json()
    assert widget["chartConfig"] == {"type": "HORIZONTAL_BAR", "row_limit": 10}
    dashboard = api.post(
        "unstable/dashboards",
        {
            "name": "Ops",
            "definition": {
                "widgets": [
                    {
                        "type": "widget",
                        "id": "w1",
                        "widgetId": widget["id"],
                        "x": 0,
                        "y": 0,
                        "width": 6,
                        "height": 4,
                    }
                ]
            },
        },
    ).json()
    assert (
        dashboard["description"] == "" and dashboard["definition"]["widgets"][0]["widgetId"] == widget["id"]
    )

    added = api.post(
        f"unstable/dashboards/{dashboard['id']}/placements", {"type": "preset", "presetId": "latency"}
    ).json()
    assert (added["x"], added["y"], added["width"], added["height"]) == (0, 4, 6, 6)  # appended below, 6×6
    moved = api.patch(
        f"unstable/dashboards/{dashboard['id']}/placements/{added['id']}", {"x": 6, "y": 0}
    ).json()
    assert (moved["x"], moved["y"]) == (6, 0)
    assert api.get(f"unstable/dashboards/{dashboard['id']}").json()["definition"]["widgets"][1] == moved

    assert api.delete(f"unstable/dashboard-widgets/{widget['id']}").status_code == 200
    remaining = api.get(f"unstable/dashboards/{dashboard['id']}").json()["definition"]["widgets"]
    assert [p["id"] for p in remaining] == [added["id"]]  # the widget's placements went with it
    listed = api.get("unstable/dashboards").json()
    assert listed["meta"] == {"page": 1, "limit": 50, "totalItems": 1, "totalPages": 1}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body, path",
    [
        ({**WIDGET, "view": "spans"}, ["view"]),
        ({**WIDGET, "metrics": [{"measure": "cost", "agg": "sum"}]}, ["metrics"]),
        ({**WIDGET, "chartType": "RADAR"}, ["chartType"]),
        ({**WIDGET, "chartType": "NUMBER"}, ["dimensions"]),
        ({**WIDGET, "chartConfig": {"type": "PIE"}}, ["chartConfig"]),
    ],
)
def test_a_bad_widget_is_a_400_public_api_error_naming_the_field(api, body, path):
    response = api.post("unstable/dashboard-widgets", body)
    assert response.status_code == 400
    error = response.json()
    assert error["code"] == "invalid_body" and error["details"]["issues"][0]["path"] == path
    assert path[0] in error["message"]
    assert not Widget.objects.exists()


@pytest.mark.django_db
def test_placements_must_fit_the_grid_and_name_a_widget_of_the_project(api, victim_api):
    foreign = victim_api.post("unstable/dashboard-widgets", WIDGET).json()
    dashboard = api.post("unstable/dashboards", {"name": "Ops"}).json()
    url = f"unstable/dashboards/{dashboard['id']}/placements"
    assert api.post(url, {"type": "widget", "widgetId": foreign["id"]}).status_code == 400
    assert api.post(url, {"type": "preset", "presetId": "latency", "x": 8, "width": 6}).status_code == 400
    assert api.post(url, {"type": "preset", "presetId": "latency", "id": "a"}).status_code == 200
    again = api.post(url, {"type": "preset", "presetId": "latency", "id": "a"})
    assert again.status_code == 409 and again.json()["code"] == "conflict"
    missing = api.get("unstable/dashboards/nope")
    assert missing.status_code == 404 and missing.json()["code"] == "resource_not_found"


@pytest.mark.django_db
def test_a_viewer_key_reads_but_cannot_write(api_by_role):
    viewer = api_by_role[Role.VIEWER]
    assert viewer.get("unstable/dashboards").status_code == 200
    refused = viewer.post("unstable/dashboards", {"name": "x"})
    assert refused.status_code == 403 and refused.json()["code"] == "access_denied"
    assert not Dashboard.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.live
def test_the_sdk_creates_lists_and_gets_dashboards_and_raises_typed_errors(live_server, project):
    from langfuse.api.unstable.errors.errors.bad_request_error import BadRequestError

    with langfuse_client(live_server, api_key_for(project)) as lf:
        widgets = lf.api.unstable.dashboard_widgets
        widget = widgets.create(
            name="errors",
            view="observations",
            dimensions=[{"field": "level"}],
            metrics=[{"measure": "count", "agg": "count"}],
            filters=[],
            chart_type="PIE",
        )
        dashboards = lf.api.unstable.dashboards
        dashboard = dashboards.create(name="Ops", description="on call")
        dashboards.add_placement(dashboard.id, request={"type": "widget", "widgetId": widget.id, "width": 12})
        fetched = dashboards.get(dashboard.id)
        listed = widgets.list()
        with pytest.raises(BadRequestError) as refused:
            widgets.create(
                name="bad",
                view="observations",
                dimensions=[],
                metrics=[{"measure": "nope", "agg": "sum"}],
                filters=[],
                chart_type="NUMBER",
            )
    assert fetched.definition.widgets[0].widget_id == widget.id and fetched.definition.widgets[0].width == 12
    assert [w.id for w in listed.data] == [widget.id] and listed.data[0].chart_type == "PIE"
    assert refused.value.body.code == "invalid_body" and "nope" in refused.value.body.message
