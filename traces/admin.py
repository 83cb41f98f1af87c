"""Admin for traces and observations: read-only lists with filters.

Traces arrive through ingestion and are never edited by hand, so their admin pages only list,
show and delete (deletion goes through the service, which also removes observations, and what the
apps above keep by trace id, such as scores). Apps above add actions ("add to a dataset") through
`trace_admin_actions` / `observation_admin_actions` (traces/hooks.py).
"""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from evalsite.hooks import ExtensionPoint
from evalsite.tenancy.actors import Actor
from evalsite.tenancy.admin_base import ProjectScopedAdmin
from traces import hooks
from traces.filters import trace_tag_q
from traces.models import Observation, Trace
from traces.services import traces_delete


class InputFilter(admin.SimpleListFilter):
    """A sidebar filter with a text box: for fields with too many values to list."""

    template = "traces/admin/input_filter.html"
    lookup_field = ""

    def lookups(self, request, model_admin):
        # Django shows a filter only when it has choices; the text box is the only one.
        return [("", "")]

    def choices(self, changelist):
        query = changelist.get_filters_params()
        query.pop(self.parameter_name, None)
        yield {"query_parts": [(key, value) for key, values in query.items() for value in values], "value": self.value() or ""}

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        return queryset.filter(**{self.lookup_field: value})


class NameFilter(InputFilter):
    title = "name"
    parameter_name = "name"
    lookup_field = "name"


class UserFilter(InputFilter):
    title = "user id"
    parameter_name = "user"
    lookup_field = "user_id"


class SessionFilter(InputFilter):
    title = "session id"
    parameter_name = "session"
    lookup_field = "session_id"


class TraceIdFilter(InputFilter):
    title = "trace id"
    parameter_name = "trace"
    lookup_field = "trace_id"


class ModelFilter(InputFilter):
    title = "model"
    parameter_name = "model_name"
    lookup_field = "model"


class TagFilter(InputFilter):
    title = "tag"
    parameter_name = "tag"

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(trace_tag_q(value)) if value else queryset


class ReadOnlyIngestedAdmin(ProjectScopedAdmin):
    # The extension point whose actions this admin offers. `actions` is read per request (Django
    # reads it on the instance), so actions registered by apps whose ready() runs after the
    # admin's autodiscovery are there too, with Django's own permission filtering.
    action_point: ExtensionPoint

    @property
    def actions(self):
        return list(self.action_point)

    def has_add_permission(self, request, *args) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Trace)
class TraceAdmin(ReadOnlyIngestedAdmin):
    list_display = ["trace_id", "name", "user_id", "session_id", "environment", "tag_list", "timestamp", "page_link"]
    list_filter = [
        NameFilter,
        UserFilter,
        SessionFilter,
        TagFilter,
        "environment",
        ("timestamp", admin.DateFieldListFilter),
    ]
    search_fields = ["trace_id", "name", "user_id", "session_id"]
    date_hierarchy = "timestamp"
    ordering = ["-timestamp"]
    show_full_result_count = False
    action_point = hooks.trace_admin_actions
    readonly_fields = [
        "project",
        "trace_id",
        "name",
        "timestamp",
        "user_id",
        "session_id",
        "environment",
        "release",
        "version",
        "tags",
        "public",
        "bookmarked",
        "input",
        "output",
        "metadata",
        "root_observation_id",
        "created_at",
        "updated_at",
        "page_link",
    ]
    fields = readonly_fields

    @admin.display(description="tags")
    def tag_list(self, trace):
        return ", ".join(trace.tags)

    @admin.display(description="page")
    def page_link(self, trace):
        url = reverse("trace-detail", kwargs={"project_id": trace.project_id, "trace_id": trace.trace_id})
        return format_html('<a href="{}">open trace</a>', url)

    def delete_model(self, request, obj):
        traces_delete(project=obj.project, trace_ids=[obj.trace_id], actor=Actor(user=request.user))

    def delete_queryset(self, request, queryset):
        by_project: dict = {}
        for trace in queryset.select_related("project__organization"):
            by_project.setdefault(trace.project_id, (trace.project, []))[1].append(trace.trace_id)
        for project, trace_ids in by_project.values():
            traces_delete(project=project, trace_ids=trace_ids, actor=Actor(user=request.user))


@admin.register(Observation)
class ObservationAdmin(ReadOnlyIngestedAdmin):
    list_display = ["observation_id", "name", "type", "trace_link", "model", "total_tokens", "total_cost", "level", "start_time"]
    list_filter = [
        NameFilter,
        TraceIdFilter,
        ModelFilter,
        "type",
        "level",
        "environment",
        ("start_time", admin.DateFieldListFilter),
    ]
    search_fields = ["observation_id", "trace_id", "name", "model"]
    date_hierarchy = "start_time"
    ordering = ["-start_time"]
    show_full_result_count = False
    action_point = hooks.observation_admin_actions
    readonly_fields = [
        "project",
        "observation_id",
        "trace_id",
        "parent_observation_id",
        "type",
        "name",
        "start_time",
        "end_time",
        "completion_start_time",
        "level",
        "status_message",
        "model",
        "model_parameters",
        "usage_details",
        "cost_details",
        "input_tokens",
        "output_tokens",
        "total_tokens",
        "total_cost",
        "prompt_name",
        "prompt_version",
        "environment",
        "release",
        "version",
        "input",
        "output",
        "metadata",
        "created_at",
        "updated_at",
    ]
    fields = readonly_fields

    def has_delete_permission(self, request, obj=None) -> bool:
        # An observation is deleted with its trace, never alone.
        return False

    @admin.display(description="trace")
    def trace_link(self, observation):
        url = reverse("trace-detail", kwargs={"project_id": observation.project_id, "trace_id": observation.trace_id})
        return format_html('<a href="{}#obs-{}">{}</a>', url, observation.observation_id, observation.trace_id)
