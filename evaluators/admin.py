"""Admin: evaluators (create, edit the definition as a new version, the versions and a diff between
any two, "try it" on a trace, observation or run item, pause/resume, spend), rules (create and edit
with filters, sampling, delay and evaluators, a preview of the variable mapping on recent matching
objects, backfill with the estimate first, spend), the job ledger (filters, retry), budgets and spend,
and the "Evaluate with evaluators" action of the experiment run admin (registered through
experiments/hooks.py in apps.py).

Writes go through the services, so they are validated and audited like API ones; a refusal becomes
an error on the form field it names. Reading pages (versions, preview) need the VIEWER role in the
object's project; pages that write or spend (new, edit, try it, backfill, evaluate a run) MEMBER.
Objects are looked up through the scoped queryset: another project's object is a 404.
"""

from __future__ import annotations

import difflib
import json

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from evalsite.llm.connections import llm_connection_list
from evalsite.tenancy.actors import Actor
from evalsite.tenancy.admin_base import (
    ProjectScopedAdmin,
    ProjectScopedInline,
    project_ids_at_least,
    role_for_project_id,
)
from evalsite.tenancy.models import Project
from evalsite.tenancy.roles import Role
from evaluators import jobs, selectors, services
from evaluators.admin_forms import (
    BackfillForm,
    EvaluatorForm,
    RuleForm,
    TryForm,
    add_service_errors,
)
from evaluators.backfill import rule_backfill, rule_backfill_estimate
from evaluators.budgets import budget_state
from evaluators.filters import filters_clean
from evaluators.models import (
    EvaluationJob,
    EvaluationRule,
    Evaluator,
    EvaluatorVersion,
    ProjectEvaluationBudget,
)
from evaluators.preview import rule_preview
from evaluators.trial import evaluator_try
from scoring.selectors import score_config_list

PAGE_TEMPLATE = "evaluators/admin/page.html"


def _require_role(request, project_id: str, role: Role) -> None:
    if not request.user.is_superuser and role_for_project_id(request, project_id) < role:
        raise PermissionDenied(f"This page needs the {role.name} role in the project.")


def _writable_projects(request):
    projects = Project.objects.select_related("organization")
    if request.user.is_superuser:
        return projects
    return projects.filter(id__in=project_ids_at_least(request, Role.MEMBER))


def _spend_lines(spend: dict, *, evaluators: bool = True, versions: bool = True, rules: bool = True) -> str:
    lines = []
    if evaluators:
        lines += [f"evaluator {r['evaluator__name']}: {r['cost']:.4f}" for r in spend["evaluator"]]
    if versions:
        lines += [f"{r['evaluator__name']} v{r['evaluator_version__version']}: {r['cost']:.4f}" for r in spend["version"]]
    if rules:
        lines += [f"rule {r['rule__name']}: {r['cost']:.4f}" for r in spend["rule"]]
    return format_html("<pre>{}</pre>", "\n".join(lines) or "Nothing spent this month.")


class ProjectPickMixin:
    """The add pages: a user who may write in several projects picks one first (`?project=`), so
    the form offers only that project's connections, score configs and evaluators."""

    def picked_project(self, request) -> Project | None:
        projects = _writable_projects(request)
        wanted = request.POST.get("project") or request.GET.get("project")
        if wanted:
            # A NUL names no project, and PostgreSQL would refuse it as a parameter (the query
            # string's are refused by evalsite/middleware.py; a POST body's are not).
            return None if "\x00" in wanted else projects.filter(pk=wanted).first()
        only = list(projects[:2])
        return only[0] if len(only) == 1 else None

    def project_picker(self, request, what: str):
        context = {
            **self.admin_site.each_context(request), "opts": self.model._meta, "title": f"New {what}: pick a project",
            "projects": _writable_projects(request),
        }
        return TemplateResponse(request, "evaluators/admin/project_pick.html", context)

    def render_page(self, request, *, title: str, original=None, **context):
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "title": title,
                   "original": original, **context}
        return TemplateResponse(request, context.pop("template", PAGE_TEMPLATE), context)

    def scoped_object(self, request, object_id, role: Role):
        """The object through the scoped queryset (another project's is a 404), with `role` required."""
        obj = self.get_object(request, object_id)
        if obj is None:
            raise Http404("Not found")
        _require_role(request, obj.project_id, role)
        return obj


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


def _version_diff(older: EvaluatorVersion, newer: EvaluatorVersion) -> str:
    diff = difflib.unified_diff(
        _definition_text(older), _definition_text(newer), f"v{older.version}", f"v{newer.version}", lineterm="",
    )
    return "\n".join(diff) or "The two definitions are the same."


@admin.register(Evaluator)
class EvaluatorAdmin(ProjectPickMixin, ProjectScopedAdmin):
    list_display = ["name", "kind", "status", "paused_reason", "project", "created_at"]
    list_filter = ["kind", "status"]
    search_fields = ["name", "description"]
    list_select_related = ["project__organization"]
    fields = ["project", "name", "description", "kind", "status", "paused_reason", "paused_message", "pages",
              "last_change", "spend"]
    readonly_fields = ["project", "kind", "status", "paused_reason", "paused_message", "pages", "last_change", "spend"]
    inlines = [EvaluatorVersionInline]
    actions = ["pause", "resume"]

    def scoped_queryset(self, request, queryset):
        return queryset.filter(deleted_at__isnull=True)

    @admin.display(description="Pages")
    def pages(self, obj: Evaluator):
        links = [
            ("admin:evaluators_evaluator_definition", "Edit the definition (a new version)"),
            ("admin:evaluators_evaluator_versions", "Versions and diff"),
            ("admin:evaluators_evaluator_try", "Try it on a trace or run item"),
        ]
        return format_html_join(" · ", '<a href="{}">{}</a>', ((reverse(name, args=[obj.pk]), label) for name, label in links))

    @admin.display(description="Last change (diff of the two latest versions)")
    def last_change(self, obj: Evaluator):
        latest = list(obj.versions.order_by("-version")[:2])
        if len(latest) < 2:
            return "Only one version."
        return format_html("<pre>{}</pre>", _version_diff(latest[1], latest[0]))

    @admin.display(description="Spend this month, by version and rule")
    def spend(self, obj: Evaluator):
        return _spend_lines(selectors.spend_by(project=obj.project, evaluator_id=obj.pk))

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

    # --- pages -------------------------------------------------------------------------------------

    def get_urls(self):
        own = [
            path("<path:object_id>/definition/", self.admin_site.admin_view(self.definition_view),
                 name="evaluators_evaluator_definition"),
            path("<path:object_id>/versions/", self.admin_site.admin_view(self.versions_view),
                 name="evaluators_evaluator_versions"),
            path("<path:object_id>/try/", self.admin_site.admin_view(self.try_view), name="evaluators_evaluator_try"),
        ]
        return own + super().get_urls()

    def _form(self, request, project: Project, *, kind: str | None = None, initial: dict | None = None) -> EvaluatorForm:
        connections = list(llm_connection_list(project=project).values_list("provider", flat=True))
        configs = [(c.pk, f"{c.name} ({c.data_type})") for c in score_config_list(project=project)]
        data = request.POST if request.method == "POST" else None
        return EvaluatorForm(data, connections=connections, score_configs=configs, kind=kind, initial=initial)

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        project = self.picked_project(request)
        if project is None:
            return self.project_picker(request, "evaluator")
        form = self._form(request, project)
        if request.method == "POST" and form.is_valid():
            try:
                evaluator = services.evaluator_create(
                    project=project, name=form.cleaned_data["name"], kind=form.cleaned_data["kind"],
                    description=form.cleaned_data["description"] or None, actor=Actor(user=request.user),
                    **form.definition(),
                )
            except ValidationError as error:
                add_service_errors(form, error, EvaluatorForm.SERVICE_FIELDS)
            else:
                self.message_user(request, f"Evaluator “{evaluator.name}” created at version 1.", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:evaluators_evaluator_change", args=[evaluator.pk]))
        return self.render_page(
            request, title=f"New evaluator in {project.name}", form=form, project=project, submit="Create",
            intro="An LLM judge (chat messages with {{variables}}, a model through one of the project's LLM "
                  "connections, an output definition) or a deterministic check. Judges use the fields up to "
                  "“Score config”, checks the “Check” field.",
        )

    def definition_view(self, request, object_id):
        evaluator = self.scoped_object(request, object_id, Role.MEMBER)
        project = evaluator.project
        version = evaluator.versions.order_by("-version").first()
        form = self._form(request, project, kind=evaluator.kind, initial=EvaluatorForm.initial_for(evaluator, version))
        if request.method == "POST" and form.is_valid():
            changes = {name: form.cleaned_data[name] for name in ("name", "description") if name in form.changed_data}
            if "description" in changes:
                changes["description"] = changes["description"] or None
            if form.definition_changed():
                changes.update(kind=evaluator.kind, **form.definition())
            if not changes:
                self.message_user(request, "Nothing changed.", messages.INFO)
                return HttpResponseRedirect(reverse("admin:evaluators_evaluator_change", args=[evaluator.pk]))
            try:
                services.evaluator_update(project=project, evaluator=evaluator, actor=Actor(user=request.user), **changes)
            except ValidationError as error:
                add_service_errors(form, error, EvaluatorForm.SERVICE_FIELDS)
            else:
                latest = evaluator.versions.order_by("-version").first()
                note = f" Version {latest.version} added." if latest.pk != version.pk else ""
                self.message_user(request, f"Evaluator “{evaluator.name}” saved.{note}", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:evaluators_evaluator_versions", args=[evaluator.pk]))
        return self.render_page(
            request, title=f"Edit {evaluator.name} (version {version.version})", original=evaluator, form=form,
            submit="Save", intro="Saving a changed definition adds a version; versions are never changed, so "
                                 "past jobs and scores keep saying what judged them. A new name or description adds none.",
        )

    def versions_view(self, request, object_id):
        evaluator = self.scoped_object(request, object_id, Role.VIEWER)
        versions = list(selectors.evaluator_version_list(project=evaluator.project, evaluator=evaluator))
        by_number = {v.version: v for v in versions}
        diff, error = None, None
        if len(versions) >= 2:
            try:
                older = int(request.GET.get("a") or versions[1].version)
                newer = int(request.GET.get("b") or versions[0].version)
            except ValueError:
                older = newer = None
            if older not in by_number or newer not in by_number:
                error = "Pick two versions of this evaluator."
            else:
                diff = _version_diff(by_number[older], by_number[newer])
        else:
            older = newer = None
        return self.render_page(
            request, title=f"Versions of {evaluator.name}", original=evaluator,
            template="evaluators/admin/evaluator_versions.html", versions=versions, diff=diff, diff_error=error,
            older=older, newer=newer,
            rows=[(v, "\n".join(_definition_text(v))) for v in versions],
        )

    def try_view(self, request, object_id):
        evaluator = self.scoped_object(request, object_id, Role.MEMBER)
        project = evaluator.project
        versions = list(evaluator.versions.select_related("connection").order_by("-version"))
        form = TryForm(request.POST if request.method == "POST" else None,
                       versions=[v.version for v in versions], initial={"version": versions[0].version})
        trial = None
        if request.method == "POST" and form.is_valid():
            version = next(v for v in versions if v.version == form.cleaned_data["version"])
            try:
                trial = evaluator_try(
                    project=project, evaluator=evaluator, version=version,
                    target_kind=form.cleaned_data["target_kind"], target_id=form.cleaned_data["target_id"],
                    variable_mapping=self._try_mapping(form, version),
                )
            except ValidationError as error:
                add_service_errors(form, error, {})
        return self.render_page(
            request, title=f"Try {evaluator.name}", original=evaluator, form=form, submit="Try it",
            template="evaluators/admin/evaluator_try.html", trial=trial,
            answer_json=_pretty(trial.raw_answer) if trial else None,
            intro="Runs the evaluator on one object exactly as a job would (a judge calls its model through the "
                  "project's LLM connection, and the call costs what a job's does), and shows what it was sent, "
                  "what it answered and the score it would give. Nothing is written: no job, no score.",
        )

    @staticmethod
    def _try_mapping(form: TryForm, version: EvaluatorVersion):
        from evaluators.definitions import variable_mapping_clean

        mapping = form.cleaned_data["variable_mapping"]
        if mapping is None:
            return None
        try:
            return variable_mapping_clean(mapping, variables=version.variables)
        except ValidationError as error:
            raise ValidationError({"variable_mapping": error.messages}) from None


def _pretty(text: str | None) -> str | None:
    """The raw answer as indented JSON when it is JSON (easier to read), else None."""
    if not text:
        return None
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return None


@admin.register(EvaluationRule)
class EvaluationRuleAdmin(ProjectPickMixin, ProjectScopedAdmin):
    list_display = ["name", "enabled", "target", "sampling", "delay_seconds", "monthly_budget", "spend", "project"]
    list_filter = ["enabled", "target"]
    search_fields = ["name"]
    list_select_related = ["project__organization"]
    fields = ["project", "name", "enabled", "target", "sampling", "delay_seconds", "monthly_budget", "filter",
              "assigned", "pages", "spend", "spend_by"]
    readonly_fields = ["project", "target", "filter", "assigned", "pages", "spend", "spend_by"]

    @admin.display(description="Spend this month")
    def spend(self, obj: EvaluationRule):
        state = budget_state(project=obj.project, rule=obj)
        paused = " — paused: budget spent" if state["exhausted"] else ""
        return f"{state['spent']:.4f}{paused}"

    @admin.display(description="Spend by evaluator and version")
    def spend_by(self, obj: EvaluationRule):
        return _spend_lines(selectors.spend_by(project=obj.project, rule_id=obj.pk), rules=False)

    @admin.display(description="Evaluators")
    def assigned(self, obj: EvaluationRule):
        assignments = obj.assignments.select_related("evaluator")
        return format_html_join(
            ", ", '<a href="{}">{}</a>{}',
            ((reverse("admin:evaluators_evaluator_change", args=[a.evaluator_id]), a.evaluator.name,
              " (own mapping)" if a.variable_mapping is not None else "") for a in assignments),
        ) or "None"

    @admin.display(description="Pages")
    def pages(self, obj: EvaluationRule):
        links = [
            ("admin:evaluators_evaluationrule_edit", "Edit filters and evaluators"),
            ("admin:evaluators_evaluationrule_preview", "Preview the variables on recent objects"),
            ("admin:evaluators_evaluationrule_backfill", "Backfill a time range"),
        ]
        return format_html_join(" · ", '<a href="{}">{}</a>', ((reverse(name, args=[obj.pk]), label) for name, label in links))

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

    # --- pages -------------------------------------------------------------------------------------

    def get_urls(self):
        own = [
            path("<path:object_id>/edit/", self.admin_site.admin_view(self.edit_view), name="evaluators_evaluationrule_edit"),
            path("<path:object_id>/preview/", self.admin_site.admin_view(self.preview_view),
                 name="evaluators_evaluationrule_preview"),
            path("<path:object_id>/backfill/", self.admin_site.admin_view(self.backfill_view),
                 name="evaluators_evaluationrule_backfill"),
        ]
        return own + super().get_urls()

    def _form(self, request, project: Project, initial: dict | None = None) -> RuleForm:
        data = request.POST if request.method == "POST" else None
        return RuleForm(data, evaluators=list(selectors.evaluator_list(project=project)), initial=initial)

    def _form_page(self, request, *, project: Project, form: RuleForm, rule: EvaluationRule | None, title: str):
        """The create and edit pages: "Preview" shows the form's (unsaved) rule on recent objects,
        "Save" saves it through the service."""
        preview = None
        if request.method == "POST" and form.is_valid():
            if "_preview" in request.POST:
                preview = self._form_preview(project, form, rule)
            else:
                saved = self._save(request, project, form, rule)
                if saved is not None:
                    return HttpResponseRedirect(reverse("admin:evaluators_evaluationrule_change", args=[saved.pk]))
        return self.render_page(
            request, title=title, original=rule, form=form, project=project, submit="Save", preview_button=True,
            preview=preview, template="evaluators/admin/rule_form.html",
        )

    def _form_preview(self, project: Project, form: RuleForm, rule: EvaluationRule | None):
        changes = form.changes()
        try:
            assignments = services.assignments_clean(project=project, assignments=changes["evaluator_assignments"])
            try:
                cleaned_filter = filters_clean(changes["filter"], target=changes["target"])
            except ValidationError as error:
                raise ValidationError({"filter": error.messages}) from None
        except ValidationError as error:
            add_service_errors(form, error, RuleForm.SERVICE_FIELDS)
            return None
        # Unsaved: the form's values on the rule's id (sampling is decided by it; a new rule's id
        # is drawn now, so its sampling preview is only indicative).
        probe = EvaluationRule(
            pk=rule.pk if rule else None, project=project, target=changes["target"], filter=cleaned_filter,
            sampling=changes["sampling"],
        )
        if rule is None:
            probe.pk = EvaluationRule._meta.pk.get_default()
        return rule_preview(project=project, rule=probe, assignments=assignments)

    def _save(self, request, project: Project, form: RuleForm, rule: EvaluationRule | None) -> EvaluationRule | None:
        changes = form.changes()
        actor = Actor(user=request.user)
        try:
            if rule is None:
                saved = services.evaluation_rule_create(project=project, actor=actor, **changes)
            else:
                changed = self._changed(form, changes)
                if not changed:
                    self.message_user(request, "Nothing changed.", messages.INFO)
                    return rule
                saved = services.evaluation_rule_update(project=project, rule=rule, actor=actor, **changed)
        except ValidationError as error:
            add_service_errors(form, error, RuleForm.SERVICE_FIELDS)
            return None
        self.message_user(request, f"Rule “{saved.name}” saved.", messages.SUCCESS)
        return saved

    @staticmethod
    def _changed(form: RuleForm, changes: dict) -> dict:
        names = [name for name in changes if name in form.changed_data]
        if "evaluators" in form.changed_data or "variable_mappings" in form.changed_data:
            names.append("evaluator_assignments")
        return {name: changes[name] for name in names}

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        project = self.picked_project(request)
        if project is None:
            return self.project_picker(request, "evaluation rule")
        return self._form_page(request, project=project, form=self._form(request, project), rule=None,
                               title=f"New evaluation rule in {project.name}")

    def edit_view(self, request, object_id):
        rule = self.scoped_object(request, object_id, Role.MEMBER)
        form = self._form(request, rule.project, initial=RuleForm.initial_for(rule))
        return self._form_page(request, project=rule.project, form=form, rule=rule, title=f"Edit {rule.name}")

    def preview_view(self, request, object_id):
        rule = self.scoped_object(request, object_id, Role.VIEWER)
        assignments = [
            {"evaluator": a.evaluator, "variable_mapping": a.variable_mapping}
            for a in rule.assignments.select_related("evaluator").filter(evaluator__deleted_at__isnull=True)
        ]
        return self.render_page(
            request, title=f"Preview of {rule.name}", original=rule, template="evaluators/admin/rule_preview.html",
            preview=rule_preview(project=rule.project, rule=rule, assignments=assignments),
        )

    def backfill_view(self, request, object_id):
        rule = self.scoped_object(request, object_id, Role.MEMBER)
        form = BackfillForm(request.POST if request.method == "POST" else None)
        estimate = None
        if request.method == "POST" and form.is_valid():
            window = {"project": rule.project, "rule": rule, "start": form.cleaned_data["start"], "end": form.cleaned_data["end"]}
            try:
                if "_confirm" in request.POST:
                    return self._backfilled(request, rule, rule_backfill(**window))
                estimate = rule_backfill_estimate(**window)
            except ValidationError as error:
                add_service_errors(form, error, {})
        return self.render_page(
            request, title=f"Backfill {rule.name}", original=rule, form=form, estimate=estimate,
            template="evaluators/admin/rule_backfill.html",
        )

    def _backfilled(self, request, rule: EvaluationRule, result: dict):
        self.message_user(
            request, f"Backfill: {result['sampled']} object(s) sampled, {result['jobsCreated']} job(s) created, "
                     f"{result['alreadyEvaluated']} already evaluated.", messages.SUCCESS,
        )
        ledger = reverse("admin:evaluators_evaluationjob_changelist") + f"?rule__id__exact={rule.pk}"
        return HttpResponseRedirect(ledger)


@admin.register(EvaluationJob)
class EvaluationJobAdmin(ProjectScopedAdmin):
    list_display = ["pk", "evaluator", "version_number", "target_kind", "target_id", "status", "skip_reason",
                    "rule", "cost", "latency_ms", "created_at"]
    # Related-only: a plain related filter would list every project's rules and evaluators.
    list_filter = ["status", "skip_reason", "target_kind", ("rule", admin.RelatedOnlyFieldListFilter),
                   ("evaluator", admin.RelatedOnlyFieldListFilter)]
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
        return _spend_lines(selectors.spend_by(project=obj.project))

