# The platform core is one Django app ("evalsite"); its models live in sub-packages by role.
from evalsite.llm.models import LlmConnection, ModelPrice  # noqa: F401
from evalsite.tenancy.models import (  # noqa: F401
    ApiKey,
    AuditLog,
    Organization,
    OrganizationMembership,
    Project,
    ProjectMembership,
)
