"""The comparison page /projects/<id>/experiments/compare and its JSON twin /experiments/compare."""

from urllib.parse import urlencode

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from scipy import stats

from evalsite.tenancy.roles import Role
from experiments.comparison import format_p
from experiments.models import RunSource
from tests.experiments.factories import ExperimentRunFactory, scored_runs
from tests.experiments.test_comparison import BASE, CAND, CHANGE
from tests.tenancy.factories import user_with_role

pytestmark = pytest.mark.django_db


def page_url(project, **params):
    return reverse("experiment-compare", kwargs={"project_id": project.pk}) + "?" + urlencode(params)


@pytest.fixture
def viewer(client, project):
    client.force_login(user_with_role(project, Role.VIEWER, staff=False))
    return client


@pytest.fixture
def runs(project):
    return scored_runs(project, {"baseline run": BASE, "candidate run": CAND})


def test_the_page_shows_the_significance_of_the_candidate_against_the_baseline(viewer, project, runs):
    base, cand = runs
    response = viewer.get(page_url(project, runs=f"{base.run_id},{cand.run_id}", baseline=base.run_id))
    assert response.status_code == 200
    html = response.content.decode()
    diffs = np.asarray(CAND) - np.asarray(BASE)
    p_value = stats.wilcoxon(diffs[diffs != 0], zero_method="wilcox").pvalue
    assert f"candidate better ({format_p(p_value)})" in html
    assert "Wilcoxon signed-rank" in html and "rank-biserial" in html
    assert "baseline run" in html and "candidate run" in html
    assert "plotly" in html and 'id="chart-data"' in html
    assert "Showing 20 of 20 items" in html
    assert "candidate run says 7" in html  # each run's output in the item table


def test_the_bootstrap_method_and_baseline_picker_change_the_test(viewer, project, runs):
    base, cand = runs
    response = viewer.get(page_url(project, runs=f"{base.run_id},{cand.run_id}", baseline=cand.run_id, method="bootstrap"))
    html = response.content.decode()
    assert "paired bootstrap" in html and "Cohen&#x27;s d_z" in html
    assert "candidate worse (p" in html  # the old run is now the candidate


def test_the_regressed_and_improved_filters_show_only_those_items(viewer, project, runs):
    base, cand = runs
    regressed = [i for i, d in enumerate(CHANGE) if d < 0]
    html = viewer.get(
        page_url(project, runs=f"{base.run_id},{cand.run_id}", baseline=base.run_id, filter="regressed", score="accuracy")
    ).content.decode()
    assert f"Showing {len(regressed)} of 20 items that regressed" in html
    shown = {i for i in range(20) if f"<code>item-{i:03d}</code>" in html}
    assert shown == set(regressed)
    html = viewer.get(page_url(project, runs=f"{base.run_id},{cand.run_id}", filter="improved")).content.decode()
    assert f"Showing {sum(d > 0 for d in CHANGE)} of 20 items that improved" in html


def test_too_few_items_are_flagged_on_the_page(viewer, project):
    base, cand = scored_runs(project, {"a": [0.1, 0.2, 0.3, 0.4], "b": [0.5, 0.6, 0.7, 0.8]})
    html = viewer.get(page_url(project, runs=f"{base.run_id},{cand.run_id}")).content.decode()
    assert "too few items to tell (n=4)" in html


def test_platform_runs_show_status_and_progress(viewer, project):
    run = ExperimentRunFactory(
        project=project, source=RunSource.PLATFORM, status="running", progress_total=10, progress_done=4, progress_failed=1
    )
    html = viewer.get(page_url(project, runs=run.run_id)).content.decode()
    # progress_done counts every finished item, the failed one included.
    assert "running" in html and "width:40%" in html and "4/10 finished · 1 failed" in html


def test_without_runs_the_page_offers_the_projects_runs(viewer, project, victim_project):
    ExperimentRunFactory(project=project, name="pick me")
    ExperimentRunFactory(project=victim_project, name="never shown")
    html = viewer.get(page_url(project)).content.decode()
    assert "pick me" in html and "never shown" not in html


def test_runs_picked_from_the_list_compare_against_the_oldest(viewer, project):
    older, newer = scored_runs(project, {"older": [0.1, 0.2], "newer": [0.3, 0.4]})
    # The picker lists newest first, so the browser sends the newer run first.
    html = viewer.get(page_url(project) + f"&pick={newer.run_id}&pick={older.run_id}").content.decode()
    assert f'<option value="{older.run_id}" selected>older</option>' in html


def test_another_projects_runs_are_404(viewer, project, victim_project):
    mine = ExperimentRunFactory(project=project)
    theirs = ExperimentRunFactory(project=victim_project)
    assert viewer.get(page_url(project, runs=f"{mine.run_id},{theirs.run_id}")).status_code == 404
    assert viewer.get(page_url(victim_project, runs=theirs.run_id)).status_code == 404


def test_bad_parameters_are_a_400_that_names_them(viewer, project, runs):
    ids = ",".join(run.run_id for run in runs)
    response = viewer.get(page_url(project, runs=ids, method="t-test"))
    assert response.status_code == 400 and "method" in response.content.decode()
    response = viewer.get(page_url(project, runs=",".join(f"r{n}" for n in range(6))))
    assert response.status_code == 400 and "at most 5" in response.content.decode()


def test_the_page_takes_the_same_number_of_queries_for_10_and_100_items(viewer, project):
    counts = []
    for items in (10, 100):
        rng = np.random.default_rng(items)
        runs = scored_runs(project, {f"{items} a": list(rng.random(items)), f"{items} b": list(rng.random(items))})
        url = page_url(project, runs=",".join(run.run_id for run in runs))
        with CaptureQueriesContext(connection) as queries:
            assert viewer.get(url).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


def test_the_api_returns_the_same_numbers(api, project, runs):
    base, cand = runs
    response = api.get("experiments/compare", baseline=base.run_id, candidate=cand.run_id)
    assert response.status_code == 200, response.content
    body = response.json()
    diffs = np.asarray(CAND) - np.asarray(BASE)
    (test,) = body["tests"]
    assert test["score"] == "accuracy" and test["candidate"] == cand.run_id and test["method"] == "wilcoxon"
    assert test["pValue"] == pytest.approx(stats.wilcoxon(diffs[diffs != 0], zero_method="wilcox").pvalue)
    assert test["nPairs"] == 20 and test["verdict"].startswith("candidate better")
    assert body["baseline"] == base.run_id and body["candidates"] == [cand.run_id]
    assert body["runs"][0]["scores"]["accuracy"]["mean"] == pytest.approx(np.mean(BASE))
    assert len(body["items"]) == 20
    assert body["items"][0]["deltas"][cand.run_id]["accuracy"] == pytest.approx(CHANGE[0])
    lean = api.get("experiments/compare", baseline=base.run_id, candidate=cand.run_id, includeItems="false").json()
    assert "items" not in lean


def test_the_api_refuses_bad_comparisons(api, project, victim_project, runs):
    base, _ = runs
    theirs = ExperimentRunFactory(project=victim_project)
    assert api.get("experiments/compare", baseline=base.run_id, candidate=theirs.run_id).status_code == 404
    response = api.get("experiments/compare", baseline=base.run_id, candidate=base.run_id)
    assert response.status_code == 400 and "candidate" in response.json()["message"]
    assert api.get("experiments/compare", baseline=base.run_id).status_code == 400
