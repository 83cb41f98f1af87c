"""Custom dashboard pages: the list (and creating one), and a dashboard's grid with its widgets over
a date range; members add widgets and built-in charts, move, resize and remove them."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse

from dashboards import services
from dashboards.builtin import project_dashboard
from dashboards.metrics.catalog import AGGREGATIONS, VIEWS
from dashboards.models import ChartType
from dashboards.pages import date_range
from dashboards.selectors import dashboard_get, dashboard_list, widgets_by_id
from dashboards.widgets import widget_chart
from evalsite.pages import ProjectPageView
from evalsite.tenancy.roles import Role


def _messages(error: ValidationError) -> list[str]:
    if hasattr(error, "error_dict"):
        return [
            f"{field}: {message}" for field, messages in error.message_dict.items() for message in messages
        ]
    return error.messages


class DashboardListPage(ProjectPageView):
    template_name = "dashboards/dashboard_list.html"

    def get(self, request, project_id, errors=None):
        return render(
            request,
            self.template_name,
            self.page_context(
                dashboards=list(dashboard_list(project=self.project)[:200]),
                errors=errors or [],
                can_edit=self.role >= Role.MEMBER,
            ),
            status=400 if errors else 200,
        )

    def post(self, request, project_id):
        try:
            dashboard = services.dashboard_create(
                project=self.project,
                name=request.POST.get("name", ""),
                description=request.POST.get("description", ""),
                created_by=request.user,
            )
        except ValidationError as error:
            return self.get(request, project_id, errors=_messages(error))
        return redirect(
            reverse("dashboard-detail", kwargs={"project_id": self.project.pk, "dashboard_id": dashboard.id})
        )


class DashboardPage(ProjectPageView):
    template_name = "dashboards/dashboard.html"

    def _dashboard(self, dashboard_id):
        dashboard = dashboard_get(project=self.project, dashboard_id=dashboard_id)
        if dashboard is None:
            raise Http404("Dashboard not found")
        return dashboard

    def get(self, request, project_id, dashboard_id, errors=None):
        dashboard = self._dashboard(dashboard_id)
        window = date_range(request.GET)
        placements = dashboard.definition.get("widgets", [])
        widgets = widgets_by_id(
            project=self.project, widget_ids=[p["widgetId"] for p in placements if p.get("widgetId")]
        )
        presets = {}
        if any(p["type"] == "preset" for p in placements):
            builtin = project_dashboard(
                project=self.project,
                from_timestamp=window["from"],
                to_timestamp=window["to"],
                environments=[],
            )
            presets = {c["id"]: c for c in builtin["charts"]}
        tiles, charts = [], []
        for placement in placements:
            if placement["type"] == "preset":
                spec = dict(presets[placement["presetId"]], id=placement["id"])
            else:
                widget = widgets.get(placement["widgetId"])
                if widget is None:
                    continue
                spec = widget_chart(
                    widget=widget,
                    chart_id=placement["id"],
                    from_timestamp=window["from"],
                    to_timestamp=window["to"],
                    extra_filters=dashboard.filters,
                )
            spec["height"] = max(160, placement["height"] * 50 - 70)
            charts.append(spec)
            tiles.append({"placement": placement, "chart": spec})
        return render(
            request,
            self.template_name,
            self.page_context(
                dashboard=dashboard,
                tiles=tiles,
                charts=charts,
                window=window,
                errors=errors or [],
                can_edit=self.role >= Role.MEMBER,
                views=list(VIEWS),
                aggregations=[a for a in AGGREGATIONS],
                chart_types=ChartType.values,
                presets=services.PRESETS,
                measures=sorted({m for view in VIEWS.values() for m in view.measures}),
                dimensions=sorted({d for view in VIEWS.values() for d in view.dimensions}),
            ),
            status=400 if errors else 200,
        )

    def post(self, request, project_id, dashboard_id):
        dashboard = self._dashboard(dashboard_id)
        action, form = request.POST.get("action"), request.POST
        try:
            if action == "add-widget":
                dimension = form.get("dimension", "")
                widget = services.widget_create(
                    project=self.project,
                    name=form.get("name", ""),
                    view=form.get("view", ""),
                    metrics=[{"measure": form.get("measure", ""), "agg": form.get("agg", "")}],
                    dimensions=[{"field": dimension}] if dimension else [],
                    chart_type=form.get("chart_type", ""),
                )
                services.placement_add(
                    dashboard=dashboard, placement={"type": "widget", "widgetId": widget.id}
                )
            elif action == "add-preset":
                services.placement_add(
                    dashboard=dashboard, placement={"type": "preset", "presetId": form.get("preset")}
                )
            elif action == "move":
                services.placement_update(
                    dashboard=dashboard,
                    placement_id=form.get("placement", ""),
                    **{
                        key: int(form[key])
                        for key in ("x", "y", "width", "height")
                        if form.get(key, "").lstrip("-").isdigit()
                    },
                )
            elif action == "remove":
                services.placement_delete(dashboard=dashboard, placement_id=form.get("placement", ""))
            else:
                raise ValidationError({"action": ["unknown action"]})
        except ValidationError as error:
            return self.get(request, project_id, dashboard_id, errors=_messages(error))
        return redirect(request.get_full_path())
