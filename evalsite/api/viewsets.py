"""The one way an API view reaches project data.

`ProjectScopedViewSet` takes the project from the API key, checks the key's role against what the
view declares, and scopes every queryset to that project. Subclasses customise through hooks
(`queryset`, `base_queryset()`, `project_lookup`, `required_roles`) and may not override the methods
that enforce scoping: the class refuses to be defined if they try. Objects of another project are
simply not in the queryset, so "missing" and "not yours" are the same 404.
"""

from django.db.models import Model, QuerySet
from rest_framework import viewsets
from rest_framework.exceptions import NotFound

from evalsite.api.authentication import ApiKeyAuthentication
from evalsite.api.permissions import HasProjectRole
from evalsite.tenancy.models import Project
from evalsite.tenancy.roles import Role

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
SEALED_METHODS = ("get_queryset", "get_object", "get_permissions", "get_authenticators", "initial", "check_permissions")


class ProjectScopedViewSet(viewsets.GenericViewSet):
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [HasProjectRole]

    # Path from the model to its project's primary key.
    project_lookup = "project_id"
    # Role needed per action name ("list", "create", a custom @action …) or per HTTP method.
    # Unlisted reads need VIEWER and unlisted writes MEMBER.
    required_roles: dict[str, Role] = {}
    # Services raise ValidationErrors keyed by their argument names (`input_schema`); the error
    # handler renames those keys to the wire's field names listed here (`inputSchema`).
    wire_field_names: dict[str, str] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        overridden = [name for name in SEALED_METHODS if name in cls.__dict__]
        if overridden:
            raise TypeError(
                f"{cls.__name__} overrides {', '.join(overridden)}: project scoping is enforced by "
                "ProjectScopedViewSet; customise through base_queryset(), project_lookup or required_roles"
            )

    @property
    def project(self) -> Project:
        return self.request.auth.project

    def required_role(self) -> Role:
        action = getattr(self, "action", None)
        if action in self.required_roles:
            return self.required_roles[action]
        if self.request.method in self.required_roles:
            return self.required_roles[self.request.method]
        return Role.VIEWER if self.request.method in SAFE_METHODS else Role.MEMBER

    def base_queryset(self) -> QuerySet:
        """Hook: the unscoped queryset (add select_related, annotations…). Scoping is applied after."""
        return self.queryset.all()

    def get_queryset(self) -> QuerySet:
        return self.base_queryset().filter(**{self.project_lookup: self.project.pk})

    def get_object(self) -> Model:
        lookup_url_kwarg = self.lookup_url_kwarg or self.lookup_field
        value = self.kwargs[lookup_url_kwarg]
        obj = self.filter_queryset(self.get_queryset()).filter(**{self.lookup_field: value}).first()
        if obj is None:
            raise NotFound(f"{self.get_queryset().model._meta.verbose_name.capitalize()} not found: {value}")
        self.check_object_permissions(self.request, obj)
        return obj
