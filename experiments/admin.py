import experiments.prompt_admin  # noqa: F401, I001  (prompt versions and their diff live in their own module)

from decimal import Decimal
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.db.models import Count
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html

from evalsite.tenancy.actors import Actor
from evalsite.tenancy.admin_base import ProjectScopedAdmin
from experiments.comparison import MAX_RUNS
from experiments.models import ExperimentRun, RunItem, RunStatus
from experiments.run_services import experiment_run_cancel
from experiments.services import experiment_run_delete

ACTIVE_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING)


def compare_url(project_id: str, run_ids: list[str]) -> str:
    base = reverse("experiment-compare", kwargs={"project_id": project_id})
    return f"{base}?{urlencode({'runs': ','.join(run_ids), 'baseline': run_ids[0]})}"


@admin.register(ExperimentRun)
class ExperimentRunAdmin(ProjectScopedAdmin):
    list_display = [
        "name", "dataset", "source", "status", "progress", "item_count", "cost", "created_at", "compare_link",
    ]
    # No filter on dataset or project: Django would list every project's datasets in the sidebar.
    list_filter = ["source", "status", "created_at"]
    search_fields = ["name", "run_id"]
    ordering = ["-created_at"]
    actions = ["compare_selected_runs", "cancel_selected_runs"]
    readonly_fields = [
        "project",
        "run_id",
        "dataset",
        "dataset_version",
        "source",
        "status",
        "progress_detail",
        "total_cost",
        "error",
        "config",
        "created_by",
        "started_at",
        "finished_at",
        "created_at",
        "updated_at",
        "items_link",
        "compare_link",
    ]
    fields = ["name", "description", "metadata", *readonly_fields]

    def has_add_permission(self, request, *args) -> bool:
        # Runs come from SDK spans, legacy links or the platform runner, never from a blank form.
        return False

    def scoped_queryset(self, request, queryset):
        return queryset.select_related("dataset").annotate(item_total=Count("items"))

    def delete_model(self, request, obj):
        experiment_run_delete(project=obj.project, runs=[obj], actor=Actor(user=request.user))

    def delete_queryset(self, request, queryset):
        runs_by_project: dict = {}
        for run in queryset.select_related("project__organization"):
            runs_by_project.setdefault(run.project_id, []).append(run)
        for runs in runs_by_project.values():
            experiment_run_delete(project=runs[0].project, runs=runs, actor=Actor(user=request.user))

    @admin.display(description="items", ordering="item_total")
    def item_count(self, run: ExperimentRun) -> int:
        return run.item_total

    @admin.display(description="progress")
    def progress(self, run: ExperimentRun) -> str:
        """Platform runs only: SDK runs have no total to measure against (their items column counts them)."""
        if not run.progress_total:
            return "–"
        # progress_done counts every recorded item, failed ones included.
        failed = format_html(" (failed {})", run.progress_failed) if run.progress_failed else ""
        return format_html(
            '<progress value="{}" max="{}"></progress> {}/{}{}',
            run.progress_done,
            run.progress_total,
            run.progress_done,
            run.progress_total,
            failed,
        )

    @admin.display(description="progress")
    def progress_detail(self, run: ExperimentRun) -> str:
        if not run.progress_total:
            return "–"
        percent = min(100, round(100 * run.progress_done / run.progress_total))
        note = " · reload the page to follow it" if run.status in ACTIVE_STATUSES else ""
        return format_html(
            "{} · {}% · {} recorded, {} failed, {} in total{}",
            self.progress(run),
            percent,
            run.progress_done,
            run.progress_failed,
            run.progress_total,
            note,
        )

    @admin.display(description="cost", ordering="total_cost")
    def cost(self, run: ExperimentRun) -> str:
        if run.total_cost is None:
            return "–"
        return f"${run.total_cost:.4f}" if run.total_cost >= Decimal("0.01") else f"${run.total_cost:.6f}"

    @admin.display(description="comparison")
    def compare_link(self, run: ExperimentRun) -> str:
        return format_html('<a href="{}">compare</a>', compare_url(run.project_id, [run.run_id]))

    @admin.display(description="items")
    def items_link(self, run: ExperimentRun) -> str:
        url = reverse("admin:experiments_runitem_changelist") + "?" + urlencode({"run__id__exact": run.pk})
        return format_html('<a href="{}">view the run items</a>', url)

    @admin.action(description="Compare selected runs")
    def compare_selected_runs(self, request, queryset):
        runs = list(queryset.order_by("created_at", "pk"))
        projects = {run.project_id for run in runs}
        if len(projects) != 1:
            self.message_user(request, "Select runs of a single project to compare.", messages.ERROR)
            return None
        if not 1 <= len(runs) <= MAX_RUNS:
            self.message_user(request, f"Select 1 to {MAX_RUNS} runs to compare.", messages.ERROR)
            return None
        # The oldest selected run is the baseline: the usual question is "did the newer runs get better?".
        return HttpResponseRedirect(compare_url(projects.pop(), [run.run_id for run in runs]))

    @admin.action(description="Cancel selected runs", permissions=["change"])
    def cancel_selected_runs(self, request, queryset):
        """Queued and running runs stop (a running one at its worker's next flush); finished ones stay."""
        actor = Actor(user=request.user)
        cancelled = finished = refused = 0
        for run in queryset.select_related("project__organization"):
            if not self.has_change_permission(request, run):
                refused += 1
            elif run.status not in ACTIVE_STATUSES:
                finished += 1
            elif experiment_run_cancel(project=run.project, run=run, actor=actor).status == RunStatus.CANCELLED:
                cancelled += 1
            else:  # it finished between the read and the cancel
                finished += 1
        if cancelled:
            self.message_user(request, f"Cancelled {cancelled} run(s).", messages.SUCCESS)
        if finished:
            self.message_user(request, f"{finished} run(s) had already finished and were left as they are.", messages.WARNING)
        if refused:
            self.message_user(
                request, f"{refused} run(s) were not cancelled: that needs the MEMBER role in their project.", messages.ERROR
            )


@admin.register(RunItem)
class RunItemAdmin(ProjectScopedAdmin):
    """Read-only: run items are results, written only by ingestion and the runner."""

    list_display = ["item_key", "run", "trace_id", "latency_ms", "cost", "has_error", "started_at"]
    search_fields = ["item_key", "trace_id", "observation_id"]
    ordering = ["-created_at"]
    list_select_related = ["run"]
    readonly_fields = [
        "project",
        "run",
        "item_key",
        "dataset_item",
        "item_version",
        "trace_id",
        "observation_id",
        "input",
        "expected_output",
        "output",
        "latency_ms",
        "cost",
        "input_tokens",
        "output_tokens",
        "error",
        "started_at",
        "created_at",
        "updated_at",
    ]
    fields = readonly_fields

    def lookup_allowed(self, lookup, value, request=None):
        # The run page links here filtered to its items; the queryset stays project-scoped.
        return lookup == "run__id__exact" or super().lookup_allowed(lookup, value, request)

    def has_add_permission(self, request, *args) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="error", boolean=True)
    def has_error(self, item: RunItem) -> bool:
        return bool(item.error)
