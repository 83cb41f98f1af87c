"""Every admin page opens without a server error, for every role and for a superuser.

Built from the admin site's registry: a new ModelAdmin is covered as soon as it is registered (its
project-owned objects come from the `admin_object_factories` registry, which
test_admin_scoping.py already requires). For each model: the changelist, the add page, and for one
object its change, history and delete pages and each custom view of the ModelAdmin's `get_urls()`
(import, export, compare…). A page may refuse (302, 403, 404); it may never answer 5xx.
"""

import re

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django_q.models import Failure, OrmQ, Schedule, Success

from evalsite.tenancy.models import ProjectMembership
from evalsite.tenancy.roles import Role
from tests.support.admin_objects import all_factories
from tests.support.routes import all_routes
from tests.tenancy.factories import UserFactory, user_with_role

pytestmark = pytest.mark.django_db

ROLES = [Role.VIEWER, Role.ANNOTATOR, Role.MEMBER, Role.ADMIN, Role.OWNER]
STANDARD_VIEWS = ("changelist", "add", "history", "delete", "change")


def _task(success: bool):
    now = timezone.now()
    return Success.objects.create(
        id=("a" if success else "b") * 32, name=f"task-{success}", func="math.floor", started=now, stopped=now,
        success=success,
    )


# Admin pages of rows that belong to no project (only superusers may open them).
OTHER_OBJECTS = {
    get_user_model(): lambda project: UserFactory(),
    Group: lambda project: Group.objects.create(name="reviewers"),
    Schedule: lambda project: Schedule.objects.create(name="nightly", func="math.floor"),
    Success: lambda project: _task(True),
    Failure: lambda project: Failure.objects.get(pk=_task(False).pk),
    OrmQ: lambda project: OrmQ.objects.create(key="evalsite", payload="x", lock=timezone.now()),
    # django-axes' records of sign-ins (rate limits on failed ones).
    AccessAttempt: lambda project: AccessAttempt.objects.create(
        username="someone", ip_address="127.0.0.1", user_agent="test", http_accept="*/*", path_info="/admin/login/",
        get_data="", post_data="", failures_since_start=1,
    ),
    AccessLog: lambda project: AccessLog.objects.create(
        username="someone", ip_address="127.0.0.1", user_agent="test", http_accept="*/*", path_info="/admin/login/",
    ),
    AccessFailureLog: lambda project: AccessFailureLog.objects.create(
        username="someone", ip_address="127.0.0.1", user_agent="test", http_accept="*/*", path_info="/admin/login/",
    ),
}


def registered_models():
    return list(admin.site._registry)


def test_every_registered_model_has_an_object_to_open():
    factories = {**all_factories(), **OTHER_OBJECTS}
    missing = [model.__name__ for model in registered_models() if model not in factories]
    assert missing == [], f"add an admin_object_factories entry (or OTHER_OBJECTS) for: {missing}"


def admin_urls(model, obj) -> list[str]:
    model_admin = admin.site._registry[model]
    opts = model._meta
    prefix = f"admin:{opts.app_label}_{opts.model_name}"
    urls = [reverse(f"{prefix}_changelist"), reverse(f"{prefix}_add")]
    urls += [reverse(f"{prefix}_{view}", args=[obj.pk]) for view in ("change", "history", "delete")]
    standard = {f"{opts.app_label}_{opts.model_name}_{view}" for view in STANDARD_VIEWS}
    for pattern in model_admin.get_urls():
        if pattern.name and pattern.name not in standard:
            urls.append(_custom_url(pattern, obj))
    return urls


def _custom_url(pattern, obj) -> str:
    """A custom view's URL for `obj`: its `object_id` is the object; another integer argument is
    the object's own number where it has one (a prompt's version), else 1."""
    kwargs = {}
    for name, converter in pattern.pattern.converters.items():
        if name == "object_id":
            kwargs[name] = obj.pk
        elif type(converter).__name__ == "IntConverter":
            kwargs[name] = getattr(obj, "version", None) or 1
        else:
            kwargs[name] = str(obj.pk)
    try:
        return reverse(f"admin:{pattern.name}", kwargs=kwargs)
    except NoReverseMatch as error:
        raise AssertionError(f"teach _custom_url how to fill {pattern.pattern}") from error


def staff_with_project_role(project, role: Role):
    """A staff user holding `role` in the project (as a project role) and in its organization."""
    user = user_with_role(project, role)
    ProjectMembership.objects.create(project=project, user=user, role=role)
    return user


def server_error(response) -> str | None:
    if response.status_code < 500:
        return None
    exc_info = getattr(response, "exc_info", None)
    return f"{response.status_code} {exc_info[1]!r}" if exc_info else str(response.status_code)


def user_for(who: str, project):
    if who == "superuser":
        return UserFactory(is_staff=True, is_superuser=True)
    return staff_with_project_role(project, Role[who])


WHO = ["superuser", *(role.name for role in ROLES)]


@pytest.mark.parametrize("who", WHO)
def test_no_admin_page_is_a_server_error_for_any_role(client, project, who):
    make = {**all_factories(), **OTHER_OBJECTS}
    urls = [url for model in registered_models() for url in admin_urls(model, make[model](project))]
    app_labels = sorted({model._meta.app_label for model in registered_models()})
    urls += [reverse("admin:index"), *(reverse("admin:app_list", args=[label]) for label in app_labels)]
    client.force_login(user_for(who, project))
    client.raise_request_exception = False  # collect every failure, not only the first
    failures = []
    for url in urls:
        error = server_error(client.get(url))
        if error:
            failures.append(f"GET {url} -> {error}")
    assert failures == []


def test_a_nul_in_any_admin_or_page_url_is_a_400(client, project):
    """PostgreSQL refuses NUL in text parameters: every lookup by such an id was a 500."""
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    urls = []
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        prefix = f"admin:{opts.app_label}_{opts.model_name}"
        urls += [reverse(f"{prefix}_change", args=["a\x00"]), reverse(f"{prefix}_changelist") + "?project__id__exact=%00"]
        standard = {f"{opts.app_label}_{opts.model_name}_{view}" for view in STANDARD_VIEWS}
        urls += [_custom_url(p, Group(pk="a\x00")) for p in model_admin.get_urls() if p.name and p.name not in standard]
    pages = [route.pattern.removeprefix("projects/<str:project_id>/") for route in all_routes() if route.pattern.startswith("projects/")]
    urls += [f"/projects/{project.pk}/" + re.sub(r"<(?:\w+:)?\w+>", "%00", page) for page in pages if "<" in page]
    urls += [f"/projects/{project.pk}/experiments/compare?runs=%00", "/projects/%00/experiments/compare"]
    client.raise_request_exception = False
    answers = {url: client.get(url).status_code for url in urls}
    assert {url: status for url, status in answers.items() if status != 400} == {}


def test_a_nul_or_lone_surrogate_typed_into_an_admin_json_field_is_stored_by_the_text_rule():
    from evalsite.json_values import JSONFormField

    field = JSONFormField()
    assert field.clean('{"a\\u0000": "x\\u0000y", "b": "\\ud800"}') == {"a": "xy", "b": "\ufffd"}
