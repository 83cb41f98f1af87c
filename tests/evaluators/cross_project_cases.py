from evaluators.models import EvaluationJob, EvaluationRule, Evaluator
from evaluators.services import evaluation_rule_create, evaluator_create
from tests.experiments.factories import ExperimentRunFactory, RunItemFactory
from tests.support.cross_project import CrossProjectCase


def make_evaluator(project):
    evaluator = evaluator_create(project=project, name="exact", kind="check", check={"type": "exact_match"})
    return {"evaluator_id": evaluator.pk}


def evaluator_untouched(project, kwargs):
    evaluator = Evaluator.objects.filter(project=project, pk=kwargs["evaluator_id"], deleted_at__isnull=True).first()
    return evaluator is not None and evaluator.versions.count() == 1 and evaluator.name == "exact"


def make_rule(project):
    evaluator = evaluator_create(project=project, name="exact", kind="check", check={"type": "exact_match"})
    rule = evaluation_rule_create(
        project=project, name="all", enabled=True, evaluator_assignments=[{"evaluatorId": evaluator.pk}]
    )
    return {"rule_id": rule.pk}


def rule_untouched(project, kwargs):
    return EvaluationRule.objects.filter(project=project, pk=kwargs["rule_id"], name="all", enabled=True).exists()


def make_run(project):
    run = ExperimentRunFactory(project=project)
    RunItemFactory(run=run)
    return {"run_id": run.run_id}


def run_not_evaluated(project, kwargs):
    return not EvaluationJob.objects.filter(project=project).exists()


def make_failed_job(project):
    from evaluators.jobs import Target, jobs_create
    from evaluators.services import latest_versions

    evaluator = evaluator_create(project=project, name="exact", kind="check", check={"type": "exact_match"})
    version = latest_versions(project=project, evaluator_ids=[evaluator.pk])[evaluator.pk]
    summary = jobs_create(project=project, version=version, targets=[Target(kind="trace", id="t1", trace_id="t1")], enqueue=False)
    EvaluationJob.objects.filter(pk__in=summary.job_ids).update(status="failed", error="boom")
    return {"job_id": str(summary.job_ids[0])}


def job_still_failed(project, kwargs):
    return EvaluationJob.objects.filter(project=project, pk=int(kwargs["job_id"]), status="failed").exists()


CASES = [
    CrossProjectCase(
        pattern="api/public/v2/evaluators/<str:evaluator_id>", make=make_evaluator, body={"name": "renamed"},
        still_there=evaluator_untouched,
    ),
    CrossProjectCase(pattern="api/public/v2/evaluators/<str:evaluator_id>/versions", make=make_evaluator),
    CrossProjectCase(
        pattern="api/public/v2/evaluation-rules/<str:rule_id>", make=make_rule, body={"enabled": False},
        still_there=rule_untouched,
    ),
    CrossProjectCase(
        pattern="api/public/experiments/runs/<str:run_id>/evaluations", make=make_run,
        body={"evaluators": [{"evaluatorId": "x"}]}, still_there=run_not_evaluated,
    ),
    CrossProjectCase(
        pattern="api/public/evaluation-jobs/<str:job_id>/retry", make=make_failed_job, still_there=job_still_failed,
    ),
]

CASES += [
    CrossProjectCase(
        pattern="api/public/v2/evaluation-rules/<str:rule_id>/backfill", make=make_rule,
        body={"fromTimestamp": "2026-01-01T00:00:00Z", "toTimestamp": "2026-02-01T00:00:00Z", "confirm": True},
        still_there=rule_untouched,
    ),
]

CASES += [
    CrossProjectCase(
        pattern="api/public/experiments/runs/<str:run_id>/run-evaluations", make=make_run,
        body={"type": "mean", "scoreName": "accuracy"},
    ),
]

CASES += [
    CrossProjectCase(
        pattern="api/public/experiments/runs/<str:run_id>/pairwise", make=make_run,
        body={"baselineRunId": "x", "evaluatorId": "x"}, still_there=run_not_evaluated,
    ),
]
