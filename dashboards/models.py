"""Custom dashboards: widgets (a saved metrics query and how to draw it) placed on a grid.

As in Langfuse, a dashboard's placements live in its `definition` ({"widgets": [placement, …]}), each
`{type: "widget", id, widgetId, x, y, width, height}` (or `{type: "preset", presetId, …}` for a
built-in chart) on a 12-column grid; widgets are their own rows so one widget can sit on several
dashboards.
"""

from django.conf import settings
from django.db import models

from evalsite.tenancy.models import Project, new_id


class ChartType(models.TextChoices):
    LINE_TIME_SERIES = "LINE_TIME_SERIES"
    AREA_TIME_SERIES = "AREA_TIME_SERIES"
    BAR_TIME_SERIES = "BAR_TIME_SERIES"
    HORIZONTAL_BAR = "HORIZONTAL_BAR"
    VERTICAL_BAR = "VERTICAL_BAR"
    PIE = "PIE"
    NUMBER = "NUMBER"
    HISTOGRAM = "HISTOGRAM"
    PIVOT_TABLE = "PIVOT_TABLE"


TIME_SERIES_CHARTS = (ChartType.LINE_TIME_SERIES, ChartType.AREA_TIME_SERIES, ChartType.BAR_TIME_SERIES)


class Dashboard(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    id = models.CharField(primary_key=True, max_length=64, default=new_id, editable=False)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    definition = models.JSONField(default=dict, blank=True)
    filters = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at", "id"]
        indexes = [models.Index(fields=["project", "updated_at"], name="dashboard_project_updated")]

    def __str__(self) -> str:
        return self.name


class Widget(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    id = models.CharField(primary_key=True, max_length=64, default=new_id, editable=False)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    view = models.CharField(max_length=32)
    dimensions = models.JSONField(default=list, blank=True)
    metrics = models.JSONField(default=list)
    filters = models.JSONField(default=list, blank=True)
    chart_type = models.CharField(max_length=20, choices=ChartType.choices)
    chart_config = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at", "id"]
        indexes = [models.Index(fields=["project", "updated_at"], name="widget_project_updated")]

    def __str__(self) -> str:
        return self.name
