"""The one way the admin reaches project data.

`ProjectScopedAdmin` shows a staff user only the rows of projects where their role reaches
`view_role`, lets them change rows only where it reaches `change_role`, and offers only those
projects in the `project` field. A superuser sees everything. Subclasses declare the path to the
project (`project_lookup`) and the roles; they may not override `get_queryset`, which would bypass
the scoping (use `list_select_related` or `scoped_queryset()` instead).
"""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import models

from evalsite.json_values import JSONFormField
from evalsite.tenancy.models import Project
from evalsite.tenancy.roles import Role
from evalsite.tenancy.selectors import roles_by_project

SEALED_ADMIN_METHODS = ("get_queryset",)


def request_roles(request) -> dict[str, Role]:
    """The user's role per project, computed once per request."""
    if not hasattr(request, "_project_roles"):
        request._project_roles = roles_by_project(user=request.user)
    return request._project_roles


def project_ids_at_least(request, minimum: Role) -> list[str]:
    return [pid for pid, role in request_roles(request).items() if role >= minimum]


def role_for_project_id(request, project_id) -> Role:
    return request_roles(request).get(project_id, Role.NONE)


class ProjectScopingMixin:
    project_lookup = "project"  # Django lookup path from the model to its Project
    # JSON typed into the admin is held to the same bounds as the API's (evalsite/json_values.py).
    formfield_overrides = {models.JSONField: {"form_class": JSONFormField}}
    view_role = Role.VIEWER
    change_role = Role.MEMBER
    delete_role: Role | None = None  # defaults to change_role

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        overridden = [name for name in SEALED_ADMIN_METHODS if name in cls.__dict__]
        if overridden:
            raise TypeError(f"{cls.__name__} overrides {', '.join(overridden)}; use scoped_queryset() instead")

    def scoped_queryset(self, request, queryset):
        """Hook: adjust the queryset (annotations, prefetches) after scoping."""
        return queryset

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if not request.user.is_superuser:
            allowed = project_ids_at_least(request, self.view_role)
            queryset = queryset.filter(**{f"{self.project_lookup}__in": allowed})
        return self.scoped_queryset(request, queryset)

    def project_id_of(self, obj) -> str | None:
        if self.project_lookup == "pk":
            return obj.pk
        target = obj
        for part in self.project_lookup.split("__"):
            target = getattr(target, part, None)
            if target is None:
                return None
        return target.pk

    def _allowed(self, request, obj, minimum: Role) -> bool:
        if request.user.is_superuser:
            return True
        if obj is None:
            return bool(project_ids_at_least(request, minimum))
        return role_for_project_id(request, self.project_id_of(obj)) >= minimum

    def has_module_permission(self, request) -> bool:
        return request.user.is_active and request.user.is_staff and self._allowed(request, None, self.view_role)

    def has_view_permission(self, request, obj=None) -> bool:
        return self._allowed(request, obj, self.view_role)

    def has_change_permission(self, request, obj=None) -> bool:
        return self._allowed(request, obj, self.change_role)

    def has_add_permission(self, request, *args) -> bool:
        return self._allowed(request, None, self.change_role)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self._allowed(request, obj, self.delete_role or self.change_role)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.related_model is Project and not request.user.is_superuser:
            kwargs["queryset"] = Project.objects.filter(id__in=project_ids_at_least(request, self.change_role))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def check_project_write(self, request, obj) -> None:
        """Defence in depth for saves: the target project must allow the change role."""
        if not request.user.is_superuser and role_for_project_id(request, self.project_id_of(obj)) < self.change_role:
            raise PermissionDenied("Your role in this project does not allow this change")


class ProjectScopedAdmin(ProjectScopingMixin, admin.ModelAdmin):
    def save_model(self, request, obj, form, change):
        self.check_project_write(request, obj)
        super().save_model(request, obj, form, change)


class ProjectScopedInline(ProjectScopingMixin, admin.TabularInline):
    extra = 0
