"""The gate API: policies (create, list, get, patch = new version, delete), evaluation, released runs,
refusals that name the field, roles, and tenancy (a gate never reads another project's runs)."""

import pytest

from evalsite.tenancy.models import AuditLog
from evalsite.tenancy.roles import Role
from experiments.gates.models import GatePolicy, GateResult
from tests.datasets.factories import DatasetFactory
from tests.experiments.factories import ExperimentRunFactory, gate_policy, scored_runs

pytestmark = pytest.mark.django_db

RULES = [
    {"type": "minMean", "score": "accuracy", "threshold": 0.5},
    {"type": "nonInferiority", "score": "accuracy", "delta": 0.1},
    {"type": "maxErrorRate", "threshold": 0.2},
]


def create(api, name="release", **overrides):
    body = {"name": name, "baseline": {"kind": "latestReleased"}, "rules": RULES, **overrides}
    return api.post("gates", body)


def test_a_policy_is_created_with_its_defaults_written_out(api, project):
    response = create(api, description="ship it")
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["name"], data["version"], data["method"], data["description"]) == ("release", 1, "wilcoxon", "ship it")
    assert data["rules"][0] == {"type": "minMean", "score": "accuracy", "threshold": 0.5, "minItems": 1}
    assert data["rules"][1] == {"type": "nonInferiority", "score": "accuracy", "delta": 0.1, "alpha": 0.05, "minPairs": 10}
    assert AuditLog.objects.filter(project=project, action="gate_policy.create").count() == 1


def test_editing_a_policy_adds_a_version_and_keeps_the_old_one(api, project):
    create(api)
    response = api.patch("gates/release", {"rules": RULES[:1], "method": "bootstrap"})
    assert response.status_code == 200, response.content
    assert response.json()["version"] == 2 and response.json()["method"] == "bootstrap"
    assert api.get("gates/release").json()["version"] == 2
    old = api.get("gates/release", version=1).json()
    assert old["version"] == 1 and len(old["rules"]) == 3 and old["method"] == "wilcoxon"
    assert [v["version"] for v in api.get("gates/release/versions").json()["data"]] == [2, 1]
    # A patch that changes nothing adds no version.
    assert api.patch("gates/release", {"method": "bootstrap"}).json()["version"] == 2
    listed = api.get("gates").json()
    assert [(p["name"], p["version"]) for p in listed["data"]] == [("release", 2)]
    assert listed["meta"]["totalItems"] == 1


def test_deleting_a_policy_removes_every_version_but_keeps_its_results(api, project):
    (run,) = scored_runs(project, {"c": [0.9] * 3})
    create(api)
    api.patch("gates/release", {"rules": RULES[:1]})
    assert api.post("gates/release/evaluate", {"candidate": run.run_id}).status_code == 201
    assert api.delete("gates/release").status_code == 204
    assert not GatePolicy.objects.filter(project=project).exists()
    result = GateResult.objects.get(project=project)
    assert result.policy is None and result.policy_document["version"] == 2
    assert api.get("gates/release").status_code == 404
    assert api.delete("gates/release").status_code == 404


def test_a_second_policy_of_the_same_name_is_a_conflict(api):
    create(api)
    response = create(api)
    assert response.status_code == 409 and response.json()["error"] == "ConflictError"


@pytest.mark.parametrize(
    "body,field",
    [
        ({"name": "bad name!"}, "name"),
        ({"baseline": {"kind": "yesterday"}}, "baseline"),
        ({"baseline": {"kind": "run", "run": "no-such-run"}}, "baseline"),
        ({"method": "t-test"}, "method"),
        ({"rules": []}, "rules"),
        ({"rules": [{"type": "maxMood"}]}, "rules"),
        ({"rules": [{"type": "minMean", "score": "accuracy"}]}, "[0].threshold"),
        ({"rules": [{"type": "nonInferiority", "score": "accuracy", "delta": -1}]}, "[0].delta"),
        ({"rules": [{"type": "noRegression", "score": "accuracy", "alpha": 0.7}]}, "[0].alpha"),
        ({"rules": [{"type": "noRegression", "score": "accuracy", "minPairs": 1}]}, "[0].minPairs"),
        ({"rules": [{"type": "maxErrorRate", "threshold": 1.5}]}, "[0].threshold"),
        ({"rules": [{"type": "maxCostPerItem", "threshold": -0.1}]}, "[0].threshold"),
        ({"rules": [{"type": "maxErrorRate", "threshold": 0.1, "alpha": 0.05}]}, "take no alpha"),
        ({"rules": [RULES[0], RULES[0]]}, "[1]: repeats rule [0]"),
        ({"rules": [{"type": "minMean", "score": "accuracy", "threshold": "high"}]}, "threshold"),
    ],
)
def test_bad_policies_are_a_400_naming_the_field(api, body, field):
    response = create(api, **body)
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "InvalidRequestError"
    assert field in response.json()["message"]


def test_a_named_baseline_run_must_exist_in_the_project(api, project, victim_project):
    ExperimentRunFactory(project=victim_project, run_id="theirs", name="theirs")
    assert create(api, baseline={"kind": "run", "run": "theirs"}).status_code == 400
    ExperimentRunFactory(project=project, run_id="mine", name="nightly")
    assert create(api, baseline={"kind": "run", "run": "nightly"}).status_code == 201


def test_a_viewer_key_reads_policies_but_cannot_write_or_evaluate(api_by_role, project):
    gate_policy(project, "release")
    viewer = api_by_role[Role.VIEWER]
    assert viewer.get("gates/release").status_code == 200
    assert create(viewer, "other").status_code == 403
    assert viewer.patch("gates/release", {"method": "bootstrap"}).status_code == 403
    assert viewer.post("gates/release/evaluate", {"candidate": "x"}).status_code == 403
    assert api_by_role[Role.MEMBER].patch("gates/release", {"method": "bootstrap"}).status_code == 200


# --- evaluation and released runs -----------------------------------------------------------------


@pytest.fixture
def dataset_runs(project):
    """Three runs of one dataset, scored on the same ten items: v1 and v2 alike, v3 clearly worse."""
    dataset = DatasetFactory(project=project, name="qa")
    good = [0.8, 0.9, 0.7, 0.85, 0.95, 0.75, 0.8, 0.9, 0.7, 0.85]
    runs = scored_runs(
        project, {"v1": good, "v2": [v + d for v, d in zip(good, [0.01, -0.01] * 5, strict=True)], "v3": [v - 0.4 for v in good]}
    )
    for run in runs:
        run.dataset = dataset
        run.save()
    return runs


def test_evaluate_answers_with_every_rules_figures_and_stores_the_result(api, project, dataset_runs):
    v1, v2, _ = dataset_runs
    create(api)
    assert api.post(f"experiments/runs/{v1.run_id}/release").json()["released"] is True
    response = api.post("gates/release/evaluate", {"candidate": "v2"})  # by name
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["outcome"] == "pass" and data["gate"] == "release" and data["version"] == 1
    assert data["candidate"]["id"] == v2.run_id and data["baseline"]["id"] == v1.run_id
    assert [rule["outcome"] for rule in data["rules"]] == ["pass", "pass", "pass"]
    for rule in data["rules"]:
        assert {"value", "bound", "pValue", "ciLow", "ciHigh", "n", "requiredN", "criterion"} <= set(rule)
    assert data["rules"][1]["n"] == 10 and data["rules"][1]["pValue"] < 0.05
    stored = api.get(f"experiments/runs/{v2.run_id}/gate-results").json()["data"]
    assert [result["id"] for result in stored] == [data["id"]]


def test_the_latest_released_baseline_follows_the_newest_mark(api, project, dataset_runs):
    v1, v2, v3 = dataset_runs
    create(api)
    api.post(f"experiments/runs/{v1.run_id}/release")
    assert api.post("gates/release/evaluate", {"candidate": v3.run_id}).json()["baseline"]["id"] == v1.run_id
    api.post(f"experiments/runs/{v2.run_id}/release")
    result = api.post("gates/release/evaluate", {"candidate": v3.run_id}).json()
    assert result["baseline"]["id"] == v2.run_id and result["outcome"] == "fail"
    # Unmarking v2 sends the baseline back to v1; the candidate itself is never its own baseline.
    assert api.delete(f"experiments/runs/{v2.run_id}/release").json()["released"] is False
    assert api.get(f"experiments/runs/{v2.run_id}/release").json()["released"] is False
    assert api.post("gates/release/evaluate", {"candidate": v3.run_id}).json()["baseline"]["id"] == v1.run_id
    assert api.post("gates/release/evaluate", {"candidate": v1.run_id}).json()["baseline"] is None


def test_without_a_released_run_the_paired_rules_cannot_tell_and_say_why(api, dataset_runs):
    create(api)
    data = api.post("gates/release/evaluate", {"candidate": "v2"}).json()
    assert data["outcome"] == "cannot_tell" and data["baseline"] is None
    assert "no run of dataset 'qa' is marked as released" in data["baselineNote"]
    assert data["rules"][1]["reason"] == data["baselineNote"]


def test_an_unknown_candidate_is_a_400_naming_it(api, dataset_runs):
    create(api)
    response = api.post("gates/release/evaluate", {"candidate": "v9"})
    assert response.status_code == 400 and "candidate" in response.json()["message"]
    assert api.post("gates/release/evaluate", {}).status_code == 400
    assert api.post("gates/nope/evaluate", {"candidate": "v1"}).status_code == 404


def test_a_gate_never_reads_another_projects_runs(api, project, victim_project, dataset_runs):
    v1, v2, _ = dataset_runs
    # The victim has a run with the candidate's name and one marked released on a dataset of the same name.
    victim_dataset = DatasetFactory(project=victim_project, name="qa")
    theirs = scored_runs(victim_project, {"v2": [0.1] * 10, "their release": [0.0] * 10})
    for run in theirs:
        run.dataset = victim_dataset
        run.save()
    from experiments.gates.services import run_release_mark

    run_release_mark(project=victim_project, run=theirs[1])
    create(api)
    data = api.post("gates/release/evaluate", {"candidate": "v2"}).json()
    assert data["candidate"]["id"] == v2.run_id and data["baseline"] is None  # the victim's release is not seen
    assert api.post("gates/release/evaluate", {"candidate": theirs[1].run_id}).status_code == 400
    assert api.post(f"experiments/runs/{theirs[1].run_id}/release").status_code == 404
    # A policy naming a run by the victim's id is refused; the victim's gate is invisible.
    assert create(api, "pinned", baseline={"kind": "run", "run": theirs[1].run_id}).status_code == 400
    gate_policy(victim_project, "theirs")
    assert api.get("gates/theirs").status_code == 404
    assert [p["name"] for p in api.get("gates").json()["data"]] == ["release"]


def test_the_comparison_page_shows_the_latest_gate_result_of_each_run(client, api, project, dataset_runs):
    from urllib.parse import urlencode

    from django.urls import reverse

    from tests.tenancy.factories import user_with_role

    v1, v2, v3 = dataset_runs
    create(api)
    api.post(f"experiments/runs/{v1.run_id}/release")
    api.post("gates/release/evaluate", {"candidate": v3.run_id})
    client.force_login(user_with_role(project, Role.VIEWER, staff=False))
    url = reverse("experiment-compare", kwargs={"project_id": project.pk})
    html = client.get(url + "?" + urlencode({"runs": f"{v1.run_id},{v3.run_id}"})).content.decode()
    assert "Release gates" in html and "release v1 on “v3”" in html
    assert '<span class="gate-fail">fail</span>' in html and "nonInferiority" in html
    # A run without results shows none; a newer evaluation replaces the older one on the page.
    html = client.get(url + "?" + urlencode({"runs": f"{v1.run_id},{v2.run_id}"})).content.decode()
    assert "Release gates" not in html
    api.post("gates/release/evaluate", {"candidate": v2.run_id})
    api.post("gates/release/evaluate", {"candidate": v2.run_id})
    html = client.get(url + "?" + urlencode({"runs": f"{v1.run_id},{v2.run_id}"})).content.decode()
    assert html.count('class="card gate-result"') == 1 and '<span class="gate-pass">pass</span>' in html


def test_a_deleted_named_baseline_makes_the_paired_rules_cannot_tell(api, project, dataset_runs):
    from experiments.services import experiment_run_delete

    v1, v2, _ = dataset_runs
    assert create(api, baseline={"kind": "run", "run": v1.run_id}).status_code == 201
    first = api.post("gates/release/evaluate", {"candidate": v2.run_id}).json()
    assert first["baseline"]["id"] == v1.run_id and first["outcome"] == "pass"
    experiment_run_delete(project=project, runs=[v1])
    data = api.post("gates/release/evaluate", {"candidate": v2.run_id}).json()
    assert data["outcome"] == "cannot_tell" and "no longer exists" in data["baselineNote"]
    # The earlier result stays on the candidate, its baseline gone.
    results = api.get(f"experiments/runs/{v2.run_id}/gate-results").json()["data"]
    assert [r["baseline"] for r in results] == [None, None] and results[1]["outcome"] == "pass"


@pytest.mark.parametrize("items", [10, 60])
def test_evaluation_takes_the_same_number_of_queries_whatever_the_items(project, items, django_assert_num_queries):
    import numpy as np

    from experiments.gates.services import gate_evaluate, run_release_mark

    rng = np.random.default_rng(items)
    dataset = DatasetFactory(project=project, name="qa")
    base, cand = scored_runs(project, {"b": list(rng.random(items)), "c": list(rng.random(items))})
    for run in (base, cand):
        run.dataset = dataset
        run.save()
    run_release_mark(project=project, run=base)
    policy = gate_policy(project, "release", rules=RULES)
    # The service's savepoint around: the candidate, the latest release, the comparison's 5 (runs, items,
    # item scores, run scores, costs) and the result's insert.
    with django_assert_num_queries(10):
        result = gate_evaluate(project=project, policy=policy, candidate=cand.run_id)
    assert result.rules[1]["n"] == items
