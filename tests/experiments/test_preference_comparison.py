"""Pairwise preferences in the comparison (experiments/preferences.py): win / tie / loss per run pair
with the sign test, judges and humans apart, Bradley–Terry for three runs, and their agreement."""

from datetime import timedelta

import numpy as np
import pytest
from django.urls import reverse
from django.utils import timezone
from scipy import stats

from evalsite.tenancy.roles import Role
from experiments.comparison import comparison_build
from experiments.preference_statistics import bradley_terry
from tests.experiments.factories import ExperimentRunFactory, RunItemFactory
from tests.scoring.factories import ScoreFactory
from tests.tenancy.factories import user_with_role

pytestmark = pytest.mark.django_db


def make_runs(project, names, items=12, trials=1):
    runs = {}
    for name in names:
        run = runs[name] = ExperimentRunFactory(project=project, name=name)
        for index in range(items):
            for trial in range(1, trials + 1):
                RunItemFactory(run=run, item_key=f"item-{index:02d}", trial=trial)
    return runs


def prefer(project, baseline, candidate, index, winner, *, source="EVAL", name="preference", trial=1,
           disagreement=False, age=0):
    """A preference score as the pairwise judge writes it, on the candidate's item trace."""
    item = candidate.items.get(item_key=f"item-{index:02d}", trial=trial)
    ScoreFactory(
        project=project, trace_id=item.trace_id, name=name, data_type="CATEGORICAL", value=None, source=source,
        string_value={"baseline": "A", "candidate": "B", "tie": "tie"}[winner],
        timestamp=timezone.now() - timedelta(minutes=age),
        metadata={"pairwise": {"baselineRunId": baseline.run_id, "candidateRunId": candidate.run_id,
                               "itemKey": item.item_key, "trial": trial, "winner": winner,
                               "disagreement": disagreement}},
    )


def test_wins_ties_and_losses_are_counted_per_item_and_sign_tested(project):
    runs = make_runs(project, ["base", "new"])
    base, new = runs["base"], runs["new"]
    outcomes = ["candidate"] * 8 + ["baseline"] * 2 + ["tie"] * 2
    for index, winner in enumerate(outcomes):
        prefer(project, base, new, index, winner, disagreement=index == 11)
    prefer(project, base, new, 0, "baseline", age=60)  # an older judgement of item 0: replaced

    comparison = comparison_build(project=project, run_ids=[base.run_id, new.run_id], baseline_id=base.run_id)

    [summary] = comparison.preferences
    assert (summary.score, summary.source, summary.rater) == ("preference", "EVAL", "judge")
    [pair] = summary.pairs
    assert (pair.first, pair.second) == (base, new)
    assert (pair.test.wins, pair.test.losses, pair.test.ties) == (8, 2, 2)
    assert pair.test.p_value == pytest.approx(stats.binomtest(8, 10, 0.5).pvalue)
    assert pair.judgements == 12 and pair.disagreements == 1
    assert summary.strengths is None  # two runs: the sign test says it all
    # The preferences are not an ordinary categorical score of the candidate.
    assert "preference" not in comparison.score_kinds
    data = comparison.to_dict(include_items=False)["preferences"][0]
    assert data["pairs"][0]["wins"] == 8 and data["pairs"][0]["baseline"] == base.run_id


def test_a_judgement_stored_the_other_way_round_counts_for_the_right_run(project):
    runs = make_runs(project, ["base", "new"], items=2)
    base, new = runs["base"], runs["new"]
    prefer(project, new, base, 0, "baseline")  # base judged as the candidate against new: new won
    prefer(project, new, base, 1, "candidate")  # base won

    comparison = comparison_build(project=project, run_ids=[base.run_id, new.run_id], baseline_id=base.run_id)

    test = comparison.preferences[0].pairs[0].test
    assert (test.wins, test.losses, test.ties) == (1, 1, 0)


def test_trials_are_one_item_outcome_by_majority(project):
    runs = make_runs(project, ["base", "new"], items=3, trials=3)
    base, new = runs["base"], runs["new"]
    for trial, winner in enumerate(["candidate", "candidate", "baseline"], start=1):
        prefer(project, base, new, 0, winner, trial=trial)  # 2 to 1: a win
    for trial, winner in enumerate(["candidate", "baseline", "tie"], start=1):
        prefer(project, base, new, 1, winner, trial=trial)  # balanced: a tie
    prefer(project, base, new, 2, "baseline", trial=2)  # a single trial judged: a loss

    comparison = comparison_build(project=project, run_ids=[base.run_id, new.run_id], baseline_id=base.run_id)

    test = comparison.preferences[0].pairs[0].test
    assert (test.wins, test.losses, test.ties) == (1, 1, 1)


def test_judges_and_humans_are_counted_apart_and_their_agreement_is_shown(project):
    runs = make_runs(project, ["base", "new"], items=6)
    base, new = runs["base"], runs["new"]
    judge = ["candidate", "candidate", "baseline", "tie", "candidate", "baseline"]
    human = ["candidate", "baseline", "baseline", "tie", "candidate", "candidate"]
    for index in range(6):
        prefer(project, base, new, index, judge[index])
        prefer(project, base, new, index, human[index], source="ANNOTATION", name="human preference")

    comparison = comparison_build(project=project, run_ids=[base.run_id, new.run_id], baseline_id=base.run_id)

    by_rater = {summary.rater: summary.pairs[0].test for summary in comparison.preferences}
    assert (by_rater["judge"].wins, by_rater["judge"].losses) == (3, 2)
    assert (by_rater["human"].wins, by_rater["human"].losses) == (3, 2)
    [agreement] = comparison.preference_agreement
    assert (agreement.judge_score, agreement.human_score) == ("preference", "human preference")
    assert agreement.result.n == 6 and agreement.result.agreement == pytest.approx(4 / 6)


def test_three_runs_get_bradley_terry_strengths_from_every_pair(project):
    runs = make_runs(project, ["a", "b", "c"], items=10)
    a, b, c = runs["a"], runs["b"], runs["c"]
    # b beats a 7–3, c beats a 8–2, c beats b 6–4.
    for index in range(10):
        prefer(project, a, b, index, "candidate" if index < 7 else "baseline")
        prefer(project, a, c, index, "candidate" if index < 8 else "baseline")
        prefer(project, b, c, index, "candidate" if index < 6 else "baseline")

    comparison = comparison_build(project=project, run_ids=[a.run_id, b.run_id, c.run_id])

    [summary] = comparison.preferences
    assert len(summary.pairs) == 3
    expected = bradley_terry(np.array([[0, 3, 2], [7, 0, 4], [8, 6, 0]])).strengths
    assert [summary.strengths[run.run_id] for run in (a, b, c)] == pytest.approx(expected)
    assert summary.strengths[c.run_id] > summary.strengths[b.run_id] > summary.strengths[a.run_id]


def test_preferences_with_a_run_outside_the_comparison_are_left_out(project):
    runs = make_runs(project, ["base", "new", "other"], items=2)
    prefer(project, runs["other"], runs["new"], 0, "candidate")

    comparison = comparison_build(project=project, run_ids=[runs["base"].run_id, runs["new"].run_id])

    assert comparison.preferences == []


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ANNOTATOR, Role.MEMBER, Role.ADMIN, Role.OWNER])
def test_the_compare_page_shows_the_preferences_to_every_role(client, project, role):
    runs = make_runs(project, ["a", "b", "c"], items=8)
    a, b, c = runs["a"], runs["b"], runs["c"]
    for index in range(8):
        prefer(project, a, b, index, "candidate" if index < 6 else "baseline")
        prefer(project, a, c, index, "candidate" if index < 5 else "tie")
        prefer(project, b, c, index, "baseline" if index < 3 else "candidate")
        prefer(project, a, b, index, "candidate" if index % 2 else "tie", source="ANNOTATION", name="human")
    client.force_login(user_with_role(project, role, staff=False))
    url = reverse("experiment-compare", kwargs={"project_id": project.pk})

    response = client.get(url, {"runs": f"{a.run_id},{b.run_id},{c.run_id}", "baseline": a.run_id})

    assert response.status_code == 200
    page = response.content.decode()
    assert "Pairwise preferences" in page and "Bradley–Terry strengths" in page
    assert "(judge)" in page and "(human)" in page
    assert "Judge “preference” and humans “human” agree on 8 items" in page


def test_the_compare_page_of_another_project_shows_nothing_of_its_preferences(client, project, victim_project):
    runs = make_runs(victim_project, ["a", "b"], items=2)
    prefer(victim_project, runs["a"], runs["b"], 0, "candidate")
    client.force_login(user_with_role(project, Role.OWNER, staff=False))
    url = reverse("experiment-compare", kwargs={"project_id": victim_project.pk})

    response = client.get(url, {"runs": f"{runs['a'].run_id},{runs['b'].run_id}"})

    assert response.status_code in (302, 403, 404)
