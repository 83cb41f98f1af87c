"""Reads of the dashboards app. Every one takes the project; the metrics engine bounds each
statement by it (dashboards/METRICS.md)."""

from __future__ import annotations

from typing import Any

from dashboards.metrics.engine import run_query
from dashboards.metrics.query import read_query
from dashboards.models import Dashboard, Widget
from evalsite.tenancy.models import Project


def metrics_query(*, project: Project, query: dict[str, Any], version: int = 1) -> list[dict[str, Any]]:
    """Rows of a Langfuse metrics query over the project's data; ValidationError("query") when the
    query is not one the engine answers."""
    return run_query(project=project, query=read_query(query, version=version))


def dashboard_list(*, project: Project):
    return Dashboard.objects.filter(project=project).order_by("-updated_at", "id")


def dashboard_get(*, project: Project, dashboard_id: str):
    return Dashboard.objects.filter(project=project, id=dashboard_id).first()


def widget_list(*, project: Project):
    return Widget.objects.filter(project=project).order_by("-updated_at", "id")


def widgets_by_id(*, project: Project, widget_ids) -> dict:
    return {widget.id: widget for widget in Widget.objects.filter(project=project, id__in=list(widget_ids))}
