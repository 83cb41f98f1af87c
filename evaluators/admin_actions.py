"""The "Evaluate with evaluators" action of the experiment run admin. `experiments` is below
`evaluators` in the app order, so it does not know this action: evaluators/apps.py registers it in
`experiments.hooks.run_admin_actions`, which the run admin reads."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import ValidationError
from django.db import transaction
from django.template.response import TemplateResponse

from evalsite.tenancy.admin_base import role_for_project_id
from evalsite.tenancy.roles import Role
from evaluators import offline, selectors
from evaluators.admin_forms import EvaluateRunForm, add_service_errors


@admin.action(description="Evaluate with evaluators", permissions=["change"])
def evaluate_runs(modeladmin, request, queryset):
    """Judge every recorded item of the selected runs with the evaluators picked on an intermediate
    page, through `offline.run_evaluate`, the service of `POST …/experiments/runs/{id}/evaluations`."""
    runs = list(queryset.select_related("project__organization"))
    projects = {run.project_id for run in runs}
    if len(projects) != 1:
        modeladmin.message_user(request, "Select runs of a single project to evaluate.", messages.ERROR)
        return None
    project = runs[0].project
    if not request.user.is_superuser and role_for_project_id(request, project.pk) < Role.MEMBER:
        modeladmin.message_user(request, "Evaluating a run needs the MEMBER role in its project.", messages.ERROR)
        return None
    evaluators = list(selectors.evaluator_list(project=project))
    if not evaluators:
        modeladmin.message_user(request, f"Project {project.name} has no evaluator yet.", messages.ERROR)
        return None
    form = EvaluateRunForm(request.POST if "apply" in request.POST else None, evaluators=evaluators)
    if form.is_valid():
        picked = [{"evaluatorId": pk} for pk in form.cleaned_data["evaluators"]]
        try:
            with transaction.atomic():  # all the runs or none
                summaries = [offline.run_evaluate(project=project, run=run, evaluators=picked) for run in runs]
        except ValidationError as error:
            add_service_errors(form, error, {})
        else:
            created = sum(summary["jobsCreated"] for summary in summaries)
            already = sum(e["alreadyEvaluated"] for summary in summaries for e in summary["evaluators"])
            modeladmin.message_user(
                request, f"{created} evaluation job(s) queued over {len(runs)} run(s); {already} item(s) already "
                         "evaluated by these evaluator versions.", messages.SUCCESS,
            )
            return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": f"Evaluate {len(runs)} run(s) of {project.name}",
        "opts": modeladmin.model._meta,
        "runs": runs,
        "form": form,
        "selected": request.POST.getlist(ACTION_CHECKBOX_NAME),
        "select_across": request.POST.get("select_across") == "1",
        "action": request.POST.get("action", "evaluate_runs"),
    }
    return TemplateResponse(request, "evaluators/admin/evaluate_runs.html", context)
