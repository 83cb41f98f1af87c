"""The evaluator API beyond the SDK's calls: checks, run backfill, retry, errors and roles."""

import pytest

from evalsite.tenancy.roles import Role
from evaluators.models import EvaluationJob
from scoring.models import Score
from tests.experiments.factories import ExperimentRunFactory, RunItemFactory

pytestmark = pytest.mark.django_db


def create_check(api, check=None, name="exact"):
    response = api.post("v2/evaluators", {"type": "check", "name": name, "check": check or {"type": "exact_match"}})
    assert response.status_code == 200, response.json()
    return response.json()


def test_a_check_is_created_listed_with_type_check_and_left_out_of_the_default_list(api):
    check = create_check(api, {"type": "regex", "pattern": "^ok"})
    assert check["type"] == "check" and check["check"]["pattern"] == "^ok"
    assert check["outputDefinition"] == {"dataType": "BOOLEAN"}
    assert api.get("v2/evaluators").json()["data"] == []
    assert [e["id"] for e in api.get("v2/evaluators", type="check").json()["data"]] == [check["id"]]


def test_code_evaluators_are_refused_naming_the_declarative_checks(api):
    response = api.post("v2/evaluators", {"type": "code", "name": "py", "sourceCode": "1", "sourceCodeLanguage": "PYTHON"})
    body = response.json()
    assert response.status_code == 400 and body["code"] == "invalid_body"
    assert "regex" in body["message"] and "json_schema" in body["message"]
    assert body["details"]["issues"][0]["path"] == ["type"]


def test_a_bad_field_is_a_400_issue_with_its_wire_path(api):
    response = api.post("v2/evaluators", {"name": "x", "prompt": "{{output}}", "outputDefinition": {"dataType": "NUMERIC", "minValue": 3, "maxValue": 1}})
    assert response.status_code == 400
    assert response.json()["details"]["issues"][0]["path"] == ["outputDefinition"]
    response = api.post("v2/evaluation-rules", {"name": "r", "enabled": True, "evaluatorAssignments": [], "sampling": None})
    assert response.status_code == 400 and response.json()["details"]["issues"][0]["path"] == ["sampling"]


def test_a_run_is_evaluated_afterwards_and_a_second_backfill_skips_what_is_scored(api, project, django_capture_on_commit_callbacks):
    check = create_check(api)
    run = ExperimentRunFactory(project=project)
    for index in range(2):
        RunItemFactory(run=run, output=f"a{index}", expected_output="a0")
    body = {"evaluators": [{"evaluatorId": check["id"]}]}

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"experiments/runs/{run.run_id}/evaluations", body)
    assert response.status_code == 202
    assert response.json()["jobsCreated"] == 2 and response.json()["items"] == 2
    assert sorted(Score.objects.filter(project=project, name="exact").values_list("value", flat=True)) == [0.0, 1.0]

    again = api.post(f"experiments/runs/{run.run_id}/evaluations", body).json()
    assert again["jobsCreated"] == 0 and again["evaluators"][0]["alreadyEvaluated"] == 2


def test_a_failed_job_is_retried_through_the_api(api, project, django_capture_on_commit_callbacks):
    check = create_check(api)
    run = ExperimentRunFactory(project=project)
    RunItemFactory(run=run, output="a", expected_output="a")
    api.post(f"experiments/runs/{run.run_id}/evaluations", {"evaluators": [{"evaluatorId": check["id"]}]})
    job = EvaluationJob.objects.get(project=project)
    EvaluationJob.objects.filter(pk=job.pk).update(status="failed", error="provider down")

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"evaluation-jobs/{job.pk}/retry")
    assert response.status_code == 200
    job.refresh_from_db()
    assert job.status == "completed" and job.error is None
    assert api.post(f"evaluation-jobs/{job.pk}/retry").status_code == 409


def test_a_viewer_reads_but_cannot_create(api_by_role):
    viewer = api_by_role[Role.VIEWER]
    assert viewer.get("v2/evaluators").status_code == 200
    response = viewer.post("v2/evaluators", {"type": "check", "name": "x", "check": {"type": "valid_json"}})
    assert response.status_code == 403 and response.json()["code"] == "access_denied"
