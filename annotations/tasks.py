"""django-q entry points: thin, taking ids (annotations/rules.py does the work)."""


def queue_rules_apply(project_id: str, score_ids: list) -> None:
    """Let the project's enabled queue rules look at these newly written scores."""
    from annotations.rules import queue_rules_apply as apply
    from evalsite.tenancy.models import Project

    project = Project.objects.filter(pk=project_id).first()
    if project is not None:
        apply(project=project, score_ids=list(score_ids))


def queue_rule_backfill(project_id: str, rule_id: str) -> None:
    """Run one rule over the scores already stored; returns early when the rule is gone."""
    from annotations.models import QueueRule
    from annotations.rules import queue_rule_backfill as backfill

    rule = QueueRule.objects.filter(project_id=project_id, pk=rule_id).select_related("project", "queue").first()
    if rule is not None:
        backfill(project=rule.project, rule=rule)
