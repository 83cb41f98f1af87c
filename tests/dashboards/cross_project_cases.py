"""Routes and pages of the dashboards app for the cross-project tests (tests/support/cross_project.py)."""

from dashboards import services
from dashboards.models import Dashboard, Widget
from tests.scoring.factories import ScoreFactory
from tests.support.cross_project import CrossProjectCase, PageCase

WIDGET = {
    "name": "victim widget",
    "view": "observations",
    "metrics": [{"measure": "count", "agg": "count"}],
    "chart_type": "NUMBER",
}


def make_widget(project) -> dict:
    return {"widget_id": services.widget_create(project=project, **WIDGET).id}


def widget_unchanged(project, kwargs) -> bool:
    return Widget.objects.filter(project=project, id=kwargs["widget_id"], name="victim widget").exists()


def make_dashboard(project) -> dict:
    widget = services.widget_create(project=project, **WIDGET)
    dashboard = services.dashboard_create(
        project=project,
        name="victim dashboard",
        definition={"widgets": [{"type": "widget", "id": "placed", "widgetId": widget.id}]},
    )
    return {"dashboard_id": dashboard.id, "placement_id": "placed"}


def dashboard_unchanged(project, kwargs) -> bool:
    dashboard = Dashboard.objects.filter(
        project=project, id=kwargs["dashboard_id"], name="victim dashboard"
    ).first()
    return dashboard is not None and [p["id"] for p in dashboard.definition["widgets"]] == ["placed"]


CASES = [
    CrossProjectCase(
        pattern="api/public/unstable/dashboard-widgets/<str:widget_id>",
        make=make_widget,
        body={"name": "renamed"},
        still_there=widget_unchanged,
    ),
    CrossProjectCase(
        pattern="api/public/unstable/dashboards/<str:dashboard_id>",
        make=make_dashboard,
        body={"name": "renamed"},
        still_there=dashboard_unchanged,
    ),
    CrossProjectCase(
        pattern="api/public/unstable/dashboards/<str:dashboard_id>/placements",
        make=make_dashboard,
        body={"type": "preset", "presetId": "traces"},
        still_there=dashboard_unchanged,
    ),
    CrossProjectCase(
        pattern="api/public/unstable/dashboards/<str:dashboard_id>/placements/<str:placement_id>",
        make=make_dashboard,
        body={"x": 3},
        still_there=dashboard_unchanged,
    ),
]


def _scored(project) -> dict:
    ScoreFactory(project=project, name="victim-score")
    return {}


PAGE_CASES = [
    PageCase(pattern="projects/<str:project_id>/dashboards", make=lambda project: {}),
    PageCase(
        pattern="projects/<str:project_id>/dashboards/<str:dashboard_id>",
        make=lambda project: {"dashboard_id": make_dashboard(project)["dashboard_id"]},
    ),
    PageCase(
        pattern="projects/<str:project_id>/analytics/scores",
        make=_scored,
        query={"s": '{"name": "victim-score"}'},
    ),
]
