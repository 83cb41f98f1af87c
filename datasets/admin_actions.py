"""The "Add to a dataset" admin action, for the Trace and Observation admins (DatasetsConfig.ready()
registers it into traces' `trace_admin_actions` and `observation_admin_actions`). It asks, on an intermediate page, for the dataset and the mapping, then calls
`datasets.services.dataset_items_add_from_sources`: each selected trace or observation becomes an
item linked to it, and one already in the dataset is skipped unless duplicates are allowed."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.template.response import TemplateResponse

from datasets.models import Dataset
from datasets.services import SourceMapping, dataset_items_add_from_sources
from evalsite.tenancy.actors import Actor
from evalsite.tenancy.admin_base import role_for_project_id
from evalsite.tenancy.models import Project
from evalsite.tenancy.roles import Role

# Metadata keys offered as checkboxes are read from at most this many of the selected sources.
KEY_SAMPLE = 1000
MAX_KEYS = 200


class AddToDatasetForm(forms.Form):
    dataset = forms.ModelChoiceField(queryset=Dataset.objects.none())
    input_from = forms.ChoiceField(
        label="Input ←", choices=[("input", "its input"), ("output", "its output")], initial="input"
    )
    expected_output_from = forms.ChoiceField(
        label="Expected output ←",
        choices=[("output", "its output"), ("input", "its input"), ("", "nothing")],
        initial="output",
        required=False,
    )
    metadata_keys = forms.MultipleChoiceField(
        label="Metadata ← these keys of its metadata", required=False, widget=forms.CheckboxSelectMultiple
    )
    allow_duplicates = forms.BooleanField(
        required=False,
        help_text="Add a source again even if the dataset already has an item made from it.",
    )

    def __init__(self, *args, project: Project, metadata_keys: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["dataset"].queryset = Dataset.objects.filter(project=project).order_by("name")
        self.fields["metadata_keys"].choices = [(key, key) for key in metadata_keys]

    def mapping(self) -> SourceMapping:
        return SourceMapping(
            input=self.cleaned_data["input_from"],
            expected_output=self.cleaned_data["expected_output_from"] or None,
            metadata_keys=tuple(self.cleaned_data["metadata_keys"]),
        )


def _metadata_keys(queryset) -> list[str]:
    keys: set[str] = set()
    for metadata in queryset.order_by().values_list("metadata", flat=True)[:KEY_SAMPLE]:
        if isinstance(metadata, dict):
            keys.update(str(key) for key in metadata)
    return sorted(keys)[:MAX_KEYS]


@admin.action(description="Add to a dataset")
def add_to_dataset(modeladmin, request, queryset):
    project_ids = list(queryset.order_by().values_list("project_id", flat=True).distinct()[:2])
    if len(project_ids) != 1:
        modeladmin.message_user(request, "Select items of exactly one project to add them to a dataset.", messages.ERROR)
        return None
    project = Project.objects.select_related("organization").get(pk=project_ids[0])
    if not request.user.is_superuser and role_for_project_id(request, project.pk) < Role.MEMBER:
        modeladmin.message_user(request, "Adding to a dataset needs the MEMBER role in this project.", messages.ERROR)
        return None

    form = AddToDatasetForm(
        request.POST if "apply" in request.POST else None, project=project, metadata_keys=_metadata_keys(queryset)
    )
    if form.is_valid():
        dataset = form.cleaned_data["dataset"]
        result = dataset_items_add_from_sources(
            project=project,
            dataset=dataset,
            sources=list(queryset),
            mapping=form.mapping(),
            allow_duplicates=form.cleaned_data["allow_duplicates"],
            actor=Actor(user=request.user),
        )
        modeladmin.message_user(request, f"Added {result.added} item(s) to {dataset.name}.", messages.SUCCESS)
        if result.duplicates:
            modeladmin.message_user(
                request,
                f"Skipped {len(result.duplicates)} already in the dataset ({', '.join(result.duplicates[:10])}); "
                "tick “allow duplicates” to add them anyway.",
                messages.WARNING,
            )
        for source_id, problem in list(result.invalid.items())[:10]:
            modeladmin.message_user(
                request, f"{source_id} was not added: it does not match the dataset's schema ({problem}).", messages.WARNING
            )
        return None

    opts = modeladmin.model._meta
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": "Add to a dataset",
        "opts": opts,
        "form": form,
        "count": queryset.count(),
        "selected": request.POST.getlist(ACTION_CHECKBOX_NAME),
        "select_across": request.POST.get("select_across") == "1",
        "action": request.POST.get("action", "add_to_dataset"),
    }
    return TemplateResponse(request, "datasets/admin/add_to_dataset.html", context)
