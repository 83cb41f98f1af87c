from django import forms
from django.contrib import admin, messages

from evalsite.tenancy.actors import Actor
from evalsite.tenancy.admin_base import ProjectScopedAdmin, role_for_project_id
from scoring.models import Score, ScoreConfig
from scoring.services import CONFIG_UPDATABLE, score_config_create, score_config_update
from scoring.validation import score_config_validate


class ScoreConfigForm(forms.ModelForm):
    """Checks a config by the same rules as the API (`score_config_validate`); the admin saves
    through the services, which normalise it (BOOLEAN categories, float bounds)."""

    class Meta:
        model = ScoreConfig
        fields = ["project", "name", "data_type", "min_value", "max_value", "categories", "description", "is_archived"]
        help_texts = {
            "categories": 'CATEGORICAL only: [{"value": 1, "label": "good"}, {"value": 0, "label": "bad"}]. '
            "BOOLEAN configs get True = 1 and False = 0.",
        }

    FIELD_FOR_WIRE = {"name": "name", "dataType": "data_type", "minValue": "min_value", "maxValue": "max_value"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.instance._state.adding:
            # Stored scores were validated for this type: it cannot change. (A user who may only
            # view gets a form without these fields: the admin shows them read-only.)
            for name in ("data_type", "project"):
                if name in self.fields:
                    self.fields[name].disabled = True

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        data_type = cleaned.get("data_type")
        categories = cleaned.get("categories")
        if data_type == "BOOLEAN" and categories == self.instance.categories:
            categories = None  # the fixed True/False pair, which the service regenerates
        _, errors = score_config_validate(
            name=cleaned.get("name"), data_type=data_type, categories=categories,
            min_value=cleaned.get("min_value"), max_value=cleaned.get("max_value"),
        )
        for error in errors:
            field = self.FIELD_FOR_WIRE.get(error.field, "categories" if error.field.startswith("categories") else None)
            self.add_error(field, error if field is None else error.detail)
        return cleaned


@admin.register(ScoreConfig)
class ScoreConfigAdmin(ProjectScopedAdmin):
    form = ScoreConfigForm
    list_display = ["name", "data_type", "min_value", "max_value", "is_archived", "project", "updated_at"]
    list_filter = ["data_type", "is_archived"]
    search_fields = ["name", "description"]
    list_select_related = ["project__organization"]
    actions = ["archive", "unarchive"]

    def get_fields(self, request, obj=None):
        fields = list(ScoreConfigForm.Meta.fields)
        return fields if obj is not None else [f for f in fields if f != "is_archived"]  # new configs are active

    def has_delete_permission(self, request, obj=None) -> bool:
        # Scores keep pointing at their config: archive it instead.
        return False

    def save_model(self, request, obj, form, change):
        """Through the services, so admin edits are validated and audited like API ones."""
        self.check_project_write(request, obj)
        actor = Actor(user=request.user)
        data = form.cleaned_data
        if change:
            changes = {name: data[name] for name in CONFIG_UPDATABLE if name in form.changed_data}
            stored = ScoreConfig.objects.select_related("project__organization").get(pk=obj.pk)
            score_config_update(project=stored.project, config=stored, actor=actor, **changes)
            return
        created = score_config_create(
            project=data["project"], actor=actor, name=data["name"], data_type=data["data_type"],
            categories=data["categories"], min_value=data["min_value"], max_value=data["max_value"],
            description=data["description"],
        )
        # The admin goes on with its own instance (log entry, redirect): give it the new row's identity.
        obj.pk, obj.created_at, obj.updated_at = created.pk, created.created_at, created.updated_at

    def _set_archived(self, request, queryset, archived: bool) -> int:
        changed = 0
        for config in queryset.select_related("project__organization"):
            if config.is_archived == archived:
                continue
            if role_for_project_id(request, config.project_id) < self.change_role and not request.user.is_superuser:
                continue
            score_config_update(project=config.project, config=config, actor=Actor(user=request.user), is_archived=archived)
            changed += 1
        return changed

    @admin.action(description="Archive selected score configs")
    def archive(self, request, queryset):
        changed = self._set_archived(request, queryset, True)
        self.message_user(request, f"Archived {changed} score config(s).", messages.SUCCESS)

    @admin.action(description="Unarchive selected score configs")
    def unarchive(self, request, queryset):
        changed = self._set_archived(request, queryset, False)
        self.message_user(request, f"Unarchived {changed} score config(s).", messages.SUCCESS)


@admin.register(Score)
class ScoreAdmin(ProjectScopedAdmin):
    """Scores are written by ingestion, evaluators and annotation, never edited here."""

    list_display = ["name", "shown_value", "data_type", "source", "trace_id", "environment", "timestamp", "project"]
    list_filter = ["source", "data_type", "name", ("timestamp", admin.DateFieldListFilter)]
    search_fields = ["score_id", "trace_id", "session_id", "dataset_run_id"]
    list_select_related = ["project__organization"]
    date_hierarchy = "timestamp"
    show_full_result_count = False

    @admin.display(description="value")
    def shown_value(self, score: Score):
        return score.string_value if score.string_value is not None else score.value

    def has_add_permission(self, request, *args) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
