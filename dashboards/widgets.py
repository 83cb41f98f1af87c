"""A widget drawn over a range: its metrics query (services.widget_query) turned into a chart spec
(charts.py) of its chart type."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError

from dashboards.charts import chart, time_range_label, time_series
from dashboards.metrics.catalog import VIEWS
from dashboards.metrics.engine import isoformat
from dashboards.models import ChartType, Widget
from dashboards.selectors import metrics_query
from dashboards.services import widget_query

TIME_SERIES_TYPES = {
    ChartType.LINE_TIME_SERIES: "line",
    ChartType.AREA_TIME_SERIES: "area",
    ChartType.BAR_TIME_SERIES: "bar",
}


def _alias(widget: Widget, metric: dict) -> str:
    aggregation = "histogram" if widget.chart_type == ChartType.HISTOGRAM else metric["agg"]
    return f"{aggregation}_{metric['measure']}"


def widget_chart(
    *,
    widget: Widget,
    chart_id: str,
    from_timestamp: datetime,
    to_timestamp: datetime,
    extra_filters: list | None = None,
) -> dict:
    span = time_range_label(from_timestamp, to_timestamp)
    query = widget_query(
        view=widget.view,
        dimensions=widget.dimensions,
        metrics=widget.metrics,
        filters=widget.filters,
        chart_type=widget.chart_type,
        chart_config=widget.chart_config,
        from_timestamp=isoformat(from_timestamp),
        to_timestamp=isoformat(to_timestamp),
        extra_filters=extra_filters,
    )
    view = VIEWS.get(widget.view)
    units = [
        view.measures[m["measure"]].unit if view and m["measure"] in view.measures else ""
        for m in widget.metrics
    ]
    unit = units[0] if len(set(units)) == 1 else ""
    common = {"unit": unit, "time_range": span, "description": widget.description}
    try:
        rows = metrics_query(project=widget.project, query=query)
    except ValidationError as error:
        # A widget saved before a dashboard filter made it unanswerable: say so on its tile.
        return chart(
            chart_id, widget.name, type="table", columns=["problem"], rows=[[error.messages[0]]], **common
        )
    aliases = [_alias(widget, m) for m in widget.metrics]
    dimensions = [d["field"] for d in widget.dimensions]
    label = lambda value: "(none)" if value is None else str(value)  # noqa: E731

    if widget.chart_type in TIME_SERIES_TYPES:
        if dimensions:
            x, series = time_series(rows, aliases[0], split_by=dimensions[0], label=label)
        else:
            x = [row["time_dimension"] for row in rows]
            series = [{"name": alias, "y": [row[alias] for row in rows]} for alias in aliases]
        return chart(
            chart_id, widget.name, type=TIME_SERIES_TYPES[widget.chart_type], x=x, series=series, **common
        )
    if widget.chart_type in (ChartType.HORIZONTAL_BAR, ChartType.VERTICAL_BAR, ChartType.PIE):
        x = [" · ".join(label(row[d]) for d in dimensions) or "all" for row in rows]
        series = [{"name": alias, "y": [row[alias] for row in rows]} for alias in aliases]
        kind = {ChartType.HORIZONTAL_BAR: "hbar", ChartType.VERTICAL_BAR: "vbar", ChartType.PIE: "pie"}[
            widget.chart_type
        ]
        return chart(
            chart_id, widget.name, type=kind, x=x, series=series[:1] if kind == "pie" else series, **common
        )
    if widget.chart_type == ChartType.NUMBER:
        value = rows[0][aliases[0]] if rows else None
        return chart(chart_id, widget.name, type="number", value=value, **common)
    if widget.chart_type == ChartType.HISTOGRAM:
        bins = rows[0][aliases[0]] if rows else []
        # The bars count rows; the measure's unit is the x axis's.
        common["unit"] = f"rows per bin of {unit}" if unit else "rows per bin"
        return chart(
            chart_id,
            widget.name,
            type="histogram",
            x=[(lo + hi) / 2 for lo, hi, _ in bins],
            widths=[(hi - lo) or 1 for lo, hi, _ in bins],
            labels=[f"{lo:.4g} – {hi:.4g}" for lo, hi, _ in bins],
            series=[{"name": "rows", "y": [n for *_, n in bins]}],
            **common,
        )
    return chart(
        chart_id,
        widget.name,
        type="table",
        columns=[*dimensions, *aliases],
        rows=[[label(row[d]) for d in dimensions] + [row[a] for a in aliases] for row in rows],
        **common,
    )
