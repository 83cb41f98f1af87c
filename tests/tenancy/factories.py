import factory
from django.contrib.auth import get_user_model

from evalsite.tenancy.models import Organization, OrganizationMembership, Project, ProjectMembership
from evalsite.tenancy.roles import Role
from evalsite.tenancy.services import api_key_create


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Organization {n}")


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Project {n}")


class UserFactory(factory.django.DjangoModelFactory):
    """A plain user: not staff, not superuser (a superuser default would hide permission bugs)."""

    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "pw-for-tests")

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class OrganizationMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrganizationMembership

    organization = factory.SubFactory(OrganizationFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.MEMBER


class ProjectMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProjectMembership

    project = factory.SubFactory(ProjectFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.MEMBER


def user_with_role(project: Project, role: Role, *, staff: bool = True, **user_fields):
    """A user whose organization role in `project`'s organization is `role`."""
    user = UserFactory(is_staff=staff, **user_fields)
    OrganizationMembershipFactory(organization=project.organization, user=user, role=role)
    return user


def api_key_for(project: Project, role: Role = Role.ADMIN):
    return api_key_create(project=project, role=role, note=f"test {Role(role).name}")
