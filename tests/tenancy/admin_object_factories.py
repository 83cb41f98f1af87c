from evalsite.tenancy.actors import Actor
from evalsite.tenancy.models import (
    ApiKey,
    AuditLog,
    Organization,
    OrganizationMembership,
    Project,
    ProjectMembership,
)
from evalsite.tenancy.roles import Role
from evalsite.tenancy.services import audit_log_record
from tests.tenancy.factories import (
    OrganizationMembershipFactory,
    ProjectMembershipFactory,
    api_key_for,
)


def make_audit_log(project):
    return audit_log_record(actor=Actor(), action="test.action", obj=project, organization=project.organization, project=project)


FACTORIES = {
    Organization: lambda project: project.organization,
    Project: lambda project: project,
    OrganizationMembership: lambda project: OrganizationMembershipFactory(organization=project.organization),
    ProjectMembership: lambda project: ProjectMembershipFactory(project=project, role=Role.VIEWER),
    ApiKey: lambda project: api_key_for(project).api_key,
    AuditLog: make_audit_log,
}
