"""Monthly judge budgets, per project and per rule, in the currency of the model prices.

A budget is checked when a job is about to call its judge: once the month's spend (the cost of
the jobs finished since the first of the month, UTC) reaches it, new jobs are skipped with the
reason "budget", and the project's evaluators, or the rule, show paused with that reason until the
month ends or the budget is raised. Calls already in flight when the limit is crossed still finish,
so the spend can pass the budget by at most one executor's batch.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from evalsite.tenancy.actors import SYSTEM, Actor
from evalsite.tenancy.models import Project
from evalsite.tenancy.services import audit_log_record
from evaluators.models import EvaluationRule, ProjectEvaluationBudget
from evaluators.selectors import project_budget, spend_this_month


class BudgetTracker:
    """Budgets and spend read once per executor, then counted in memory as jobs finish."""

    def __init__(self):
        self.limits: dict[tuple[str, str | None], Decimal | None] = {}
        self.spend: dict[tuple[str, str | None], Decimal] = {}

    def _load(self, project: Project, rule: EvaluationRule | None) -> tuple[str, str | None]:
        key = (project.pk, rule.pk if rule is not None else None)
        if key not in self.limits:
            if rule is None:
                self.limits[key] = project_budget(project=project)
                self.spend[key] = spend_this_month(project=project) if self.limits[key] is not None else Decimal(0)
            else:
                self.limits[key] = rule.monthly_budget
                self.spend[key] = spend_this_month(project=project, rule_id=rule.pk) if rule.monthly_budget is not None else Decimal(0)
        return key

    def allows(self, project: Project, rule: EvaluationRule | None) -> bool:
        for scope in (None, rule) if rule is not None else (None,):
            key = self._load(project, scope)
            limit = self.limits[key]
            if limit is not None and self.spend[key] >= limit:
                return False
        return True

    def spent(self, project: Project, rule: EvaluationRule | None, cost: Decimal) -> None:
        for scope in (None, rule) if rule is not None else (None,):
            key = self._load(project, scope)
            self.spend[key] += cost


@transaction.atomic
def project_budget_set(*, project: Project, monthly_budget: Decimal | None, actor: Actor = SYSTEM) -> None:
    """Set (or, with None, remove) the project's monthly judge budget."""
    from evaluators.services import _budget

    amount = _budget(monthly_budget)
    if amount is None:
        ProjectEvaluationBudget.objects.filter(project=project).delete()
    else:
        ProjectEvaluationBudget.objects.update_or_create(project=project, defaults={"monthly_budget": amount})
    audit_log_record(
        actor=actor, action="evaluation_budget.set", obj=project, organization=project.organization,
        project=project, monthly_budget=str(amount) if amount is not None else None,
    )


def budget_state(*, project: Project, rule: EvaluationRule | None = None) -> dict:
    """{"limit", "spent", "exhausted"} for the project (or one rule) this month."""
    limit = rule.monthly_budget if rule is not None else project_budget(project=project)
    spent = spend_this_month(project=project, rule_id=rule.pk if rule is not None else None)
    return {"limit": limit, "spent": spent, "exhausted": limit is not None and spent >= limit}
