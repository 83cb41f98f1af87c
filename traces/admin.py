"""Admin for traces and observations (read-only lists with filters) and model prices.

Traces arrive through ingestion and are never edited by hand, so their admin pages only list,
show and delete (deletion goes through the service, which also removes observations and scores).
"""

import re

from django import forms
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from datasets.admin_actions import add_to_dataset
from evalsite.llm import prices
from evalsite.llm.models import ModelPrice
from evalsite.tenancy.actors import Actor
from evalsite.tenancy.admin_base import ProjectScopedAdmin
from traces.models import Observation, Trace
from traces.selectors import trace_has_tag_q
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
        return queryset.filter(trace_has_tag_q(value)) if value else queryset


class ReadOnlyIngestedAdmin(ProjectScopedAdmin):
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
    actions = [add_to_dataset]
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
    actions = [add_to_dataset]
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


class ModelPriceForm(forms.ModelForm):
    unit = forms.ChoiceField(choices=[(unit, unit) for unit in prices.USAGE_UNITS], initial="TOKENS")

    class Meta:
        model = ModelPrice
        fields = [
            "project",
            "model_name",
            "match_pattern",
            "start_date",
            "unit",
            "input_price",
            "output_price",
            "total_price",
            "tokenizer_id",
            "tokenizer_config",
        ]

    def clean_match_pattern(self):
        pattern = self.cleaned_data["match_pattern"]
        try:
            re.compile(pattern)
        except re.error as error:
            raise forms.ValidationError(f"Not a valid regular expression: {error}") from None
        return pattern

    def clean(self):
        cleaned = super().clean()
        if not self.errors:
            problems = prices.model_price_problems({key: cleaned.get(key) for key in prices.EDITABLE_FIELDS})
            for field, messages in problems.items():
                self.add_error(prices.WIRE_TO_FIELD.get(field), messages)
        return cleaned


@admin.register(ModelPrice)
class ModelPriceAdmin(ProjectScopedAdmin):
    form = ModelPriceForm
    list_display = ["model_name", "match_pattern", "start_date", "unit", "input_price", "output_price", "total_price", "project"]
    list_select_related = ["project__organization"]
    search_fields = ["model_name", "match_pattern"]
    ordering = ["model_name", "-start_date"]

    def get_readonly_fields(self, request, obj=None):
        # A price never moves between projects: it would reprice another tenant's generations.
        return ["project"] if obj else []

    def save_model(self, request, obj, form, change):
        self.check_project_write(request, obj)
        data = {key: form.cleaned_data.get(key) for key in prices.EDITABLE_FIELDS}
        actor = Actor(user=request.user)
        if change:
            stored = ModelPrice.objects.get(pk=obj.pk)
            saved = prices.model_price_update(project=stored.project, price=stored, actor=actor, **data)
        else:
            saved = prices.model_price_create(project=obj.project, actor=actor, **data)
        obj.pk = saved.pk
        obj.created_at, obj.updated_at = saved.created_at, saved.updated_at

    def delete_model(self, request, obj):
        prices.model_price_delete(project=obj.project, price=obj, actor=Actor(user=request.user))

    def delete_queryset(self, request, queryset):
        for price in queryset.select_related("project__organization"):
            self.delete_model(request, price)
