"""Gates in the admin: saving a policy adds a version through the services (refusals on the field they
name), results are read-only, and runs are marked released by an action of the run admin."""

import json

import pytest
from django.urls import reverse

from evalsite.tenancy.models import AuditLog
from evalsite.tenancy.roles import Role
from experiments.gates.models import GatePolicy, RunRelease
from tests.experiments.admin_object_factories import make_gate_result
from tests.experiments.factories import ExperimentRunFactory, gate_policy
from tests.tenancy.factories import user_with_role

pytestmark = pytest.mark.django_db

RULES = [{"type": "maxErrorRate", "threshold": 0.1}]


def as_role(client, project, role):
    client.force_login(user_with_role(project, role))
    return client


def policy_form(project, **overrides):
    return {
        "project": project.pk,
        "name": "release",
        "description": "",
        "baseline": json.dumps({"kind": "latestReleased"}),
        "method": "wilcoxon",
        "rules": json.dumps(RULES),
        **overrides,
    }


def test_adding_a_policy_in_the_admin_makes_version_1_with_defaults(client, project):
    as_role(client, project, Role.MEMBER)
    response = client.post(reverse("admin:experiments_gatepolicy_add"), policy_form(project))
    assert response.status_code == 302, response.content.decode()[:2000]
    policy = GatePolicy.objects.get(project=project)
    assert policy.version == 1 and policy.rules == [{"type": "maxErrorRate", "threshold": 0.1, "minItems": 1}]
    assert AuditLog.objects.filter(action="gate_policy.create").count() == 1


def test_saving_a_policy_in_the_admin_adds_a_version(client, project):
    policy = gate_policy(project, "release")
    as_role(client, project, Role.MEMBER)
    url = reverse("admin:experiments_gatepolicy_change", args=[policy.pk])
    response = client.post(url, policy_form(project, rules=json.dumps([{"type": "maxErrorRate", "threshold": 0.2}])))
    assert response.status_code == 302
    assert list(GatePolicy.objects.filter(project=project).values_list("version", "rules")) == [
        (2, [{"type": "maxErrorRate", "threshold": 0.2, "minItems": 1}]),
        (1, [{"type": "maxErrorRate", "threshold": 0.1, "minItems": 1}]),
    ]


def test_a_bad_rule_in_the_admin_is_an_error_on_the_rules_field(client, project):
    as_role(client, project, Role.MEMBER)
    form = policy_form(project, rules=json.dumps([{"type": "maxErrorRate", "threshold": 3}]))
    response = client.post(reverse("admin:experiments_gatepolicy_add"), form)
    assert response.status_code == 200
    assert "[0].threshold: must lie between 0 and 1" in response.content.decode()
    assert not GatePolicy.objects.exists()


def test_a_viewer_cannot_add_a_policy(client, project):
    as_role(client, project, Role.VIEWER)
    response = client.post(reverse("admin:experiments_gatepolicy_add"), policy_form(project))
    assert response.status_code == 403 and not GatePolicy.objects.exists()


def test_a_gate_result_opens_read_only(client, project):
    result = make_gate_result(project)
    as_role(client, project, Role.VIEWER)
    html = client.get(reverse("admin:experiments_gateresult_change", args=[result.pk])).content.decode()
    assert "maxErrorRate" in html and result.outcome in html and 'name="_save"' not in html


def test_runs_are_marked_and_unmarked_as_released_by_an_admin_action(client, project, victim_project):
    mine = ExperimentRunFactory(project=project)
    as_role(client, project, Role.MEMBER)
    changelist = reverse("admin:experiments_experimentrun_changelist")
    response = client.post(changelist, {"action": "mark_runs_released", "_selected_action": [mine.pk]})
    assert response.status_code == 302
    assert RunRelease.objects.filter(project=project, run=mine).exists()
    assert AuditLog.objects.filter(action="experiment_run.release", object_id=str(mine.pk)).exists()
    client.post(changelist, {"action": "unmark_runs_released", "_selected_action": [mine.pk]})
    assert not RunRelease.objects.exists()
    # Another project's run is not in the queryset: the action never reaches it.
    theirs = ExperimentRunFactory(project=victim_project)
    client.post(changelist, {"action": "mark_runs_released", "_selected_action": [theirs.pk]})
    assert not RunRelease.objects.exists()


def test_a_viewer_is_not_offered_the_release_actions(client, project):
    run = ExperimentRunFactory(project=project)
    as_role(client, project, Role.VIEWER)
    changelist = reverse("admin:experiments_experimentrun_changelist")
    client.post(changelist, {"action": "mark_runs_released", "_selected_action": [run.pk]})
    assert not RunRelease.objects.exists()
