"""Admin of gate policies (saving adds a version, through the same services as the API), gate
results (read-only), and the "mark as released" actions of the experiment run admin."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.html import format_html, format_html_join

from evalsite.tenancy.actors import Actor
from evalsite.tenancy.admin_base import ProjectScopedAdmin
from evalsite.tenancy.services import project_object_delete
from experiments import comparison as cmp
from experiments.gates import services
from experiments.gates.models import GatePolicy, GateResult

RULES_HELP = (
    'A JSON list, e.g. [{"type": "minMean", "score": "accuracy", "threshold": 0.8}, '
    '{"type": "nonInferiority", "score": "accuracy", "delta": 0.02, "alpha": 0.05, "minPairs": 30}, '
    '{"type": "maxErrorRate", "threshold": 0.05}]. Types: ' + ", ".join(services.RULE_TYPES) + " (see GATES.md)."
)


class GatePolicyForm(forms.ModelForm):
    method = forms.ChoiceField(choices=[(m, m) for m in cmp.METHODS])

    class Meta:
        model = GatePolicy
        fields = ["project", "name", "description", "baseline", "method", "rules"]
        help_texts = {
            "baseline": '{"kind": "run", "run": "<run id or name>"} or {"kind": "latestReleased"}',
            "rules": RULES_HELP,
        }

    def clean(self):
        cleaned = super().clean()
        project = cleaned.get("project") or getattr(self.instance, "project", None)
        if project is None or self.errors:
            return cleaned
        try:
            cleaned.update(
                services.gate_policy_validate(
                    project, baseline=cleaned.get("baseline"), method=cleaned.get("method"), rules=cleaned.get("rules")
                )
            )
        except ValidationError as error:
            for field, problems in error.message_dict.items():
                self.add_error(field if field in self.fields else None, problems)
        return cleaned


@admin.register(GatePolicy)
class GatePolicyAdmin(ProjectScopedAdmin):
    """Saving a policy adds a version (the edited one stays as it was); delete removes one version."""

    form = GatePolicyForm
    list_display = ["name", "version", "method", "rule_count", "created_by", "created_at"]
    search_fields = ["name"]
    ordering = ["name", "-version"]

    def get_readonly_fields(self, request, obj=None):
        return ["project", "name", "version", "created_by", "created_at"] if obj else ["version", "created_by", "created_at"]

    def get_fields(self, request, obj=None):
        return ["project", "name", "version", "description", "baseline", "method", "rules", "created_by", "created_at"]

    @admin.display(description="rules")
    def rule_count(self, policy: GatePolicy) -> int:
        return len(policy.rules or [])

    def save_model(self, request, obj, form, change):
        self.check_project_write(request, obj)
        actor = Actor(user=request.user)
        data = form.cleaned_data
        if change:
            current = GatePolicy.objects.get(pk=obj.pk)
            saved = services.gate_policy_update(
                project=current.project,
                policy=current,
                actor=actor,
                description=data.get("description") or None,
                baseline=data["baseline"],
                method=data["method"],
                rules=data["rules"],
            )
        else:
            saved = services.gate_policy_create(
                project=data["project"],
                name=data["name"],
                description=data.get("description") or None,
                baseline=data["baseline"],
                method=data["method"],
                rules=data["rules"],
                actor=actor,
            )
        # The admin redirects to `obj`: point it at the version just saved.
        obj.pk, obj.version = saved.pk, saved.version

    def delete_model(self, request, obj):
        project_object_delete(
            project=obj.project, obj=obj, actor=Actor(user=request.user), action="gate_policy.delete", name=obj.name,
            version=obj.version,
        )

    def delete_queryset(self, request, queryset):
        for policy in queryset.select_related("project__organization"):
            self.delete_model(request, policy)


@admin.register(GateResult)
class GateResultAdmin(ProjectScopedAdmin):
    """Read-only: results are written by evaluating a gate."""

    list_display = ["run", "policy_name", "policy_version", "outcome", "baseline", "created_by", "created_at"]
    list_filter = ["outcome", "created_at"]
    search_fields = ["policy_name", "run__name", "run__run_id"]
    list_select_related = ["run", "baseline"]
    ordering = ["-created_at"]
    readonly_fields = [
        "project", "run", "baseline", "policy_name", "policy_version", "outcome", "baseline_note", "rules_table",
        "policy_document_text", "created_by", "created_at",
    ]
    fields = readonly_fields

    def has_add_permission(self, request, *args) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="rules")
    def rules_table(self, result: GateResult) -> str:
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (rule.get("type"), rule.get("score") or "", rule.get("outcome"), rule.get("value"), rule.get("bound"),
                 rule.get("n"), rule.get("reason") or "")
                for rule in result.rules or []
            ),
        )
        return format_html(
            "<table><tr><th>{}</th><th>score</th><th>outcome</th><th>value</th><th>bound</th><th>n</th><th>why</th></tr>"
            "{}</table>",
            "rule",
            rows,
        )

    @admin.display(description="policy")
    def policy_document_text(self, result: GateResult) -> str:
        return format_html("<pre>{}</pre>", json.dumps(result.policy_document, indent=1, ensure_ascii=False))


# --- actions of the experiment run admin (experiments/admin.py lists them) ----------------------


def _marked(modeladmin, request, queryset, mark: bool) -> None:
    actor = Actor(user=request.user)
    changed = refused = 0
    for run in queryset.select_related("project__organization"):
        if not modeladmin.has_change_permission(request, run):
            refused += 1
        elif mark:
            services.run_release_mark(project=run.project, run=run, actor=actor)
            changed += 1
        elif services.run_release_unmark(project=run.project, run=run, actor=actor):
            changed += 1
    verb = "Marked" if mark else "Took the released mark off"
    modeladmin.message_user(request, f"{verb} {changed} run(s).", messages.SUCCESS)
    if refused:
        modeladmin.message_user(request, f"{refused} run(s) left alone: that needs the MEMBER role in their project.", messages.ERROR)


@admin.action(description="Mark selected runs as released", permissions=["change"])
def mark_runs_released(modeladmin, request, queryset):
    _marked(modeladmin, request, queryset, mark=True)


@admin.action(description="Remove the released mark of selected runs", permissions=["change"])
def unmark_runs_released(modeladmin, request, queryset):
    _marked(modeladmin, request, queryset, mark=False)
