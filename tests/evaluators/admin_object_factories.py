from decimal import Decimal

from evaluators.jobs import Target, jobs_create
from evaluators.models import (
    EvaluationJob,
    EvaluationRule,
    Evaluator,
    EvaluatorVersion,
    ProjectEvaluationBudget,
)
from evaluators.services import evaluation_rule_create, evaluator_create, evaluator_update, latest_versions


def make_evaluator(project):
    evaluator = evaluator_create(project=project, name="exact", kind="check", check={"type": "exact_match"})
    evaluator_update(project=project, evaluator=evaluator, kind="check", check={"type": "regex", "pattern": "x"})
    return evaluator


def make_rule(project):
    return evaluation_rule_create(
        project=project, name="rule", enabled=True, evaluator_assignments=[{"evaluatorId": make_evaluator(project).pk}]
    )


def make_job(project):
    evaluator = make_evaluator(project)
    version = latest_versions(project=project, evaluator_ids=[evaluator.pk])[evaluator.pk]
    summary = jobs_create(project=project, version=version, targets=[Target(kind="trace", id="t", trace_id="t")], enqueue=False)
    return EvaluationJob.objects.get(pk=summary.job_ids[0])


FACTORIES = {
    Evaluator: make_evaluator,
    EvaluatorVersion: lambda project: make_evaluator(project).versions.first(),
    EvaluationRule: make_rule,
    EvaluationJob: make_job,
    ProjectEvaluationBudget: lambda project: ProjectEvaluationBudget.objects.create(project=project, monthly_budget=Decimal("5")),
}
