"""Admin: evaluators (versions, diff of the last two, pause/resume), rules, the job ledger (filters,
retry), budgets and spend. Writes go through the services, so they are validated and audited like
API ones; definitions are edited through the API (a new version), not in place."""

from __future__ import annotations

import difflib
import json

from django.contrib import admin, messages
from django.utils.html import format_html

from evalsite.tenancy.actors import Actor
from evalsite.tenancy.admin_base import ProjectScopedAdmin, ProjectScopedInline
from evaluators import jobs, selectors, services
from evaluators.budgets import budget_state
from evaluators.models import (
    EvaluationJob,
    EvaluationRule,
    Evaluator,
    EvaluatorVersion,
    ProjectEvaluationBudget,
)


class EvaluatorVersionInline(ProjectScopedInline):
    model = EvaluatorVersion
    fields = ["version", "model", "provider", "output_definition", "check_spec", "created_at", "created_by"]
    readonly_fields = fields
    can_delete = False
    ordering = ["-version"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # versions come from editing the definition


def _definition_text(version: EvaluatorVersion) -> list[str]:
    data = {
        "prompt": version.prompt, "variableMapping": version.variable_mapping, "model": version.model,
        "provider": version.provider, "modelParameters": version.model_parameters,
        "outputDefinition": version.output_definition, "check": version.check_spec,
    }
    return json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True).splitlines()


@admin.register(Evaluator)
class EvaluatorAdmin(ProjectScopedAdmin):
    list_display = ["name", "kind", "status", "paused_reason", "project", "created_at"]
    list_filter = ["kind", "status"]
    search_fields = ["name", "description"]
    list_select_related = ["project__organization"]
    fields = ["project", "name", "description", "kind", "status", "paused_reason", "paused_message", "last_change"]
    readonly_fields = ["project", "kind", "status", "paused_reason", "paused_message", "last_change"]
    inlines = [EvaluatorVersionInline]
    actions = ["pause", "resume"]

    def scoped_queryset(self, request, queryset):
        return queryset.filter(deleted_at__isnull=True)

    def has_add_permission(self, request, *args) -> bool:
        return False  # created through the API or from a template (evaluators/library.py)

    @admin.display(description="Last change (diff of the two latest versions)")
    def last_change(self, obj: Evaluator):
        latest = list(obj.versions.order_by("-version")[:2])
        if len(latest) < 2:
            return "Only one version."
        diff = difflib.unified_diff(
            _definition_text(latest[1]), _definition_text(latest[0]),
            f"v{latest[1].version}", f"v{latest[0].version}", lineterm="",
        )
        return format_html("<pre>{}</pre>", "\n".join(diff))

    def save_model(self, request, obj, form, change):
        self.check_project_write(request, obj)
        stored = Evaluator.objects.select_related("project__organization").get(pk=obj.pk)
        changes = {name: form.cleaned_data[name] for name in ("name", "description") if name in form.changed_data}
        if changes:
            services.evaluator_update(project=stored.project, evaluator=stored, actor=Actor(user=request.user), **changes)

    def delete_model(self, request, obj):
        self.check_project_write(request, obj)
        stored = Evaluator.objects.select_related("project__organization").get(pk=obj.pk)
        services.evaluator_delete(project=stored.project, evaluator=stored, actor=Actor(user=request.user))

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)

    @admin.action(description="Pause selected evaluators")
    def pause(self, request, queryset):
        for evaluator in queryset.select_related("project__organization"):
            self.check_project_write(request, evaluator)
            services.evaluator_pause(project=evaluator.project, evaluator=evaluator, message="Paused in the admin.",
                                     actor=Actor(user=request.user))
        self.message_user(request, f"Paused {queryset.count()} evaluator(s).", messages.SUCCESS)

    @admin.action(description="Resume selected evaluators")
    def resume(self, request, queryset):
        for evaluator in queryset.select_related("project__organization"):
            self.check_project_write(request, evaluator)
            services.evaluator_resume(project=evaluator.project, evaluator=evaluator, actor=Actor(user=request.user))
        self.message_user(request, f"Resumed {queryset.count()} evaluator(s).", messages.SUCCESS)


@admin.register(EvaluationRule)
class EvaluationRuleAdmin(ProjectScopedAdmin):
    list_display = ["name", "enabled", "target", "sampling", "delay_seconds", "monthly_budget", "spend", "project"]
    list_filter = ["enabled", "target"]
    search_fields = ["name"]
    list_select_related = ["project__organization"]
    fields = ["project", "name", "enabled", "target", "sampling", "delay_seconds", "monthly_budget", "filter", "spend"]
    readonly_fields = ["project", "target", "filter", "spend"]

    def has_add_permission(self, request, *args) -> bool:
        return False  # created through the API, which validates filters and assignments

    @admin.display(description="Spend this month")
    def spend(self, obj: EvaluationRule):
        state = budget_state(project=obj.project, rule=obj)
        paused = " — paused: budget spent" if state["exhausted"] else ""
        return f"{state['spent']:.4f}{paused}"

    def save_model(self, request, obj, form, change):
        self.check_project_write(request, obj)
        stored = EvaluationRule.objects.select_related("project__organization").get(pk=obj.pk)
        names = ("name", "enabled", "sampling", "delay_seconds", "monthly_budget")
        changes = {name: form.cleaned_data[name] for name in names if name in form.changed_data}
        if changes:
            services.evaluation_rule_update(project=stored.project, rule=stored, actor=Actor(user=request.user), **changes)

    def delete_model(self, request, obj):
        self.check_project_write(request, obj)
        stored = EvaluationRule.objects.select_related("project__organization").get(pk=obj.pk)
        services.evaluation_rule_delete(project=stored.project, rule=stored, actor=Actor(user=request.user))

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


@admin.register(EvaluationJob)
class EvaluationJobAdmin(ProjectScopedAdmin):
    list_display = ["pk", "evaluator", "version_number", "target_kind", "target_id", "status", "skip_reason",
                    "rule", "cost", "latency_ms", "created_at"]
    list_filter = ["status", "skip_reason", "target_kind", "rule", "evaluator"]
    search_fields = ["target_id", "trace_id", "score_id"]
    list_select_related = ["project__organization", "evaluator", "evaluator_version", "rule"]
    readonly_fields = [f.name for f in EvaluationJob._meta.fields]
    actions = ["retry"]

    def has_add_permission(self, request, *args) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # the ledger is written by the workers; retry is an action

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="version")
    def version_number(self, obj: EvaluationJob):
        return obj.evaluator_version.version

    @admin.action(description="Retry selected failed jobs")
    def retry(self, request, queryset):
        count = 0
        by_project: dict = {}
        for job in queryset.filter(status="failed").select_related("project__organization"):
            self.check_project_write(request, job)
            by_project.setdefault(job.project_id, (job.project, []))[1].append(job.pk)
        for project, pks in by_project.values():
            count += jobs.jobs_retry(project=project, job_pks=pks, actor=Actor(user=request.user))
        self.message_user(request, f"Queued {count} failed job(s) again.", messages.SUCCESS)


@admin.register(ProjectEvaluationBudget)
class ProjectEvaluationBudgetAdmin(ProjectScopedAdmin):
    list_display = ["project", "monthly_budget", "spend"]
    fields = ["project", "monthly_budget", "spend", "spend_by"]
    readonly_fields = ["spend", "spend_by"]

    @admin.display(description="Spend this month")
    def spend(self, obj: ProjectEvaluationBudget):
        if obj.pk is None:
            return "-"
        state = budget_state(project=obj.project)
        return f"{state['spent']:.4f}" + (" — judges paused: budget spent" if state["exhausted"] else "")

    @admin.display(description="Spend by evaluator, version and rule")
    def spend_by(self, obj: ProjectEvaluationBudget):
        if obj.pk is None:
            return "-"
        spend = selectors.spend_by(project=obj.project)
        lines = [f"evaluator {r['evaluator__name']}: {r['cost']:.4f}" for r in spend["evaluator"]]
        lines += [f"{r['evaluator__name']} v{r['evaluator_version__version']}: {r['cost']:.4f}" for r in spend["version"]]
        lines += [f"rule {r['rule__name']}: {r['cost']:.4f}" for r in spend["rule"]]
        return format_html("<pre>{}</pre>", "\n".join(lines) or "Nothing spent this month.")
