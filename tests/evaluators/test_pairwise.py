"""Pairwise preference judges against the fake LLM (evaluators/pairwise.py, PAIRWISE.md): the
shuffled order the judge sees, verdicts stored about runs, both-orders mode, one score per pair."""

import re

import pytest

from evaluators.executor import jobs_execute
from evaluators.models import EvaluationJob
from evaluators.pairwise import candidate_first
from experiments.models import RunItem
from scoring.models import Score
from tests.evaluators.setup import boolean_judge, judge_connection, pairwise_judge
from tests.experiments.factories import ExperimentRunFactory, RunItemFactory
from tests.support.fake_llm import FakeLLMServer

pytestmark = pytest.mark.django_db

ITEMS = 16  # the chance that 16 pairs all draw the same order is 2 in 65,536
ANSWERS = re.compile(r"Answer A: (?P<a>.*)\nAnswer B: (?P<b>.*)\n")


@pytest.fixture
def llm():
    with FakeLLMServer() as server:
        yield server


@pytest.fixture
def runs(project):
    baseline = ExperimentRunFactory(project=project, name="baseline")
    candidate = ExperimentRunFactory(project=project, name="candidate")
    for index in range(ITEMS):
        for run in (baseline, candidate):
            RunItemFactory(run=run, item_key=f"item-{index:02d}", input=f"question {index}",
                           expected_output=f"reference {index}", output=f"{run.name} answer {index}")
    return baseline, candidate


def shown(request) -> tuple[str, str]:
    match = ANSWERS.search(request.last_user_message)
    return match["a"], match["b"]


def answer_with(choose):
    """A hook answering {"score": choose(output_a, output_b)} to every judge request."""
    return lambda request: {"reasoning": "compared", "score": choose(*shown(request))}


def start(api, candidate, baseline, judge, *, capture, **extra):
    body = {"baselineRunId": baseline.run_id, "evaluatorId": judge.pk, **extra}
    with capture(execute=True):
        response = api.post(f"experiments/runs/{candidate.run_id}/pairwise", body)
    return response


def preferences(project):
    return list(Score.objects.filter(project=project, name="preference").order_by("trace_id"))


def test_the_judge_sees_both_outputs_in_an_order_drawn_per_pair_from_its_ids(
    api, project, runs, llm, django_capture_on_commit_callbacks
):
    baseline, candidate = runs
    judge_connection(project, llm)
    judge = pairwise_judge(project)
    llm.hook = answer_with(lambda a, b: "tie")

    response = start(api, candidate, baseline, judge, capture=django_capture_on_commit_callbacks)

    assert response.status_code == 202, response.json()
    assert response.json()["pairs"] == ITEMS and response.json()["created"] == ITEMS
    assert len(llm.chat_requests) == ITEMS
    items = {(item.run_id, item.item_key): item for item in RunItem.objects.filter(project=project)}
    firsts = []
    for request in llm.chat_requests:
        output_a, output_b = shown(request)
        index = int(output_a.rsplit(" ", 1)[1])
        key = f"item-{index:02d}"
        base, cand = items[(baseline.pk, key)], items[(candidate.pk, key)]
        first = candidate_first(base.pk, cand.pk)
        assert (output_a, output_b) == ((cand.output, base.output) if first else (base.output, cand.output))
        assert f"Question: question {index}" in request.last_user_message
        assert f"Reference: reference {index}" in request.last_user_message
        firsts.append(first)
    assert set(firsts) == {True, False}  # both runs are shown first somewhere


def test_the_stored_preference_names_runs_not_positions_and_sits_on_the_candidates_trace(
    api, project, runs, llm, django_capture_on_commit_callbacks
):
    baseline, candidate = runs
    judge_connection(project, llm)
    judge = pairwise_judge(project)
    # A fair judge that always prefers the candidate, wherever it is shown.
    llm.hook = answer_with(lambda a, b: "A" if a.startswith("candidate") else "B")

    start(api, candidate, baseline, judge, capture=django_capture_on_commit_callbacks)

    scores = preferences(project)
    assert len(scores) == ITEMS
    assert {score.string_value for score in scores} == {"B"}
    assert {score.source for score in scores} == {"EVAL"} and {score.data_type for score in scores} == {"CATEGORICAL"}
    assert {score.trace_id for score in scores} == set(candidate.items.values_list("trace_id", flat=True))
    assert {score.comment for score in scores} == {"compared"}
    meta = scores[0].metadata["pairwise"]
    assert (meta["baselineRunId"], meta["candidateRunId"], meta["winner"]) == (baseline.run_id, candidate.run_id, "candidate")
    assert meta["bothOrders"] is False and meta["disagreement"] is False and len(meta["orders"]) == 1


def test_both_orders_expose_a_judge_that_always_prefers_the_first_position(
    api, project, runs, llm, django_capture_on_commit_callbacks
):
    baseline, candidate = runs
    judge_connection(project, llm)
    judge = pairwise_judge(project)
    llm.hook = answer_with(lambda a, b: "A")  # position bias, nothing else

    start(api, candidate, baseline, judge, capture=django_capture_on_commit_callbacks, bothOrders=True)

    assert len(llm.chat_requests) == 2 * ITEMS
    scores = preferences(project)
    assert len(scores) == ITEMS and {score.string_value for score in scores} == {"tie"}
    for score in scores:
        meta = score.metadata["pairwise"]
        assert meta["disagreement"] is True and meta["bothOrders"] is True
        assert {order["winner"] for order in meta["orders"]} == {"baseline", "candidate"}
        assert "disagree" in score.comment


def test_with_one_order_a_first_position_judge_follows_the_coin(api, project, runs, llm, django_capture_on_commit_callbacks):
    baseline, candidate = runs
    judge_connection(project, llm)
    judge = pairwise_judge(project)
    llm.hook = answer_with(lambda a, b: "A")

    start(api, candidate, baseline, judge, capture=django_capture_on_commit_callbacks)

    # Each run wins exactly the pairs where it was shown first: what both orders would expose.
    scores = preferences(project)
    assert len(scores) == ITEMS
    for score in scores:
        meta = score.metadata["pairwise"]
        first = candidate_first(meta["baselineRunItemId"], meta["candidateRunItemId"])
        assert score.string_value == ("B" if first else "A")
    assert {score.string_value for score in scores} == {"A", "B"}


def test_both_orders_keep_a_consistent_verdict(api, project, runs, llm, django_capture_on_commit_callbacks):
    baseline, candidate = runs
    judge_connection(project, llm)
    judge = pairwise_judge(project)
    llm.hook = answer_with(lambda a, b: "A" if a.startswith("baseline") else "B")  # prefers the baseline

    start(api, candidate, baseline, judge, capture=django_capture_on_commit_callbacks, bothOrders=True)

    scores = preferences(project)
    assert {score.string_value for score in scores} == {"A"}
    assert not any(score.metadata["pairwise"]["disagreement"] for score in scores)
    job = EvaluationJob.objects.filter(project=project).first()
    assert job.options == {"bothOrders": True} and job.input_tokens > 0 and "[order 2]" in job.raw_answer


def test_a_pair_is_scored_once_whatever_is_retried(api, project, runs, llm, django_capture_on_commit_callbacks):
    baseline, candidate = runs
    judge_connection(project, llm)
    judge = pairwise_judge(project)
    llm.hook = answer_with(lambda a, b: "tie")
    start(api, candidate, baseline, judge, capture=django_capture_on_commit_callbacks)

    again = start(api, candidate, baseline, judge, capture=django_capture_on_commit_callbacks, bothOrders=True)
    jobs_execute(job_pks=list(EvaluationJob.objects.filter(project=project).values_list("pk", flat=True)))

    assert again.status_code == 202 and again.json()["created"] == 0 and again.json()["alreadyEvaluated"] == ITEMS
    assert len(llm.chat_requests) == ITEMS
    assert len(preferences(project)) == ITEMS
    assert EvaluationJob.objects.filter(project=project).count() == ITEMS


def test_trials_are_paired_trial_by_trial(api, project, llm, django_capture_on_commit_callbacks):
    baseline = ExperimentRunFactory(project=project, name="baseline")
    candidate = ExperimentRunFactory(project=project, name="candidate")
    for run, trials in ((baseline, 3), (candidate, 2)):
        for trial in range(1, trials + 1):
            RunItemFactory(run=run, item_key="only", trial=trial, output=f"{run.name} answer {trial}")
    judge_connection(project, llm)
    judge = pairwise_judge(project)
    llm.hook = answer_with(lambda a, b: "tie")

    summary = start(api, candidate, baseline, judge, capture=django_capture_on_commit_callbacks).json()

    assert summary["pairs"] == 2 and summary["unpaired"] == {"baseline": 1, "candidate": 0}
    trials = sorted(score.metadata["pairwise"]["trial"] for score in preferences(project))
    assert trials == [1, 2]


def test_an_answer_that_is_no_category_fails_the_job_without_a_score(
    api, project, runs, llm, django_capture_on_commit_callbacks
):
    baseline, candidate = runs
    judge_connection(project, llm)
    judge = pairwise_judge(project)
    llm.hook = answer_with(lambda a, b: "both")

    start(api, candidate, baseline, judge, capture=django_capture_on_commit_callbacks)

    assert set(EvaluationJob.objects.filter(project=project).values_list("status", flat=True)) == {"failed"}
    assert preferences(project) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"evaluatorId": "x"}, "baselineRunId"),
        ({"baselineRunId": "nope", "evaluatorId": "x"}, "baselineRunId"),
        ({"baselineRunId": "SELF", "evaluatorId": "x"}, "baselineRunId"),
        ({"baselineRunId": "BASE", "evaluatorId": "nope"}, "evaluatorId"),
        ({"baselineRunId": "BASE", "evaluatorId": "BOOLEAN"}, "evaluatorId"),
        ({"baselineRunId": "BASE", "evaluatorId": "PAIRWISE", "bothOrders": "maybe"}, "bothOrders"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_makes_no_job(api, project, runs, llm, body, field):
    baseline, candidate = runs
    judge_connection(project, llm)
    ids = {"SELF": candidate.run_id, "BASE": baseline.run_id, "PAIRWISE": pairwise_judge(project).pk,
           "BOOLEAN": boolean_judge(project).pk}
    body = {key: ids.get(value, value) for key, value in body.items()}

    response = api.post(f"experiments/runs/{candidate.run_id}/pairwise", body)

    assert response.status_code == 400, response.json()
    assert field in response.content.decode()
    assert not EvaluationJob.objects.filter(project=project).exists()


def test_a_baseline_of_another_project_is_refused(api, project, victim_project, runs, llm):
    _, candidate = runs
    judge_connection(project, llm)
    foreign = ExperimentRunFactory(project=victim_project)
    RunItemFactory(run=foreign, item_key="item-00")

    response = api.post(
        f"experiments/runs/{candidate.run_id}/pairwise",
        {"baselineRunId": foreign.run_id, "evaluatorId": pairwise_judge(project).pk},
    )

    assert response.status_code == 400 and "baselineRunId" in response.content.decode()
    assert not EvaluationJob.objects.exists()


def test_a_run_of_another_project_is_not_found(victim_api, project, runs):
    baseline, candidate = runs
    response = victim_api.post(f"experiments/runs/{candidate.run_id}/pairwise", {"baselineRunId": baseline.run_id, "evaluatorId": "x"})
    assert response.status_code == 404
    assert not EvaluationJob.objects.exists()


def test_the_comparison_counts_the_judges_preferences_with_a_sign_test(
    api, project, runs, llm, django_capture_on_commit_callbacks
):
    from scipy import stats

    from experiments.comparison import comparison_build

    baseline, candidate = runs
    judge_connection(project, llm)
    judge = pairwise_judge(project)
    # Prefers the candidate on even items, the baseline on items 1 and 3, ties on the other odd ones.
    def choose(a, b):
        index = int(a.rsplit(" ", 1)[1])
        winner = "candidate" if index % 2 == 0 else "baseline" if index in (1, 3) else None
        if winner is None:
            return "tie"
        return "A" if a.startswith(winner) else "B"

    llm.hook = answer_with(choose)
    start(api, candidate, baseline, judge, capture=django_capture_on_commit_callbacks, bothOrders=True)

    comparison = comparison_build(project=project, run_ids=[baseline.run_id, candidate.run_id], baseline_id=baseline.run_id)

    [summary] = comparison.preferences
    test = summary.pairs[0].test
    assert (test.wins, test.losses, test.ties) == (8, 2, 6)
    assert test.p_value == pytest.approx(stats.binomtest(8, 10).pvalue)
    assert summary.pairs[0].disagreements == 0 and summary.rater == "judge"


def test_the_built_in_pairwise_template_judges_pairs(api, project, runs, llm, django_capture_on_commit_callbacks):
    from evaluators.library import evaluator_from_template
    from tests.evaluators.setup import MODEL

    baseline, candidate = runs
    judge_connection(project, llm)
    judge = evaluator_from_template(project=project, key="pairwise_preference", model_config={"provider": "fake", "model": MODEL})

    response = start(api, candidate, baseline, judge, capture=django_capture_on_commit_callbacks)

    assert response.status_code == 202, response.json()
    # The fake server answers with an example of the requested schema: a category, so every job completes.
    assert set(EvaluationJob.objects.filter(project=project).values_list("status", flat=True)) == {"completed"}
    assert "Answer A:\ncandidate answer" in llm.chat_requests[0].text or "Answer A:\nbaseline answer" in llm.chat_requests[0].text


def test_a_pairwise_judge_cannot_be_assigned_to_single_items(api, project, runs, llm):
    _, candidate = runs
    judge_connection(project, llm)
    judge = pairwise_judge(project)

    response = api.post(f"experiments/runs/{candidate.run_id}/evaluations", {"evaluators": [{"evaluatorId": judge.pk}]})

    assert response.status_code == 400 and "pairwise" in response.content.decode()
    assert not EvaluationJob.objects.filter(project=project).exists()
