"""Repo invariant: in the admin, a staff user of project A never sees an object of project B."""

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import RequestFactory
from django.urls import reverse

from evalsite.tenancy.roles import Role
from tests.support.admin_objects import all_factories
from tests.tenancy.factories import user_with_role

pytestmark = pytest.mark.django_db

# Admin pages that are not project data. Django's own permission system guards them and only
# superusers hold those permissions here, so a tenant's staff user never sees them. django-axes'
# sign-in failures (per client address) are the instance's, like django_q's tasks.
NOT_PROJECT_DATA = {get_user_model(), Group}
INSTANCE_APPS = {"django_q", "axes"}


def registered_models():
    return [
        model
        for model in admin.site._registry
        if model not in NOT_PROJECT_DATA and model._meta.app_label not in INSTANCE_APPS
    ]


def instance_models():
    return [*NOT_PROJECT_DATA, *(model for model in admin.site._registry if model._meta.app_label == "axes")]


def request_as(user):
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def test_every_registered_project_model_has_an_admin_factory():
    factories = all_factories()
    missing = [model.__name__ for model in registered_models() if model not in factories]
    assert missing == [], f"add an admin_object_factories entry for: {missing}"


@pytest.mark.parametrize("model", registered_models(), ids=lambda m: m.__name__)
def test_staff_of_project_a_sees_no_object_of_project_b(model, project, victim_project, client):
    make = all_factories()[model]
    mine, theirs = make(project), make(victim_project)
    # The owner of A's organization: the widest role a tenant can hold.
    user = user_with_role(project, Role.OWNER)
    model_admin = admin.site._registry[model]
    visible = set(model_admin.get_queryset(request_as(user)).values_list("pk", flat=True))
    assert theirs.pk not in visible
    assert mine.pk in visible or not model_admin.has_view_permission(request_as(user), mine)

    client.force_login(user)
    opts = model._meta
    change_url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[theirs.pk])
    response = client.get(change_url)
    assert response.status_code in (302, 403, 404)
    assert str(theirs.pk) not in response.content.decode()


@pytest.mark.parametrize("model", instance_models(), ids=lambda m: m.__name__)
def test_tenant_staff_cannot_open_the_user_and_group_admin(model, project, client):
    client.force_login(user_with_role(project, Role.OWNER))
    opts = model._meta
    assert client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")).status_code == 403
