""""Judge pairwise against a baseline": an action of the ExperimentRun admin (registered into
experiments' `run_admin_actions` by EvaluatorsConfig.ready()). The selected run is the candidate; an
intermediate form picks the baseline (another run of the project, on the same dataset when it has
one), the pairwise judge and whether to judge both orders, then `pairwise.run_pairwise_evaluate`
creates the jobs (evaluators/PAIRWISE.md)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import ValidationError
from django.template.response import TemplateResponse

from evalsite.tenancy.admin_base import role_for_project_id
from evalsite.tenancy.roles import Role
from evaluators.definitions import is_pairwise
from evaluators.models import Evaluator, EvaluatorKind
from evaluators.pairwise import run_pairwise_evaluate
from evaluators.selectors import evaluator_list
from evaluators.services import latest_versions
from experiments.models import ExperimentRun
from experiments.selectors import experiment_run_list_for_dataset, experiment_run_list_recent


class PairwiseForm(forms.Form):
    baseline = forms.ModelChoiceField(queryset=ExperimentRun.objects.none(), label="Baseline run (A)")
    evaluator = forms.ModelChoiceField(queryset=Evaluator.objects.none(), label="Pairwise judge")
    both_orders = forms.BooleanField(required=False, label="Judge both orders (a disagreement counts as a tie)")

    def __init__(self, *args, candidate: ExperimentRun, **kwargs):
        super().__init__(*args, **kwargs)
        project = candidate.project
        if candidate.dataset_id:
            runs = experiment_run_list_for_dataset(project=project, dataset=candidate.dataset)
        else:
            runs = experiment_run_list_recent(project=project)
        self.fields["baseline"].queryset = runs.exclude(pk=candidate.pk)
        # Judges whose latest prompt uses both outputs (a project has few evaluators: read them all).
        judges = evaluator_list(project=project, kinds=(EvaluatorKind.LLM_AS_JUDGE,))
        latest = latest_versions(project=candidate.project, evaluator_ids=list(judges.values_list("pk", flat=True)))
        pairwise = [pk for pk, version in latest.items() if is_pairwise(version.variables)]
        self.fields["evaluator"].queryset = judges.filter(pk__in=pairwise).order_by("name")


@admin.action(description="Judge pairwise against a baseline run", permissions=["change"])
def judge_pairwise(modeladmin, request, queryset):
    runs = list(queryset.select_related("project__organization")[:2])
    if len(runs) != 1:
        modeladmin.message_user(request, "Select exactly one run: the candidate to judge against a baseline.", messages.ERROR)
        return None
    candidate = runs[0]
    if not request.user.is_superuser and role_for_project_id(request, candidate.project_id) < Role.MEMBER:
        modeladmin.message_user(request, "Judging runs needs the MEMBER role in this project.", messages.ERROR)
        return None
    form = PairwiseForm(request.POST if "apply" in request.POST else None, candidate=candidate)
    if form.is_valid():
        try:
            summary = run_pairwise_evaluate(
                project=candidate.project, run=candidate, baseline_run_id=form.cleaned_data["baseline"].run_id,
                evaluator_id=form.cleaned_data["evaluator"].pk, both_orders=form.cleaned_data["both_orders"],
            )
        except ValidationError as error:
            for messages_of_field in error.message_dict.values():
                form.add_error(None, "; ".join(messages_of_field))
        else:
            modeladmin.message_user(
                request,
                f"{summary['created']} pair(s) queued for judging, {summary['alreadyEvaluated']} already judged "
                f"({summary['pairs']} pairs of “{candidate.name}” against its baseline).",
                messages.SUCCESS,
            )
            return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": "Judge pairwise against a baseline run",
        "opts": modeladmin.model._meta,
        "form": form,
        "candidate": candidate,
        "selected": request.POST.getlist(ACTION_CHECKBOX_NAME),
        "action": request.POST.get("action", "judge_pairwise"),
    }
    return TemplateResponse(request, "evaluators/admin/pairwise.html", context)
