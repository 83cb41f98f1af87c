""""Add to an annotation queue" admin actions for the Trace, Observation and RunItem admins
(registered into traces' `trace_admin_actions` / `observation_admin_actions` and experiments'
`run_item_admin_actions` by AnnotationsConfig.ready()); a trace's session goes in through its trace.

With the admin's "select all N" the action receives the whole filtered changelist, not the page,
and the objects go into the queue in batches; objects already in the queue are counted, not added.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.template.response import TemplateResponse

from annotations.models import AnnotationQueue, ObjectType
from annotations.services import ObjectRef, queue_items_add_many, run_item_refs
from evalsite.tenancy.admin_base import role_for_project_id
from evalsite.tenancy.models import Project
from evalsite.tenancy.roles import Role


class AddToQueueForm(forms.Form):
    queue = forms.ModelChoiceField(queryset=AnnotationQueue.objects.none())

    def __init__(self, *args, project: Project, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["queue"].queryset = AnnotationQueue.objects.filter(project=project).order_by("name")


def _add_to_queue(modeladmin, request, queryset, refs_of, action_name: str):
    project_ids = list(queryset.order_by().values_list("project_id", flat=True).distinct()[:2])
    if len(project_ids) != 1:
        modeladmin.message_user(request, "Select objects of exactly one project to add them to a queue.", messages.ERROR)
        return None
    project = Project.objects.select_related("organization").get(pk=project_ids[0])
    if not request.user.is_superuser and role_for_project_id(request, project.pk) < Role.MEMBER:
        modeladmin.message_user(request, "Adding to a queue needs the MEMBER role in this project.", messages.ERROR)
        return None
    form = AddToQueueForm(request.POST if "apply" in request.POST else None, project=project)
    if form.is_valid():
        queue = form.cleaned_data["queue"]
        added, present = queue_items_add_many(project=project, queue=queue, refs=refs_of(queryset))
        modeladmin.message_user(request, f"Added {added} item(s) to the queue {queue.name}.", messages.SUCCESS)
        if present:
            modeladmin.message_user(request, f"{present} were already in the queue and were left as they are.", messages.INFO)
        return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": "Add to an annotation queue",
        "opts": modeladmin.model._meta,
        "form": form,
        "count": queryset.count(),
        "selected": request.POST.getlist(ACTION_CHECKBOX_NAME),
        "select_across": request.POST.get("select_across") == "1",
        "action": request.POST.get("action", action_name),
    }
    return TemplateResponse(request, "annotations/admin/add_to_queue.html", context)


def _trace_refs(queryset):
    return [ObjectRef(ObjectType.TRACE, trace_id) for trace_id in queryset.order_by().values_list("trace_id", flat=True).iterator()]


def _observation_refs(queryset):
    rows = queryset.order_by().values_list("observation_id", "trace_id").iterator()
    return [ObjectRef(ObjectType.OBSERVATION, observation_id, trace_id) for observation_id, trace_id in rows]


@admin.action(description="Add to an annotation queue")
def add_traces_to_queue(modeladmin, request, queryset):
    return _add_to_queue(modeladmin, request, queryset, _trace_refs, "add_traces_to_queue")


def _session_refs(queryset):
    """The sessions of the selected traces, each once; traces without a session add nothing."""
    sessions = queryset.order_by().exclude(session_id__isnull=True).exclude(session_id="")
    return [ObjectRef(ObjectType.SESSION, session_id) for session_id in sessions.values_list("session_id", flat=True).distinct().iterator()]


@admin.action(description="Add their sessions to an annotation queue")
def add_trace_sessions_to_queue(modeladmin, request, queryset):
    # Sessions have no admin of their own: they are picked through their traces (filter by session).
    return _add_to_queue(modeladmin, request, queryset, _session_refs, "add_trace_sessions_to_queue")


@admin.action(description="Add to an annotation queue")
def add_observations_to_queue(modeladmin, request, queryset):
    return _add_to_queue(modeladmin, request, queryset, _observation_refs, "add_observations_to_queue")


@admin.action(description="Add to an annotation queue")
def add_run_items_to_queue(modeladmin, request, queryset):
    def refs(selection):
        # Run items without a trace cannot be annotated: they are left out, not refused as a whole.
        items = list(selection.filter(trace_id__isnull=False).exclude(trace_id="").select_related(None).iterator())
        return run_item_refs(project=items[0].project, run_items=items) if items else []

    return _add_to_queue(modeladmin, request, queryset, refs, "add_run_items_to_queue")
