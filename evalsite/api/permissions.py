from rest_framework.permissions import BasePermission

from evalsite.tenancy.models import ApiKey


class HasProjectRole(BasePermission):
    """The key's role must reach what the view declares for this request (`view.required_role()`)."""

    message = "This API key's role does not allow this operation"

    def has_permission(self, request, view) -> bool:
        if not isinstance(request.auth, ApiKey):
            return False
        return request.auth.role >= view.required_role()
