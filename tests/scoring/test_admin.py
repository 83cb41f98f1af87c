"""Score configs in the admin (validated and saved through the services) and the read-only score list."""

import pytest
from django.urls import reverse

from evalsite.tenancy.models import AuditLog
from evalsite.tenancy.roles import Role
from scoring.models import ScoreConfig
from tests.scoring.factories import ScoreConfigFactory, ScoreFactory
from tests.tenancy.factories import user_with_role

pytestmark = pytest.mark.django_db

ADD_URL = reverse("admin:scoring_scoreconfig_add")


def config_form(project, **fields):
    return {
        "project": project.pk, "name": "quality", "data_type": "NUMERIC", "min_value": "", "max_value": "",
        "categories": "null", "description": "", **fields,
    }


@pytest.fixture
def member(client, project):
    client.force_login(user_with_role(project, Role.MEMBER))
    return client


def test_a_member_creates_a_boolean_config_and_gets_the_fixed_categories(member, project):
    response = member.post(ADD_URL, config_form(project, name="correct", data_type="BOOLEAN"))
    assert response.status_code == 302, response.content.decode()[:2000]
    config = ScoreConfig.objects.get(project=project)
    assert config.categories == [{"value": 1.0, "label": "True"}, {"value": 0.0, "label": "False"}]
    assert AuditLog.objects.filter(project=project, action="score_config.create").exists()
    assert response["Location"].endswith(reverse("admin:scoring_scoreconfig_changelist"))


@pytest.mark.parametrize(
    "fields,message",
    [
        ({"name": "bad/name"}, "may contain only letters"),
        ({"min_value": "5", "max_value": "1"}, "must not be greater than maxValue"),
        ({"data_type": "CATEGORICAL"}, "needs at least one"),
        ({"categories": '[{"value": 1, "label": "x"}]'}, "CATEGORICAL configs only"),
    ],
)
def test_the_admin_form_applies_the_service_rules(member, project, fields, message):
    response = member.post(ADD_URL, config_form(project, **fields))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not ScoreConfig.objects.exists()


def test_editing_a_config_goes_through_the_update_service(member, project):
    config = ScoreConfigFactory(project=project, name="quality", min_value=0, max_value=1)
    url = reverse("admin:scoring_scoreconfig_change", args=[config.pk])
    page = member.get(url)
    assert page.status_code == 200 and 'name="is_archived"' in page.content.decode()
    response = member.post(url, config_form(project, name="quality v2", max_value="3", is_archived="on"))
    assert response.status_code == 302
    config.refresh_from_db()
    assert (config.name, config.max_value, config.is_archived) == ("quality v2", 3.0, True)
    assert AuditLog.objects.filter(project=project, action="score_config.update").exists()


def test_a_new_config_form_offers_no_archive_box(member):
    assert 'name="is_archived"' not in member.get(ADD_URL).content.decode()


def test_archive_and_unarchive_actions(member, project):
    configs = [ScoreConfigFactory(project=project) for _ in range(2)]
    url = reverse("admin:scoring_scoreconfig_changelist")
    member.post(url, {"action": "archive", "_selected_action": [c.pk for c in configs]})
    assert ScoreConfig.objects.filter(is_archived=True).count() == 2
    member.post(url, {"action": "unarchive", "_selected_action": [configs[0].pk]})
    assert list(ScoreConfig.objects.filter(is_archived=False)) == [configs[0]]


def test_a_viewer_cannot_add_or_archive_configs(client, project):
    config = ScoreConfigFactory(project=project)
    client.force_login(user_with_role(project, Role.VIEWER))
    assert client.get(ADD_URL).status_code == 403
    client.post(reverse("admin:scoring_scoreconfig_changelist"), {"action": "archive", "_selected_action": [config.pk]})
    config.refresh_from_db()
    assert not config.is_archived


def test_configs_cannot_be_deleted_in_the_admin(member, project):
    config = ScoreConfigFactory(project=project)
    assert member.get(reverse("admin:scoring_scoreconfig_delete", args=[config.pk])).status_code == 403


def test_scores_are_listed_with_filters_and_are_read_only(member, project):
    ScoreFactory(project=project, name="tone", string_value="good", data_type="CATEGORICAL", value=None)
    score = ScoreFactory(project=project, name="accuracy", value=0.75)
    url = reverse("admin:scoring_score_changelist")
    page = member.get(url)
    assert page.status_code == 200
    content = page.content.decode()
    assert "good" in content and "0.75" in content
    for query in ({"source__exact": "API"}, {"data_type__exact": "CATEGORICAL"}, {"name": "tone"}):
        filtered = member.get(url, query)
        assert filtered.status_code == 200
    assert "0.75" not in member.get(url, {"data_type__exact": "CATEGORICAL"}).content.decode()
    assert member.get(reverse("admin:scoring_score_add")).status_code == 403
    change = member.get(reverse("admin:scoring_score_change", args=[score.pk]))
    assert change.status_code == 200 and 'type="submit" value="Save"' not in change.content.decode()


def test_a_viewer_sees_a_score_config_read_only(client, project):
    config = ScoreConfigFactory(project=project, name="helpfulness", data_type="CATEGORICAL")
    client.force_login(user_with_role(project, Role.VIEWER))
    response = client.get(reverse("admin:scoring_scoreconfig_change", args=[config.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert "helpfulness" in page and "Categorical" in page
    assert 'name="data_type"' not in page and 'name="name"' not in page
