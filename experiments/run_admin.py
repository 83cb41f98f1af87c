"""The "Start an experiment run" admin action, for the Dataset admin (add it to its `actions`).

It asks, on an intermediate page, for the prompt (a version or a label), the LLM connection, the
model, its parameters, the concurrency and the run's name, then calls
`experiments.run_services.experiment_run_start`, the same service as the API. The service's refusals
become errors on the form's fields, and nothing is created until it accepts. Only a MEMBER (or
higher) of the dataset's project may start a run, and the form offers only that project's prompts
and connections.
"""

import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from rest_framework.exceptions import ValidationError as ApiValidationError

from datasets.models import Dataset
from evalsite.api.errors import Conflict, flatten_detail
from evalsite.llm.client import RESERVED_PARAMETERS
from evalsite.llm.connections import llm_connection_list
from evalsite.llm.models import LlmConnection
from evalsite.tenancy.actors import Actor
from evalsite.tenancy.admin_base import role_for_project_id
from evalsite.tenancy.roles import Role
from experiments.models import ExperimentRun
from experiments.prompt_selectors import PRODUCTION_LABEL, prompt_name_list
from experiments.run_services import MAX_CONCURRENCY, experiment_run_start

RUN_NAME_MAX_LENGTH = ExperimentRun._meta.get_field("name").max_length
DEFAULT_CONCURRENCY = 8
# How experiment_run_start names its arguments in its errors → the field of this form.
ERROR_FIELDS = {
    "runName": "run_name",
    "promptVersion": "prompt_version",
    "promptLabel": "prompt_label",
    "provider": "connection",
    "model": "model",
    "modelParameters": "model_parameters",
    "concurrency": "concurrency",
}


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

    def _field_for(self, key: str) -> str | None:
        if key == "promptName":
            # The name was picked from the project's own list, so "not found" means that no version
            # matched what selects one: the version when given, else the label (production by default).
            return "prompt_version" if self.cleaned_data.get("prompt_version") is not None else "prompt_label"
        return ERROR_FIELDS.get(key)

    def add_service_errors(self, error: ApiValidationError) -> None:
        """Put the service's refusal on the field it names (on the form when it names none of ours)."""
        detail = error.detail
        if not isinstance(detail, dict):
            self.add_error(None, flatten_detail(detail))
            return
        for key, problems in detail.items():
            field = self._field_for(key)
            if field is None:
                self.add_error(None, flatten_detail(problems, key))
            else:
                self.add_error(field, flatten_detail(problems))


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
            actor=Actor(user=request.user),
        )
    except Conflict as conflict:  # the only conflict: the dataset already has a run of that name
        form.add_error("run_name", str(conflict.detail))
    except ApiValidationError as error:
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
