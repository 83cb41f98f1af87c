"""Admin of experiment runs and run items, and what experiments add to the dataset admin.

To the dataset admin (through datasets/hooks.py, registered in experiments/apps.py): the dataset's
latest runs, with a link comparing them, on its page; and the "Start an experiment run" action,
which asks, on an intermediate page, for the prompt (a version or a label), the LLM connection,
the model, its parameters, the concurrency and the run's name, then calls
`experiments.services.experiment_run_start`, the same service as the API. The service's refusals
become errors on the form's fields, and nothing is created until it accepts. Only a MEMBER (or
higher) of the dataset's project may start a run, and the form offers only that project's prompts
and connections.
"""

import json
from decimal import Decimal
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from datasets.models import Dataset
from evalsite.errors import Conflict
from evalsite.llm.client import RESERVED_PARAMETERS
from evalsite.llm.connections import llm_connection_list
from evalsite.llm.models import LlmConnection
from evalsite.tenancy.actors import Actor
from evalsite.tenancy.admin_base import ProjectScopedAdmin, role_for_project_id
from evalsite.tenancy.roles import Role
from experiments import hooks, selectors
from experiments.comparison import MAX_RUNS
from experiments.gates.admin import mark_runs_released, unmark_runs_released
from experiments.models import ExperimentRun, RunItem, RunStatus
from experiments.services import (
    MAX_CONCURRENCY,
    MAX_TRIALS,
    experiment_run_cancel,
    experiment_run_delete,
    experiment_run_start,
)
from prompts.selectors import PRODUCTION_LABEL, prompt_name_list

ACTIVE_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING)
DATASET_PAGE_RUNS = 20
COMPARE_RUNS = 5


def compare_url(project_id: str, run_ids: list[str]) -> str:
    base = reverse("experiment-compare", kwargs={"project_id": project_id})
    return f"{base}?{urlencode({'runs': ','.join(run_ids), 'baseline': run_ids[0]})}"


@admin.register(ExperimentRun)
class ExperimentRunAdmin(ProjectScopedAdmin):
    list_display = [
        "name", "dataset", "source", "status", "progress", "item_count", "cost", "released", "created_at", "compare_link",
    ]
    # No filter on dataset or project: Django would list every project's datasets in the sidebar.
    list_filter = ["source", "status", "created_at"]
    search_fields = ["name", "run_id"]
    ordering = ["-created_at"]

    @property
    def actions(self):
        # The run's own, then those registered by apps above (experiments/hooks.py), read per request.
        return ["compare_selected_runs", "cancel_selected_runs", mark_runs_released, unmark_runs_released,
                *hooks.run_admin_actions]

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
        return queryset.select_related("dataset", "release").annotate(item_total=Count("items"))

    @admin.display(description="released")
    def released(self, run: ExperimentRun) -> str:
        # The mark that "latest released run" gate baselines follow (experiments/gates).
        release = getattr(run, "release", None)
        return release.released_at.strftime("%Y-%m-%d %H:%M") if release else "–"

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

    @property
    def actions(self):
        # Read per request, so actions registered by apps above (experiments/hooks.py) are offered.
        return list(hooks.run_item_admin_actions)

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


# --- what the dataset admin shows of experiments ----------------------------------------------


def dataset_runs_overview(dataset: Dataset) -> SafeString:
    """The dataset page's list of its latest runs, with a link comparing the newest of them."""
    runs = list(selectors.experiment_run_list_for_dataset(project=dataset.project, dataset=dataset)[:DATASET_PAGE_RUNS])
    if not runs:
        return format_html("<p>{}</p>", "No runs yet.")
    compare = runs[:COMPARE_RUNS]
    compare_url = reverse("experiment-compare", kwargs={"project_id": dataset.project_id}) + "?" + urlencode(
        {"runs": ",".join(run.run_id for run in compare)}
    )
    return format_html(
        '<p><a href="{}">Compare the latest {} runs</a></p><ul>{}</ul>',
        compare_url,
        len(compare),
        format_html_join(
            "",
            "<li>{} <span class='quiet'>({}, {})</span></li>",
            ((run.name, run.created_at.strftime("%Y-%m-%d %H:%M"), run.status) for run in runs),
        ),
    )


# --- "Start an experiment run", an action of the dataset admin -----------------------------------

RUN_NAME_MAX_LENGTH = ExperimentRun._meta.get_field("name").max_length
DEFAULT_CONCURRENCY = 8


class RunStartForm(forms.Form):
    run_name = forms.CharField(
        max_length=RUN_NAME_MAX_LENGTH,
        required=False,
        help_text="Unique among the dataset's runs. Blank: “dataset prompt model date time”.",
    )
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    prompt = forms.ChoiceField()
    prompt_version = forms.IntegerField(
        required=False, min_value=1, help_text="A version number; blank: the version holding the label below."
    )
    prompt_label = forms.CharField(
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"placeholder": PRODUCTION_LABEL}),
        help_text=f"Blank: {PRODUCTION_LABEL}. Give a version or a label, not both.",
    )
    connection = forms.ChoiceField(label="LLM connection")
    model = forms.CharField(
        max_length=200,
        # The template renders one <datalist> per connection and points the input at the selected one.
        widget=forms.TextInput(attrs={"list": "run-models-0", "autocomplete": "off"}),
    )
    model_parameters = forms.CharField(
        required=False,
        initial="{}",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text='A JSON object sent with every call, e.g. {"temperature": 0, "max_tokens": 256}.',
    )
    concurrency = forms.IntegerField(
        min_value=1, max_value=MAX_CONCURRENCY, initial=DEFAULT_CONCURRENCY, help_text="Calls in flight at once."
    )
    trials = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_TRIALS,
        initial=1,
        help_text="Run every item this many times, each with its own trace and scores, to see how much outputs vary.",
    )

    def __init__(self, *args, prompt_names: list[str], connections: list[LlmConnection], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["prompt"].choices = [(name, name) for name in prompt_names]
        self.fields["connection"].choices = [(c.provider, c.provider) for c in connections]
        # In the order of the connection choices: the template numbers the datalists the same way.
        self.model_lists = [list(c.custom_models or []) for c in connections]
        if self.model_lists and self.model_lists[0]:
            self.fields["model"].initial = self.model_lists[0][0]

    def clean_model_parameters(self) -> dict:
        raw = (self.cleaned_data.get("model_parameters") or "").strip()
        if not raw:
            return {}
        try:
            parameters = json.loads(raw)
        except ValueError as error:
            raise forms.ValidationError(f"Not valid JSON: {error}") from None
        if not isinstance(parameters, dict):
            raise forms.ValidationError('Must be a JSON object, e.g. {"temperature": 0}.')
        # The client refuses these at call time, which would fail every item of the run one by one.
        reserved = sorted(RESERVED_PARAMETERS.intersection(parameters))
        if reserved:
            raise forms.ValidationError(f"The runner sets {', '.join(reserved)} itself; remove them.")
        return parameters

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("prompt_version") is not None and cleaned.get("prompt_label"):
            self.add_error("prompt_label", "Give a prompt version or a label, not both.")
        return cleaned

    def run_name_for(self, dataset: Dataset) -> str:
        if self.cleaned_data["run_name"].strip():
            return self.cleaned_data["run_name"].strip()
        stamp = timezone.localtime().strftime("%Y-%m-%d %H:%M:%S")
        stem = f"{dataset.name} {self.cleaned_data['prompt']} {self.cleaned_data['model']}"
        return f"{stem[: RUN_NAME_MAX_LENGTH - len(stamp) - 1]} {stamp}"

    def _field_for(self, argument: str) -> str | None:
        """The field of this form for an argument of experiment_run_start: most share its name."""
        if argument == "prompt_name":
            # The name was picked from the project's own list, so "not found" means that no version
            # matched what selects one: the version when given, else the label (production by default).
            return "prompt_version" if self.cleaned_data.get("prompt_version") is not None else "prompt_label"
        if argument == "provider":
            return "connection"
        return argument if argument in self.fields else None

    def add_service_errors(self, error: ValidationError) -> None:
        """Put the service's refusal on the field it names (on the form when it names none of ours)."""
        if not hasattr(error, "error_dict"):
            self.add_error(None, error.messages)
            return
        for argument, problems in error.message_dict.items():
            field = self._field_for(argument)
            if field is None:
                self.add_error(None, [f"{argument}: {problem}" for problem in problems])
            else:
                self.add_error(field, problems)


def _start(form: RunStartForm, dataset: Dataset, request) -> ExperimentRun | None:
    """The started run, or None with the service's refusal put on the form."""
    cleaned = form.cleaned_data
    try:
        return experiment_run_start(
            project=dataset.project,
            dataset_name=dataset.name,
            run_name=form.run_name_for(dataset),
            description=cleaned["description"] or None,
            prompt_name=cleaned["prompt"],
            prompt_version=cleaned["prompt_version"],
            prompt_label=cleaned["prompt_label"] or None,
            provider=cleaned["connection"],
            model=cleaned["model"].strip(),
            model_parameters=cleaned["model_parameters"],
            concurrency=cleaned["concurrency"],
            trials=cleaned["trials"] or 1,
            actor=Actor(user=request.user),
        )
    except Conflict as conflict:  # the only conflict: the dataset already has a run of that name
        form.add_error("run_name", conflict.message)
    except ValidationError as error:
        form.add_service_errors(error)
    return None


@admin.action(description="Start an experiment run", permissions=["change"])
def start_experiment_run(modeladmin, request, queryset):
    datasets = list(queryset.select_related("project__organization")[:2])
    if len(datasets) != 1:
        modeladmin.message_user(request, "Select exactly one dataset to start an experiment run on.", messages.ERROR)
        return None
    dataset = datasets[0]
    project = dataset.project
    if not request.user.is_superuser and role_for_project_id(request, project.pk) < Role.MEMBER:
        modeladmin.message_user(
            request, "Starting an experiment run needs the MEMBER role in the dataset's project.", messages.ERROR
        )
        return None
    prompt_names = [row["name"] for row in prompt_name_list(project=project)]
    connections = list(llm_connection_list(project=project).only("provider", "custom_models"))
    missing = [what for what, found in (("a prompt", prompt_names), ("an LLM connection", connections)) if not found]
    if missing:
        modeladmin.message_user(
            request, f"Project {project.name} needs {' and '.join(missing)} before a run can start.", messages.ERROR
        )
        return None

    form = RunStartForm(
        request.POST if "apply" in request.POST else None, prompt_names=prompt_names, connections=connections
    )
    if form.is_valid():
        run = _start(form, dataset, request)
        if run is not None:
            modeladmin.message_user(
                request,
                f"Experiment run “{run.name}” queued over {run.progress_total} item(s) of {dataset.name}.",
                messages.SUCCESS,
            )
            return HttpResponseRedirect(reverse("admin:experiments_experimentrun_change", args=[run.pk]))

    context = {
        **modeladmin.admin_site.each_context(request),
        "title": f"Start an experiment run on {dataset.name}",
        "opts": modeladmin.model._meta,
        "dataset": dataset,
        "form": form,
        "model_lists": form.model_lists,
        "selected": request.POST.getlist(ACTION_CHECKBOX_NAME),
        "select_across": request.POST.get("select_across") == "1",
        "action": request.POST.get("action", "start_experiment_run"),
    }
    return TemplateResponse(request, "experiments/run_start.html", context)
