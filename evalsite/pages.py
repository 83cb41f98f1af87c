"""The one way a server-rendered page reaches project data (the page twin of ProjectScopedViewSet).

`ProjectPageView` signs the user in, resolves `<project_id>` from the URL, and checks the user's
role: no role in the project gives the same 404 as a missing project, a role below what the page
declares for the method gives 403. Views read `self.project` and `self.role`, and pass
`project=self.project` to selectors.
"""

from pathlib import Path

import plotly
from django.conf import settings
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import View
from django.views.decorators.cache import cache_control

from evalsite import navigation
from evalsite.tenancy.models import Project
from evalsite.tenancy.roles import Role
from evalsite.tenancy.selectors import project_list_with_roles, role_in_project


class ProjectPageView(LoginRequiredMixin, View):
    # Role needed per HTTP method; unlisted methods need MEMBER.
    required_roles: dict[str, Role] = {"GET": Role.VIEWER, "HEAD": Role.VIEWER}

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        project = Project.objects.select_related("organization").filter(pk=kwargs.get("project_id")).first()
        role = role_in_project(user=request.user, project=project) if project else Role.NONE
        if role < Role.VIEWER:
            raise Http404("Project not found")
        if role < self.required_roles.get(request.method, Role.MEMBER):
            raise PermissionDenied("Your role in this project does not allow this")
        self.project, self.role = project, role
        return super().dispatch(request, *args, **kwargs)

    def page_context(self, **extra) -> dict:
        return {
            "project": self.project,
            "role": self.role,
            "Role": Role,
            "nav": navigation.page_links(project=self.project, role=self.role),
            "admin_project_url": navigation.admin_project_url(user=self.request.user, project=self.project),
            **extra,
        }


def site_root(request):
    """/: a signed-in user's projects; anyone else signs in first."""
    if request.user.is_authenticated:
        return redirect("project-list")
    return redirect(settings.LOGIN_URL)


class ProjectListPage(LoginRequiredMixin, View):
    """/projects/: every project the user can see, with their role in it (not one project's page, so
    not a ProjectPageView: it is scoped by the user alone)."""

    def get(self, request):
        rows = [
            {"project": project, "role": role, "url": reverse("project-home", kwargs={"project_id": project.pk})}
            for project, role in project_list_with_roles(user=request.user)
        ]
        return render(request, "evalsite/project_list.html", {"rows": rows})


PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


@cache_control(max_age=86400, public=True)
def plotly_js(request):
    """plotly.js from the installed package: never copied into the repo, never from a CDN."""
    if not PLOTLY_JS.exists():
        raise Http404("plotly.js is not installed")
    return FileResponse(PLOTLY_JS.open("rb"), content_type="application/javascript")
