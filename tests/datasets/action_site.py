"""A URLconf with an admin site whose Trace and Observation admins carry the "Add to a dataset"
action, as the traces app's admin will: the action is tested end to end, through the changelist."""

from django.contrib.admin import AdminSite
from django.urls import path

from datasets.admin_actions import add_to_dataset
from evalsite.tenancy.admin_base import ProjectScopedAdmin
from traces.models import Observation, Trace

site = AdminSite(name="admin")


class SourceAdmin(ProjectScopedAdmin):
    actions = [add_to_dataset]
    list_display = ["pk", "trace_id"]


site.register(Trace, SourceAdmin)
site.register(Observation, SourceAdmin)

urlpatterns = [path("admin/", site.urls)]
