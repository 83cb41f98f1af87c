"""The score analytics page renders its summary, matrix and calibration from the same selectors."""

import json

import pytest

from evalsite.tenancy.roles import Role
from tests.dashboards.test_score_analytics import START, judged  # noqa: F401 (fixture)
from tests.tenancy.factories import user_with_role

pytestmark = pytest.mark.django_db


def test_the_page_shows_a_summary_a_matrix_and_a_calibration(client, project, judged):  # noqa: F811
    client.force_login(user_with_role(project, Role.VIEWER, staff=False))
    annotation = json.dumps({"name": "quality", "source": "ANNOTATION", "evaluatorVersion": None})
    judge = json.dumps({"name": "quality", "source": "EVAL", "evaluatorVersion": None})
    response = client.get(
        f"/projects/{project.pk}/analytics/scores",
        {
            "from": START.date().isoformat(),
            "to": "2025-06-01",
            "s": [annotation, judge],
            "judge": judge,
            "gold": annotation,
            "metric": "accuracy",
            "threshold": "0.7",
        },
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "quality · ANNOTATION" in html and "Agreement on the same objects" in html
    charts = {chart["id"]: chart for chart in response.context["charts"]}
    assert set(charts) == {"distribution", "trend", "breakdown", "matrix", "calibration"}
    assert charts["matrix"]["z"][0][1] == pytest.approx(response.context["comparison"]["pairs"][0]["kappa"])
    assert any("x" in line["symbols"] for line in charts["calibration"]["series"])
    assert charts["calibration"]["shapes"][0]["y0"] == 0.7


def test_without_scores_the_page_says_so(client, project):
    client.force_login(user_with_role(project, Role.VIEWER, staff=False))
    response = client.get(f"/projects/{project.pk}/analytics/scores")
    assert response.status_code == 200 and "No scores in this range." in response.content.decode()
