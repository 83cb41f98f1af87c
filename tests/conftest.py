import pytest

from evalsite.tenancy.roles import Role
from tests.support.api import ApiClient
from tests.tenancy.factories import ProjectFactory, api_key_for

KEY_ROLES = [Role.VIEWER, Role.ANNOTATOR, Role.MEMBER, Role.ADMIN]


@pytest.fixture
def project(db):
    return ProjectFactory(name="Project A")


@pytest.fixture
def victim_project(db):
    """Another organization's project: nothing of it may ever be visible from `project`."""
    return ProjectFactory(name="Victim project")


@pytest.fixture
def api(project) -> ApiClient:
    """A client with an ADMIN key of `project` (the default role of a new key)."""
    return ApiClient(api_key_for(project, Role.ADMIN))


@pytest.fixture
def victim_api(victim_project) -> ApiClient:
    return ApiClient(api_key_for(victim_project, Role.ADMIN))


@pytest.fixture
def api_by_role(project) -> dict[Role, ApiClient]:
    return {role: ApiClient(api_key_for(project, role)) for role in KEY_ROLES}
