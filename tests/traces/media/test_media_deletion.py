"""Media goes with its traces (the reference; the content with its last reference) and its project."""

import pytest
from django.urls import reverse

from evalsite.tenancy.actors import SYSTEM
from evalsite.tenancy.models import Project
from evalsite.tenancy.roles import Role
from evalsite.tenancy.services import project_delete
from tests.support.api import ApiClient
from tests.tenancy.factories import ProjectFactory, UserFactory, api_key_for, user_with_role
from tests.traces.factories import TraceFactory
from tests.traces.media.factories import PDF, png, stored_media
from traces.media.models import Media, MediaReference
from traces.services import traces_delete

pytestmark = pytest.mark.django_db(transaction=True)  # stored objects are deleted after the commit


def files(root):
    return sorted(path for path in root.rglob("*") if path.is_file())


def test_deleting_a_trace_deletes_its_references_and_the_content_no_other_trace_uses(project, media_root):
    shared, own = png(), PDF
    for trace_id in ("trace-1", "trace-2"):
        TraceFactory(project=project, trace_id=trace_id)
        stored_media(project, shared, trace_id=trace_id)
    own_media = stored_media(project, own, "application/pdf", trace_id="trace-1", observation_id="obs-1", field="output")
    assert len(files(media_root)) == 2

    traces_delete(project=project, trace_ids=["trace-1"])

    assert not MediaReference.objects.filter(project=project, trace_id="trace-1").exists()
    assert not Media.objects.filter(pk=own_media.pk).exists()
    kept = Media.objects.get(project=project)
    assert files(media_root) == [media_root / kept.storage_key]

    ApiClient(api_key_for(project)).delete("traces/trace-2")
    assert not Media.objects.filter(project=project).exists() and files(media_root) == []


def test_deleting_a_trace_leaves_the_same_bytes_of_another_project_alone(project, victim_project, media_root):
    image = png()
    stored_media(project, image, trace_id="t")
    victim = stored_media(victim_project, image, trace_id="t")
    traces_delete(project=project, trace_ids=["t"])
    assert files(media_root) == [media_root / victim.storage_key]
    assert Media.objects.filter(project=victim_project).exists()


def test_deleting_a_project_deletes_its_stored_media(project, victim_project, media_root):
    stored_media(project, png(), trace_id="t")
    stored_media(project, PDF, "application/pdf", trace_id="u")
    victim = stored_media(victim_project, png(), trace_id="t")
    project_delete(project=project, actor=SYSTEM)
    assert files(media_root) == [media_root / victim.storage_key]


def test_a_rolled_back_trace_deletion_keeps_the_stored_bytes(project, media_root):
    from django.db import transaction

    media = stored_media(project, png(), trace_id="t")
    with pytest.raises(RuntimeError), transaction.atomic():
        traces_delete(project=project, trace_ids=["t"])
        raise RuntimeError("rolled back")
    assert files(media_root) == [media_root / media.storage_key]
    assert Media.objects.filter(pk=media.pk).exists()


def admin_url(name, *args):
    return reverse(f"admin:evalsite_{name}", args=args)


def test_deleting_a_project_in_the_admin_deletes_its_stored_media(client, project, victim_project, media_root):
    stored_media(project, png(), trace_id="t")
    victim = stored_media(victim_project, png(), trace_id="t")
    client.force_login(user_with_role(project, Role.OWNER))

    response = client.post(admin_url("project_delete", project.pk), {"post": "yes"})

    assert response.status_code == 302 and not Project.objects.filter(pk=project.pk).exists()
    assert files(media_root) == [media_root / victim.storage_key]


def test_deleting_an_organization_in_the_admin_deletes_the_media_of_each_of_its_projects(client, project, victim_project, media_root):
    second = ProjectFactory(organization=project.organization)
    stored_media(project, png(), trace_id="t")
    stored_media(second, PDF, "application/pdf", trace_id="u")
    victim = stored_media(victim_project, png(), trace_id="t")
    # A superuser: for anyone else the admin keeps an organization's last OWNER membership, so
    # refuses deleting the organization (the membership rules, evalsite/tenancy/services.py).
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    response = client.post(admin_url("organization_delete", project.organization_id), {"post": "yes"})

    assert response.status_code == 302
    assert not Project.objects.filter(pk__in=[project.pk, second.pk]).exists()
    assert files(media_root) == [media_root / victim.storage_key]
    assert Media.objects.filter(project=victim_project).count() == 1
