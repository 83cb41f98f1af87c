"""The navigation of project pages: the bar on every project page and the links of a project's home.

Pages are registered (`register_page`) from the `AppConfig.ready()` of an app allowed to name them
(the page's own app, or one above it), so this core module names no app. Admin links need no
registration: they come from the admin's registry, one per project-scoped ModelAdmin whose
`view_role` the user's role in the project reaches, filtered to the project, and only for staff
users (the admin admits no one else).
"""

from dataclasses import dataclass
from urllib.parse import urlencode

from django.contrib import admin
from django.urls import NoReverseMatch, reverse

from evalsite.tenancy.admin_base import ProjectScopingMixin
from evalsite.tenancy.roles import Role


@dataclass(frozen=True)
class PageLink:
    label: str
    url_name: str  # a route under /projects/<project_id>/ that takes no other argument
    minimum: Role = Role.VIEWER


@dataclass(frozen=True)
class Link:
    label: str
    url: str


_pages: list[PageLink] = []


def register_page(label: str, url_name: str, *, minimum: Role = Role.VIEWER) -> None:
    if all(page.url_name != url_name for page in _pages):
        _pages.append(PageLink(label, url_name, minimum))


def page_links(*, project, role: Role) -> list[Link]:
    links = []
    for page in _pages:
        if role < page.minimum:
            continue
        try:
            links.append(Link(page.label, reverse(page.url_name, kwargs={"project_id": project.pk})))
        except NoReverseMatch:
            continue  # a page registered by an app whose URLs are not installed
    return links


def admin_project_url(*, user, project) -> str | None:
    """The project's own page in the admin, for staff users."""
    if not (user.is_active and user.is_staff):
        return None
    return reverse("admin:evalsite_project_change", args=[project.pk])


def admin_links(*, user, project, role: Role) -> list[Link]:
    """The admin's lists of this project's data that `role` may view, for staff users."""
    if not (user.is_active and user.is_staff):
        return []
    links = []
    for model, model_admin in admin.site._registry.items():
        if not isinstance(model_admin, ProjectScopingMixin) or model_admin.project_lookup == "pk":
            continue
        if role < model_admin.view_role:
            continue
        opts = model._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        query = urlencode({f"{model_admin.project_lookup}__id__exact": project.pk})
        links.append(Link(str(opts.verbose_name_plural).capitalize(), f"{url}?{query}"))
    return sorted(links, key=lambda link: link.label)
