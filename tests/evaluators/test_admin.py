"""The evaluator admin: the version diff, pausing, retrying failed jobs, budgets and spend."""

import pytest
from django.urls import reverse

from evalsite.tenancy.roles import Role
from evaluators.models import EvaluationJob, Evaluator
from tests.evaluators.admin_object_factories import make_evaluator, make_job
from tests.tenancy.factories import user_with_role

pytestmark = pytest.mark.django_db


def test_the_evaluator_page_shows_the_diff_of_its_two_latest_versions(client, project):
    evaluator = make_evaluator(project)
    client.force_login(user_with_role(project, Role.MEMBER))
    page = client.get(reverse("admin:evaluators_evaluator_change", args=[evaluator.pk]))
    assert page.status_code == 200
    assert b"-    &quot;type&quot;: &quot;exact_match&quot;" in page.content
    assert b"+    &quot;type&quot;: &quot;regex&quot;" in page.content and b"+++ v2" in page.content


def test_a_member_pauses_an_evaluator_and_retries_failed_jobs(client, project, django_capture_on_commit_callbacks):
    job = make_job(project)
    EvaluationJob.objects.filter(pk=job.pk).update(status="failed", error="provider down")
    client.force_login(user_with_role(project, Role.MEMBER))

    response = client.post(
        reverse("admin:evaluators_evaluator_changelist"), {"action": "pause", "_selected_action": [job.evaluator_id]}
    )
    assert response.status_code == 302
    assert Evaluator.objects.get(pk=job.evaluator_id).status == "paused"

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("admin:evaluators_evaluationjob_changelist"), {"action": "retry", "_selected_action": [job.pk]})
    job.refresh_from_db()
    # Queued again, then executed: the evaluator is paused now, so the job is skipped with that reason.
    assert (job.status, job.skip_reason) == ("skipped", "paused")


def test_a_viewer_cannot_retry_jobs(client, project):
    job = make_job(project)
    EvaluationJob.objects.filter(pk=job.pk).update(status="failed")
    client.force_login(user_with_role(project, Role.VIEWER))
    client.post(reverse("admin:evaluators_evaluationjob_changelist"), {"action": "retry", "_selected_action": [job.pk]})
    job.refresh_from_db()
    assert job.status == "failed"
