"""Admin for annotation queues: the queue (instructions, score configs, N annotators, lock time,
access, corrections dataset, assigned members, progress per assignee), its items and its rules.

Every write goes through annotations.services, so the admin checks and audits exactly as the API
does; a service's refusal becomes a form error, never a server error. Annotating and adjudicating
are pages for every member (annotations/pages.py), not admin views.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from annotations import services
from annotations.models import AnnotationQueue, ItemStatus, QueueItem, QueueRule
from annotations.rules import BACKFILL_TASK
from annotations.selectors import assignee_progress, queue_assignee_ids, queue_progress
from datasets.models import Dataset
from evalsite.errors import NotFound
from evalsite.jobs import enqueue_after_commit
from evalsite.tenancy.actors import Actor
from evalsite.tenancy.admin_base import ProjectScopedAdmin, project_ids_at_least, role_for_project_id
from evalsite.tenancy.roles import Role
from evalsite.tenancy.selectors import project_member_list
from scoring.models import ScoreConfig


def _service_errors(form: forms.Form, error: ValidationError) -> None:
    """A service's errors on the form field of the same name (services name their arguments)."""
    aliases = {"corrections_dataset_id": "corrections_dataset", "score_config_ids": "score_configs", "user_id": "assignees"}
    for key, texts in error.message_dict.items():
        field = aliases.get(key, key)
        form.add_error(field if field in form.fields else None, [f"{key}: {text}" for text in texts])


def _allowed_project_ids(request, minimum: Role):
    return None if request.user.is_superuser else project_ids_at_least(request, minimum)


class AnnotationQueueForm(forms.ModelForm):
    """The queue's fields, checked by the service on save. Configs are chosen among the projects
    the user may change (the service refuses configs of another project than the queue's);
    assignees (ADMINs only, as on the API) among the members of the queue's project."""

    score_configs = forms.ModelMultipleChoiceField(queryset=ScoreConfig.objects.none(), required=True)
    assignees = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple,
        help_text="Project members assigned to the queue (needs the ADMIN role). With access “assigned users "
        "only”, only they may annotate.",
    )

    class Meta:
        model = AnnotationQueue
        fields = [
            "project", "name", "description", "instructions", "annotators_per_item", "lock_seconds", "access",
            "corrections_dataset",
        ]
        help_texts = {
            "instructions": "Markdown; rendered sanitised in the annotator's workspace.",
            "annotators_per_item": "N: an item is complete when N distinct annotators submitted it.",
            "lock_seconds": "How long a claimed item stays locked for its annotator without activity.",
        }

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request
        allowed = _allowed_project_ids(request, Role.MEMBER)
        configs = ScoreConfig.objects.filter(is_archived=False).select_related("project").order_by("project__name", "name")
        datasets = Dataset.objects.select_related("project").order_by("project__name", "name")
        if allowed is not None:
            configs, datasets = configs.filter(project_id__in=allowed), datasets.filter(project_id__in=allowed)
        adding = self.instance._state.adding
        if not adding:
            configs = configs.filter(project_id=self.instance.project_id)
            datasets = datasets.filter(project_id=self.instance.project_id)
            if "project" in self.fields:
                self.fields["project"].disabled = True
        self.fields["score_configs"].queryset = configs
        self.fields["score_configs"].label_from_instance = lambda c: f"{c.name} ({c.data_type}, {c.project.name})"
        if "corrections_dataset" in self.fields:
            self.fields["corrections_dataset"].queryset = datasets
        if not adding:
            self.initial["score_configs"] = list(self.instance.score_config_ids)
        if adding:
            del self.fields["assignees"]
        else:
            members = project_member_list(project=self.instance.project)
            assigned = queue_assignee_ids(project=self.instance.project, queue=self.instance)
            # Annotators and above, and whoever is assigned already (the API assigns any member).
            self.fields["assignees"].choices = [
                (str(user.pk), f"{user.email or user.get_username()} ({role.name})")
                for user, role in members if role >= Role.ANNOTATOR or user.pk in assigned
            ]
            self.initial["assignees"] = [str(pk) for pk in assigned]
            if not (request.user.is_superuser or role_for_project_id(request, self.instance.project_id) >= Role.ADMIN):
                self.fields["assignees"].disabled = True

    def service_arguments(self) -> dict:
        data = self.cleaned_data
        return {
            "name": data["name"], "description": data.get("description") or None,
            "instructions": data.get("instructions") or "",
            "score_config_ids": [config.pk for config in data["score_configs"]],
            "annotators_per_item": data["annotators_per_item"], "lock_seconds": data["lock_seconds"],
            "access": data["access"],
            "corrections_dataset_id": data["corrections_dataset"].pk if data.get("corrections_dataset") else None,
        }

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        project = cleaned.get("project") if self.instance._state.adding else self.instance.project
        if project is None:
            return cleaned
        # Dry run of the service's checks, so a refusal is a form error (the save repeats them).
        try:
            with transaction.atomic():
                arguments = self.service_arguments()
                if self.instance._state.adding:
                    services.queue_create(project=project, **arguments)
                else:
                    stored = AnnotationQueue.objects.get(pk=self.instance.pk)
                    services.queue_update(project=project, queue=stored, **arguments)
                transaction.set_rollback(True)
        except ValidationError as error:
            _service_errors(self, error)
        return cleaned


class RequestFormAdmin(ProjectScopedAdmin):
    """An admin whose form takes the request (to offer only the user's projects' queues)."""

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)

        class RequestForm(form):
            def __init__(self, *args, **inner):
                super().__init__(*args, request=request, **inner)

        return RequestForm


@admin.register(AnnotationQueue)
class AnnotationQueueAdmin(RequestFormAdmin):
    form = AnnotationQueueForm
    list_display = ["name", "project", "annotators_per_item", "access", "items_done", "updated_at"]
    list_filter = ["access"]
    search_fields = ["name", "description"]
    list_select_related = ["project__organization"]


    def get_fieldsets(self, request, obj=None):
        # Who may only look gets the configs and assignees as text (the form fields are for editing).
        editing = self.has_change_permission(request, obj)
        main = ["project", "name", "description", "instructions", "score_configs" if editing else "configs_shown",
                "annotators_per_item", "lock_seconds", "access", "corrections_dataset"]
        if obj is None:
            return [(None, {"fields": main})]
        return [
            (None, {"fields": main}),
            ("Who works on it", {"fields": ["assignees" if editing else "assignees_shown"]}),
            ("Progress", {"fields": ["progress_table", "links"]}),
        ]

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        return readonly + ["progress_table", "links", "configs_shown", "assignees_shown"] if obj is not None else readonly

    @admin.display(description="score configs")
    def configs_shown(self, queue: AnnotationQueue):
        names = dict(ScoreConfig.objects.filter(project=queue.project, id__in=queue.score_config_ids).values_list("id", "name"))
        return ", ".join(names.get(config_id, config_id) for config_id in queue.score_config_ids)

    @admin.display(description="assigned members")
    def assignees_shown(self, queue: AnnotationQueue):
        assigned = set(queue_assignee_ids(project=queue.project, queue=queue))
        members = project_member_list(project=queue.project)
        return ", ".join(user.email or user.get_username() for user, _ in members if user.pk in assigned) or "nobody"

    def scoped_queryset(self, request, queryset):
        # The list's "items done" column, counted in the list's one query.
        return queryset.annotate(
            item_total=Count("items"), item_completed=Count("items", filter=Q(items__status=ItemStatus.COMPLETED))
        )

    @admin.display(description="items done")
    def items_done(self, queue: AnnotationQueue):
        return f"{queue.item_completed} / {queue.item_total}"

    @admin.display(description="progress per assignee")
    def progress_table(self, queue: AnnotationQueue):
        project = queue.project
        overall = queue_progress(project=project, queue=queue)
        names = {user.pk: user.email or user.get_username() for user, _ in project_member_list(project=project)}
        rows = format_html_join(
            "", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (names.get(row.user_id, f"user {row.user_id}"), row.done, row.skipped, row.in_progress, row.remaining)
                for row in assignee_progress(project=project, queue=queue)
            ),
        )
        return format_html(
            "<p>{} items: {} completed, {} pending ({} in progress).</p>"
            "<table><thead><tr><th>annotator</th><th>done</th><th>skipped</th><th>in progress</th><th>remaining</th>"
            "</tr></thead><tbody>{}</tbody></table>",
            overall.total, overall.completed, overall.pending, overall.in_progress, rows,
        )

    @admin.display(description="see also")
    def links(self, queue: AnnotationQueue):
        return format_html(
            '<a href="{}">Items</a> · <a href="{}">Rules</a> · <a href="{}">Workspace</a> · <a href="{}">Adjudication</a>',
            reverse("admin:annotations_queueitem_changelist") + f"?queue__id__exact={queue.pk}",
            reverse("admin:annotations_queuerule_changelist") + f"?queue__id__exact={queue.pk}",
            reverse("annotation-workspace", kwargs={"project_id": queue.project_id, "queue_id": queue.pk}),
            reverse("annotation-adjudication", kwargs={"project_id": queue.project_id, "queue_id": queue.pk}),
        )

    def save_model(self, request, obj, form, change):
        self.check_project_write(request, obj)
        actor = Actor(user=request.user)
        arguments = form.service_arguments()
        if change:
            stored = AnnotationQueue.objects.select_related("project__organization").get(pk=obj.pk)
            services.queue_update(project=stored.project, queue=stored, actor=actor, **arguments)
            if "assignees" in form.changed_data and not form.fields["assignees"].disabled:
                self._save_assignees(stored, form.cleaned_data["assignees"], actor)
            return
        created = services.queue_create(project=form.cleaned_data["project"], actor=actor, **arguments)
        obj.pk, obj.created_at, obj.updated_at = created.pk, created.created_at, created.updated_at

    def _save_assignees(self, queue: AnnotationQueue, wanted: list[str], actor: Actor) -> None:
        current = {str(pk) for pk in queue_assignee_ids(project=queue.project, queue=queue)}
        for user_id in sorted(set(wanted) - current):
            services.queue_assignment_create(project=queue.project, queue=queue, user_id=user_id, actor=actor)
        for user_id in sorted(current - set(wanted)):
            try:
                services.queue_assignment_delete(project=queue.project, queue=queue, user_id=user_id, actor=actor)
            except NotFound:
                continue  # no longer a member: nothing to unassign through the service

    def delete_model(self, request, obj):
        self.check_project_write(request, obj)
        services.queue_delete(project=obj.project, queue=obj, actor=Actor(user=request.user))

    def delete_queryset(self, request, queryset):
        for queue in queryset.select_related("project__organization"):
            self.delete_model(request, queue)


@admin.register(QueueItem)
class QueueItemAdmin(ProjectScopedAdmin):
    """Items are added by the admin actions on traces, observations and run items, the API and
    rules; here they are looked at, completed or reopened, and removed."""

    list_display = ["object_type", "object_id", "queue", "status", "submissions", "locked_by", "locked_until", "created_at"]
    # Only the queues of the rows the user may see (a plain "queue" filter would list every project's).
    list_filter = ["status", "object_type", ("queue", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["object_id", "trace_id"]
    list_select_related = ["queue", "locked_by", "project__organization"]
    fields = ["queue", "object_type", "object_id", "trace_id", "run_item", "status", "submissions", "completed_at",
              "locked_by", "locked_until", "created_at"]
    readonly_fields = ["queue", "object_type", "object_id", "trace_id", "run_item", "submissions", "completed_at",
                       "locked_by", "locked_until", "created_at"]
    actions = ["mark_completed", "reopen"]
    show_full_result_count = False

    def has_add_permission(self, request, *args) -> bool:
        return False

    def save_model(self, request, obj, form, change):
        self.check_project_write(request, obj)
        if "status" in form.changed_data:
            services.queue_item_set_status(project=obj.project, item=obj, status=form.cleaned_data["status"])

    def delete_model(self, request, obj):
        self.check_project_write(request, obj)
        services.queue_item_delete(project=obj.project, item=obj)

    def delete_queryset(self, request, queryset):
        for item in queryset.select_related("project"):
            self.delete_model(request, item)

    def _set_status(self, request, queryset, status: str) -> int:
        changed = 0
        for item in queryset.select_related("project"):
            if request.user.is_superuser or role_for_project_id(request, item.project_id) >= self.change_role:
                services.queue_item_set_status(project=item.project, item=item, status=status)
                changed += 1
        return changed

    @admin.action(description="Mark as completed")
    def mark_completed(self, request, queryset):
        self.message_user(request, f"Completed {self._set_status(request, queryset, ItemStatus.COMPLETED)} item(s).")

    @admin.action(description="Reopen (pending)")
    def reopen(self, request, queryset):
        self.message_user(request, f"Reopened {self._set_status(request, queryset, ItemStatus.PENDING)} item(s).")


class QueueRuleForm(forms.ModelForm):
    class Meta:
        model = QueueRule
        fields = ["queue", "name", "enabled", "score_name", "score_source", "operator", "threshold",
                  "sample_rate", "filter"]
        help_texts = {
            "score_name": "The scores to watch, e.g. the name of an evaluator's score.",
            "score_source": "EVAL, API or ANNOTATION; empty: any source.",
            "threshold": "A trace is queued when one of these scores (numeric or boolean) compares so to it.",
            "sample_rate": "Share of matching traces queued, in (0, 1]; the draw is stable per rule and trace.",
            "filter": 'Trace filters as evaluator rules take them, e.g. [{"type": "stringOptions", "column": '
            '"environment", "operator": "any of", "value": ["production"]}].',
        }

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, **kwargs)
        allowed = _allowed_project_ids(request, Role.MEMBER)
        queues = AnnotationQueue.objects.select_related("project").order_by("project__name", "name")
        if allowed is not None:
            queues = queues.filter(project_id__in=allowed)
        if not self.instance._state.adding:
            queues = queues.filter(project_id=self.instance.project_id)
            if "queue" in self.fields:
                self.fields["queue"].disabled = True
        if "queue" in self.fields:
            self.fields["queue"].queryset = queues
        if "score_source" in self.fields:
            self.fields["score_source"].widget = forms.Select(
                choices=[("", "any source"), ("EVAL", "EVAL"), ("API", "API"), ("ANNOTATION", "ANNOTATION")]
            )

    def service_arguments(self) -> dict:
        data = self.cleaned_data
        return {
            name: (data.get(name) or None) if name == "score_source" else data.get(name)
            for name in services.RULE_UPDATABLE
        } | {"filter": self.cleaned_data.get("filter") or []}

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            services.queue_rule_fields_clean(**self.service_arguments())
        except ValidationError as error:
            _service_errors(self, error)
        return cleaned


@admin.register(QueueRule)
class QueueRuleAdmin(RequestFormAdmin):
    form = QueueRuleForm
    list_display = ["name", "queue", "enabled", "condition", "sample_rate", "project", "updated_at"]
    readonly_fields = ["project"]
    list_filter = ["enabled", ("queue", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name", "score_name"]
    list_select_related = ["queue", "project__organization"]
    actions = ["apply_to_existing_scores"]


    @admin.display(description="when")
    def condition(self, rule: QueueRule):
        source = f" ({rule.score_source})" if rule.score_source else ""
        return f"{rule.score_name}{source} {rule.operator} {rule.threshold:g}"

    def save_model(self, request, obj, form, change):
        # A rule's project is its queue's.
        obj.project_id = obj.queue.project_id
        self.check_project_write(request, obj)
        actor = Actor(user=request.user)
        arguments = form.service_arguments()
        if change:
            stored = QueueRule.objects.select_related("project__organization").get(pk=obj.pk)
            services.queue_rule_update(project=stored.project, rule=stored, actor=actor, **arguments)
            return
        data = form.cleaned_data
        queue = data["queue"]
        created = services.queue_rule_create(project=queue.project, queue=queue, actor=actor, **arguments)
        obj.pk, obj.created_at, obj.updated_at = created.pk, created.created_at, created.updated_at

    def delete_model(self, request, obj):
        self.check_project_write(request, obj)
        services.queue_rule_delete(project=obj.project, rule=obj, actor=Actor(user=request.user))

    def delete_queryset(self, request, queryset):
        for rule in queryset.select_related("project__organization"):
            self.delete_model(request, rule)

    @admin.action(description="Apply to the scores already stored (in a worker)")
    def apply_to_existing_scores(self, request, queryset):
        queued = 0
        for rule in queryset:
            if request.user.is_superuser or role_for_project_id(request, rule.project_id) >= self.change_role:
                enqueue_after_commit(BACKFILL_TASK, rule.project_id, rule.pk)
                queued += 1
        self.message_user(request, f"Queued {queued} rule(s) to run over the stored scores.", messages.SUCCESS)
