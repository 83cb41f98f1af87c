"""Writes of dashboards, widgets and placements. Keyword-only, in a transaction; errors are
ValidationError keyed by argument names, or NotFound/Conflict (evalsite.errors)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from dashboards.metrics.query import read_query
from dashboards.models import TIME_SERIES_CHARTS, ChartType, Dashboard, Widget
from evalsite.errors import Conflict, NotFound
from evalsite.json_values import json_value_problem
from evalsite.tenancy.models import Project, new_id

GRID_COLUMNS = 12
MAX_HEIGHT = 48
DEFAULT_TILE = 6
WIDGET_VIEWS = ("traces", "observations", "scores-numeric", "scores-categorical", "scores-boolean")
# Presets: the built-in dashboard's charts (dashboards/builtin.py), placeable on any dashboard.
PRESETS = ("traces", "observations", "latency", "cost", "errors", "scores")
CONFIG_KEYS = {"type", "row_limit", "show_value_labels", "bins", "defaultSort"}
# A fixed range for checking a widget's query: widgets have no range of their own.
_CHECK_RANGE = {"fromTimestamp": "2000-01-01T00:00:00Z", "toTimestamp": "2000-02-01T00:00:00Z"}


def widget_query(
    *,
    view: str,
    dimensions: list,
    metrics: list,
    filters: list,
    chart_type: str,
    chart_config: dict,
    from_timestamp: str,
    to_timestamp: str,
    extra_filters: list | None = None,
) -> dict[str, Any]:
    """The metrics query a widget draws over a range (the dashboard's filters added)."""
    query: dict[str, Any] = {
        "view": view,
        "dimensions": dimensions,
        "metrics": [
            {
                "measure": m.get("measure"),
                "aggregation": "histogram" if chart_type == ChartType.HISTOGRAM else m.get("agg"),
            }
            for m in metrics
        ],
        "filters": [*filters, *(extra_filters or [])],
        "fromTimestamp": from_timestamp,
        "toTimestamp": to_timestamp,
        "config": {
            key: chart_config[key] for key in ("row_limit", "bins") if chart_config.get(key) is not None
        },
    }
    if chart_type in TIME_SERIES_CHARTS:
        query["timeDimension"] = {"granularity": "auto"}
    sort = chart_config.get("defaultSort")
    if isinstance(sort, dict) and sort.get("column"):
        query["orderBy"] = [{"field": sort["column"], "direction": str(sort.get("order", "DESC")).lower()}]
    return query


def _check_list(value: Any, field: str) -> list:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise ValidationError({field: ["must be an array of objects"]})
    problem = json_value_problem(value)
    if problem:
        raise ValidationError({field: [problem]})
    return value


def _checked_widget(fields: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(fields["name"], str) or not fields["name"].strip() or len(fields["name"]) > 200:
        raise ValidationError({"name": ["must be a non-empty string of at most 200 characters"]})
    if not isinstance(fields["description"], str):
        raise ValidationError({"description": ["must be a string"]})
    if fields["view"] not in WIDGET_VIEWS:
        raise ValidationError({"view": [f"must be one of {', '.join(WIDGET_VIEWS)}"]})
    if fields["chart_type"] not in ChartType.values:
        raise ValidationError({"chart_type": [f"must be one of {', '.join(ChartType.values)}"]})
    for field in ("dimensions", "metrics", "filters"):
        _check_list(fields[field], field)
    for index, metric in enumerate(fields["metrics"]):
        if set(metric) - {"measure", "agg"}:
            raise ValidationError({"metrics": [f"[{index}] takes measure and agg only"]})
    config = fields["chart_config"] or {}
    if not isinstance(config, dict) or set(config) - CONFIG_KEYS:
        raise ValidationError(
            {"chart_config": [f"must be an object with keys among {', '.join(sorted(CONFIG_KEYS))}"]}
        )
    if config.get("type") not in (None, fields["chart_type"]):
        raise ValidationError({"chart_config": ["type must match chartType"]})
    fields["chart_config"] = {**config, "type": fields["chart_type"]}
    if fields["chart_type"] == ChartType.NUMBER and fields["dimensions"]:
        raise ValidationError({"dimensions": ["a NUMBER chart has no dimensions"]})
    try:
        read_query(
            widget_query(
                **{
                    k: fields[k]
                    for k in ("view", "dimensions", "metrics", "filters", "chart_type", "chart_config")
                },
                from_timestamp=_CHECK_RANGE["fromTimestamp"],
                to_timestamp=_CHECK_RANGE["toTimestamp"],
            )
        )
    except ValidationError as error:
        message = error.message_dict["query"][0]
        field = message.split("[")[0].split(".")[0].split(":")[0].split(" ")[0]
        field = {"config": "chart_config", "orderBy": "chart_config"}.get(field, field)
        raise ValidationError({field if field in fields else "metrics": [message]}) from None
    return fields


@transaction.atomic
def widget_create(
    *,
    project: Project,
    name: str,
    view: str,
    metrics: list,
    chart_type: str,
    description: str = "",
    dimensions: list | None = None,
    filters: list | None = None,
    chart_config: dict | None = None,
) -> Widget:
    fields = _checked_widget(
        {
            "name": name,
            "description": description or "",
            "view": view,
            "dimensions": dimensions or [],
            "metrics": metrics,
            "filters": filters or [],
            "chart_type": chart_type,
            "chart_config": chart_config or {},
        }
    )
    return Widget.objects.create(project=project, **fields)


@transaction.atomic
def widget_update(*, widget: Widget, **changes) -> Widget:
    fields = {
        k: getattr(widget, k)
        for k in (
            "name",
            "description",
            "view",
            "dimensions",
            "metrics",
            "filters",
            "chart_type",
            "chart_config",
        )
    }
    fields.update({k: v for k, v in changes.items() if v is not None})
    if "chart_type" in changes and changes["chart_type"] and "chart_config" not in changes:
        fields["chart_config"] = {k: v for k, v in fields["chart_config"].items() if k != "type"}
    for key, value in _checked_widget(fields).items():
        setattr(widget, key, value)
    widget.save()
    return widget


@transaction.atomic
def widget_delete(*, widget: Widget) -> None:
    """Delete the widget and every placement of it on the project's dashboards."""
    for dashboard in Dashboard.objects.select_for_update().filter(project_id=widget.project_id):
        placements = dashboard.definition.get("widgets", [])
        kept = [p for p in placements if p.get("widgetId") != widget.id]
        if len(kept) != len(placements):
            dashboard.definition = {**dashboard.definition, "widgets": kept}
            dashboard.save(update_fields=["definition", "updated_at"])
    widget.delete()


def _int(value: Any, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationError({field: [f"must be an integer from {low} to {high}"]})
    return value


def _checked_placement(project: Project, placement: Any, existing: list[dict], field: str) -> dict:
    if not isinstance(placement, dict):
        raise ValidationError(
            {field: ["must be an object {type, widgetId or presetId, x, y, width, height}"]}
        )
    kind = placement.get("type", "widget")
    if kind not in ("widget", "preset"):
        raise ValidationError({field: ["type must be widget or preset"]})
    checked: dict[str, Any] = {"type": kind}
    placement_id = placement.get("id") or new_id()
    if not isinstance(placement_id, str) or len(placement_id) > 64 or "\x00" in placement_id:
        raise ValidationError({field: ["id must be a string of at most 64 characters"]})
    if any(p["id"] == placement_id for p in existing):
        raise Conflict(f"A placement with id {placement_id} is already on this dashboard")
    checked["id"] = placement_id
    if kind == "widget":
        widget_id = placement.get("widgetId")
        if (
            not isinstance(widget_id, str)
            or not Widget.objects.filter(project=project, id=widget_id).exists()
        ):
            raise ValidationError({field: [f"widgetId {widget_id!r} is not a widget of this project"]})
        checked["widgetId"] = widget_id
    else:
        if placement.get("presetId") not in PRESETS:
            raise ValidationError({field: [f"presetId must be one of {', '.join(PRESETS)}"]})
        checked["presetId"] = placement["presetId"]
    bottom = max((p["y"] + p["height"] for p in existing), default=0)
    width = _int(
        placement.get("width", DEFAULT_TILE) if placement.get("width") is not None else DEFAULT_TILE,
        f"{field}.width",
        1,
        GRID_COLUMNS,
    )
    x = _int(placement.get("x") if placement.get("x") is not None else 0, f"{field}.x", 0, GRID_COLUMNS - 1)
    if x + width > GRID_COLUMNS:
        raise ValidationError({field: [f"x + width must be at most {GRID_COLUMNS}"]})
    checked |= {
        "x": x,
        "y": _int(placement.get("y") if placement.get("y") is not None else bottom, f"{field}.y", 0, 10_000),
        "width": width,
        "height": _int(
            placement.get("height") if placement.get("height") is not None else DEFAULT_TILE,
            f"{field}.height",
            1,
            MAX_HEIGHT,
        ),
    }
    return checked


def _checked_definition(project: Project, definition: Any) -> dict:
    if definition is None:
        return {"widgets": []}
    if not isinstance(definition, dict) or not isinstance(definition.get("widgets", []), list):
        raise ValidationError({"definition": ["must be an object {widgets: [placement, …]}"]})
    placements: list[dict] = []
    for index, placement in enumerate(definition.get("widgets", [])):
        placements.append(_checked_placement(project, placement, placements, f"definition.widgets[{index}]"))
    return {"widgets": placements}


def _checked_dashboard_fields(name: Any, description: Any, filters: Any) -> None:
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise ValidationError({"name": ["must be a non-empty string of at most 200 characters"]})
    if not isinstance(description, str):
        raise ValidationError({"description": ["must be a string"]})
    _check_list(filters, "filters")
    try:
        # Dashboard filters apply to every widget: they must hold on the views they may meet.
        read_query(
            {
                "view": "observations",
                "metrics": [{"measure": "count", "aggregation": "count"}],
                "filters": filters,
                **_CHECK_RANGE,
            }
        )
    except ValidationError as error:
        raise ValidationError({"filters": error.message_dict["query"]}) from None


@transaction.atomic
def dashboard_create(
    *,
    project: Project,
    name: str,
    description: str = "",
    definition: dict | None = None,
    filters: list | None = None,
    created_by=None,
) -> Dashboard:
    _checked_dashboard_fields(name, description or "", filters or [])
    return Dashboard.objects.create(
        project=project,
        name=name,
        description=description or "",
        filters=filters or [],
        definition=_checked_definition(project, definition),
        created_by=created_by,
    )


@transaction.atomic
def dashboard_update(
    *,
    dashboard: Dashboard,
    name: str | None = None,
    description: str | None = None,
    definition: dict | None = None,
    filters: list | None = None,
) -> Dashboard:
    dashboard = Dashboard.objects.select_for_update().get(pk=dashboard.pk)
    new_name = dashboard.name if name is None else name
    new_description = dashboard.description if description is None else description
    new_filters = dashboard.filters if filters is None else filters
    _checked_dashboard_fields(new_name, new_description, new_filters)
    dashboard.name, dashboard.description, dashboard.filters = new_name, new_description, new_filters
    if definition is not None:
        dashboard.definition = _checked_definition(dashboard.project, definition)
    dashboard.save()
    return dashboard


@transaction.atomic
def dashboard_delete(*, dashboard: Dashboard) -> None:
    dashboard.delete()


@transaction.atomic
def placement_add(*, dashboard: Dashboard, placement: dict) -> dict:
    dashboard = Dashboard.objects.select_for_update().get(pk=dashboard.pk)
    placements = list(dashboard.definition.get("widgets", []))
    checked = _checked_placement(dashboard.project, placement, placements, "placement")
    dashboard.definition = {**dashboard.definition, "widgets": [*placements, checked]}
    dashboard.save(update_fields=["definition", "updated_at"])
    return checked


@transaction.atomic
def placement_update(*, dashboard: Dashboard, placement_id: str, **position) -> dict:
    dashboard = Dashboard.objects.select_for_update().get(pk=dashboard.pk)
    placements = list(dashboard.definition.get("widgets", []))
    index = next((i for i, p in enumerate(placements) if p.get("id") == placement_id), None)
    if index is None:
        raise NotFound(f"Placement not found: {placement_id}")
    changes = {k: v for k, v in position.items() if v is not None}
    if not changes:
        raise ValidationError({"x": ["give at least one of x, y, width, height"]})
    moved = {**placements[index], **changes}
    others = placements[:index] + placements[index + 1 :]
    checked = _checked_placement(dashboard.project, moved, others, "placement")
    placements[index] = checked
    dashboard.definition = {**dashboard.definition, "widgets": placements}
    dashboard.save(update_fields=["definition", "updated_at"])
    return checked


@transaction.atomic
def placement_delete(*, dashboard: Dashboard, placement_id: str) -> None:
    dashboard = Dashboard.objects.select_for_update().get(pk=dashboard.pk)
    placements = dashboard.definition.get("widgets", [])
    kept = [p for p in placements if p.get("id") != placement_id]
    if len(kept) == len(placements):
        raise NotFound(f"Placement not found: {placement_id}")
    dashboard.definition = {**dashboard.definition, "widgets": kept}
    dashboard.save(update_fields=["definition", "updated_at"])
