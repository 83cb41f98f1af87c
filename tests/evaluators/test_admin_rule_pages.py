"""The rule admin's pages (create, edit, preview of the variables, backfill with the estimate), the
"Evaluate with evaluators" action of the experiment run admin, and spend on the evaluator and rule pages."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from evalsite.tenancy.models import AuditLog
from evalsite.tenancy.roles import Role
from evaluators.models import EvaluationJob, EvaluationRule, RuleAssignment
from evaluators.services import evaluation_rule_create, evaluator_create
from tests.evaluators.setup import check_evaluator
from tests.experiments.factories import ExperimentRunFactory, RunItemFactory
from tests.tenancy.factories import user_with_role
from tests.traces.factories import TraceFactory

pytestmark = pytest.mark.django_db

CHAT_ONLY = [{"type": "stringOptions", "column": "name", "operator": "any of", "value": ["chat"]}]


def as_role(client, project, role):
    client.force_login(user_with_role(project, role))
    return client


def judge_without_model(project, name="polite"):
    """A judge whose variables can be previewed (it needs no model until it judges)."""
    return evaluator_create(project=project, name=name, kind="llm_as_judge",
                            prompt="Is {{reply}} a polite answer to {{input}}?", output_definition={"dataType": "BOOLEAN"},
                            variable_mapping=[{"variable": "reply", "source": "output", "jsonPath": "$.text"}])


def rule_form(project, picked, **overrides):
    data = {
        "project": project.pk, "name": "chats", "enabled": "on", "target": "trace", "sampling": "1",
        "delay_seconds": "30", "monthly_budget": "", "filter": json.dumps(CHAT_ONLY),
        "evaluators": [e.pk for e in picked], "variable_mappings": "",
    }
    return {**data, **overrides}


def rule_url(name, rule):
    return reverse(f"admin:evaluators_evaluationrule_{name}", args=[rule.pk])


def chat_rule(project, evaluator):
    return evaluation_rule_create(project=project, name="chats", enabled=True, target="trace", filter=CHAT_ONLY,
                                  evaluator_assignments=[{"evaluatorId": evaluator.pk}])


# --- create and edit --------------------------------------------------------------------------------


def test_a_member_creates_a_rule_with_filters_sampling_delay_and_evaluators(client, project):
    greets = check_evaluator(project, {"type": "contains", "value": "hi"}, name="greets")
    polite = judge_without_model(project)
    as_role(client, project, Role.MEMBER)
    mapping = {polite.pk: [{"variable": "reply", "source": "output"}]}
    response = client.post(reverse("admin:evaluators_evaluationrule_add"),
                           rule_form(project, [greets, polite], sampling="0.5", variable_mappings=json.dumps(mapping)))
    assert response.status_code == 302, response.context["form"].errors
    rule = EvaluationRule.objects.get(project=project)
    assert (rule.enabled, rule.target, rule.sampling, rule.delay_seconds) == (True, "trace", 0.5, 30)
    assert rule.filter[0]["column"] == "name"
    assignments = list(RuleAssignment.objects.filter(rule=rule).order_by("position"))
    assert [a.evaluator_id for a in assignments] == [greets.pk, polite.pk]
    assert assignments[0].variable_mapping is None and assignments[1].variable_mapping[0]["source"] == "output"


def test_bad_rule_input_is_a_form_error_and_writes_nothing(client, project):
    greets = check_evaluator(project, {"type": "exact_match"})
    as_role(client, project, Role.MEMBER)
    cases = [
        ({"filter": '[{"type": "string", "column": "name", "operator": "=", "value": "x"}]'}, "filter"),
        ({"filter": '[{"column": "type", "type": "stringOptions", "operator": "any of", "value": ["SPAN"]}]'}, "filter"),
        ({"filter": "{oops"}, "filter"),
        ({"sampling": "2"}, "sampling"),
        ({"delay_seconds": "-1"}, "delay_seconds"),
        ({"variable_mappings": json.dumps({"someone-else": []})}, "variable_mappings"),
        ({"variable_mappings": json.dumps({greets.pk: "not a list"})}, "evaluators"),
    ]
    for overrides, field in cases:
        for button in ("_save", "_preview"):
            response = client.post(reverse("admin:evaluators_evaluationrule_add"),
                                   {**rule_form(project, [greets], **overrides), button: "1"})
            assert response.status_code == 200, (overrides, button)
            assert response.context["form"].errors.get(field), (overrides, button, response.context["form"].errors)
    # An enabled rule needs an evaluator to be saved (a preview without one just lists the objects).
    response = client.post(reverse("admin:evaluators_evaluationrule_add"), {**rule_form(project, []), "_save": "1"})
    assert response.context["form"].errors.get("evaluators")
    assert not EvaluationRule.objects.filter(project=project).exists()


def test_editing_a_rule_changes_its_filters_and_evaluators_through_the_service(client, project):
    greets = check_evaluator(project, {"type": "exact_match"}, name="greets")
    other = check_evaluator(project, {"type": "valid_json"}, name="json")
    rule = chat_rule(project, greets)
    as_role(client, project, Role.MEMBER)
    assert client.get(rule_url("edit", rule)).status_code == 200
    new_filter = [{"type": "stringOptions", "column": "name", "operator": "none of", "value": ["health"]}]
    response = client.post(rule_url("edit", rule), rule_form(project, [other], filter=json.dumps(new_filter), enabled="", delay_seconds="0"))
    assert response.status_code == 302
    rule.refresh_from_db()
    assert rule.filter[0]["operator"] == "none of" and rule.enabled is False
    assert list(rule.assignments.values_list("evaluator_id", flat=True)) == [other.pk]
    entry = AuditLog.objects.filter(project=project, action="evaluation_rule.update").latest("pk")
    # Only what changed is passed to the service (and audited), by the acting user.
    assert entry.detail["changed"] == ["enabled", "evaluator_assignments", "filter"] and entry.actor_user is not None


# --- preview ---------------------------------------------------------------------------------------


def test_the_preview_shows_what_each_variable_of_recent_matching_traces_would_be_filled_with(client, project):
    polite = judge_without_model(project)
    rule = chat_rule(project, polite)
    TraceFactory(project=project, name="chat", input="How are you?", output={"text": "Fine, thanks!"})
    TraceFactory(project=project, name="health", input="ping", output={"text": "pong"})
    TraceFactory(project=project, name="chat", input="judged", output="x", environment="langfuse-evaluation")
    as_role(client, project, Role.VIEWER)

    page = client.get(rule_url("preview", rule))

    assert page.status_code == 200
    [row] = page.context["preview"].rows
    assert row.target_kind == "trace" and row.sampled_in
    [filled] = row.evaluators
    assert filled.values == {"reply": "Fine, thanks!", "input": "How are you?"}
    text = page.content.decode()
    assert "Fine, thanks!" in text and "pong" not in text


def test_the_form_previews_unsaved_changes_without_saving_them(client, project):
    polite = judge_without_model(project)
    rule = chat_rule(project, polite)
    TraceFactory(project=project, name="chat", input="hello", output={"text": "hi"})
    TraceFactory(project=project, name="health", input="ping", output={"text": "pong"})
    as_role(client, project, Role.MEMBER)
    health_only = [{"type": "stringOptions", "column": "name", "operator": "any of", "value": ["health"]}]
    mapping = {polite.pk: [{"variable": "reply", "source": "input"}]}
    page = client.post(rule_url("edit", rule), rule_form(
        project, [polite], filter=json.dumps(health_only), variable_mappings=json.dumps(mapping), _preview="1",
    ))
    assert page.status_code == 200
    [row] = page.context["preview"].rows
    assert row.evaluators[0].values == {"reply": "ping", "input": "ping"}
    rule.refresh_from_db()
    assert rule.filter == CHAT_ONLY and rule.assignments.get().variable_mapping is None
    # A new rule is previewed too, and not created.
    page = client.post(reverse("admin:evaluators_evaluationrule_add"), rule_form(project, [polite], _preview="1"))
    assert page.status_code == 200 and len(page.context["preview"].rows) == 1
    assert EvaluationRule.objects.filter(project=project).count() == 1


def test_a_variable_without_a_source_is_shown_as_the_preview_error(client, project):
    odd = evaluator_create(project=project, name="odd", kind="llm_as_judge", prompt="Judge {{mystery}}",
                           output_definition={"dataType": "BOOLEAN"})
    rule = chat_rule(project, odd)
    TraceFactory(project=project, name="chat", input="a", output="b")
    as_role(client, project, Role.VIEWER)
    [row] = client.get(rule_url("preview", rule)).context["preview"].rows
    assert "mystery" in row.evaluators[0].error


# --- backfill --------------------------------------------------------------------------------------


def test_backfill_shows_the_estimate_first_then_creates_the_jobs_on_confirm(client, project):
    greets = check_evaluator(project, {"type": "exact_match"})
    rule = chat_rule(project, greets)
    now = timezone.now()
    for hours in (1, 2, 3):
        TraceFactory(project=project, name="chat", timestamp=now - timedelta(hours=hours))
    TraceFactory(project=project, name="health", timestamp=now - timedelta(hours=1))
    TraceFactory(project=project, name="chat", timestamp=now - timedelta(days=3))  # outside the range
    as_role(client, project, Role.MEMBER)
    window = {"start": (now - timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S"), "end": now.strftime("%Y-%m-%d %H:%M:%S")}

    page = client.post(rule_url("backfill", rule), {**window, "_estimate": "1"})
    assert page.status_code == 200
    estimate = page.context["estimate"]
    assert (estimate["objects"], estimate["matching"], estimate["sampled"]) == (4, 3, 3)
    assert "Confirm" in page.content.decode()
    assert not EvaluationJob.objects.filter(project=project).exists()

    done = client.post(rule_url("backfill", rule), {**window, "_confirm": "1"})
    assert done.status_code == 302 and f"rule__id__exact={rule.pk}" in done["Location"]
    assert EvaluationJob.objects.filter(project=project, rule=rule).count() == 3
    assert client.get(done["Location"]).status_code == 200


def test_a_bad_backfill_range_is_a_form_error(client, project):
    rule = chat_rule(project, check_evaluator(project, {"type": "exact_match"}))
    as_role(client, project, Role.MEMBER)
    for window in ({"start": "yesterday", "end": "2026-01-01"}, {"start": "2026-02-01", "end": "2026-01-01"}, {}):
        page = client.post(rule_url("backfill", rule), {**window, "_confirm": "1"})
        assert page.status_code == 200 and page.context["form"].errors
    assert not EvaluationJob.objects.exists()


# --- roles and tenancy -------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ANNOTATOR])
def test_readers_preview_but_cannot_create_edit_or_backfill(client, project, role):
    greets = check_evaluator(project, {"type": "exact_match"})
    rule = chat_rule(project, greets)
    TraceFactory(project=project, name="chat")
    as_role(client, project, role)
    assert client.get(rule_url("preview", rule)).status_code == 200
    assert client.get(rule_url("edit", rule)).status_code == 403
    assert client.post(rule_url("edit", rule), rule_form(project, [greets], name="renamed")).status_code == 403
    assert client.post(rule_url("backfill", rule), {"start": "2020-01-01", "end": "2030-01-01", "_confirm": "1"}).status_code == 403
    assert client.post(reverse("admin:evaluators_evaluationrule_add"), rule_form(project, [greets])).status_code == 403
    assert EvaluationRule.objects.filter(project=project).get().name == "chats"
    assert not EvaluationJob.objects.exists()


def test_another_projects_rule_pages_are_not_found(client, project, victim_project):
    theirs = chat_rule(victim_project, check_evaluator(victim_project, {"type": "exact_match"}))
    TraceFactory(project=victim_project, name="chat", input="their secret")
    as_role(client, project, Role.OWNER)
    for name in ("edit", "preview", "backfill"):
        assert client.get(rule_url(name, theirs)).status_code == 404
    assert client.post(rule_url("backfill", theirs), {"start": "2020-01-01", "end": "2030-01-01", "_confirm": "1"}).status_code == 404
    assert not EvaluationJob.objects.exists()


def test_a_rule_cannot_assign_another_projects_evaluator(client, project, victim_project):
    mine = check_evaluator(project, {"type": "exact_match"})
    theirs = check_evaluator(victim_project, {"type": "exact_match"})
    as_role(client, project, Role.MEMBER)
    response = client.post(reverse("admin:evaluators_evaluationrule_add"), rule_form(project, [mine, theirs]))
    assert response.status_code == 200 and response.context["form"].errors.get("evaluators")
    assert not EvaluationRule.objects.exists()


# --- "Evaluate with evaluators" on experiment runs ---------------------------------------------------------


def evaluate_action(client, runs, **extra):
    return client.post(reverse("admin:experiments_experimentrun_changelist"),
                       {"action": "evaluate_runs", "_selected_action": [r.pk for r in runs], **extra})


def test_a_member_evaluates_a_run_with_picked_evaluators_through_the_api_service(client, project):
    greets = check_evaluator(project, {"type": "exact_match"}, name="greets")
    check_evaluator(project, {"type": "valid_json"}, name="json")
    run = ExperimentRunFactory(project=project)
    items = [RunItemFactory(run=run) for _ in range(3)]
    as_role(client, project, Role.MEMBER)

    page = evaluate_action(client, [run])
    assert page.status_code == 200 and "greets" in page.content.decode() and "json" in page.content.decode()
    assert not EvaluationJob.objects.exists()

    done = evaluate_action(client, [run], apply="1", evaluators=[greets.pk])
    assert done.status_code == 302
    jobs = EvaluationJob.objects.filter(project=project, run=run)
    assert sorted(jobs.values_list("target_id", flat=True)) == sorted(str(i.pk) for i in items)
    assert set(jobs.values_list("evaluator_id", flat=True)) == {greets.pk}
    # Again: the items are already evaluated by this version, so no second job.
    evaluate_action(client, [run], apply="1", evaluators=[greets.pk])
    assert jobs.count() == 3


def test_evaluating_a_run_refuses_bad_picks_viewers_and_other_projects(client, project, victim_project):
    mine = check_evaluator(project, {"type": "exact_match"})
    theirs = check_evaluator(victim_project, {"type": "exact_match"})
    run = ExperimentRunFactory(project=project)
    RunItemFactory(run=run)
    their_run = ExperimentRunFactory(project=victim_project)
    RunItemFactory(run=their_run)
    as_role(client, project, Role.MEMBER)
    for picked in ([], [theirs.pk], ["nope"]):
        page = evaluate_action(client, [run], apply="1", evaluators=picked)
        assert page.status_code == 200 and page.context["form"].errors.get("evaluators"), picked
    # Another project's run is not in the scoped queryset: nothing is selected, nothing evaluated.
    evaluate_action(client, [their_run], apply="1", evaluators=[mine.pk])
    as_role(client, project, Role.VIEWER)
    evaluate_action(client, [run], apply="1", evaluators=[mine.pk])
    assert not EvaluationJob.objects.exists()


# --- spend -------------------------------------------------------------------------------------------


def test_the_evaluator_and_rule_pages_show_their_spend_by_version_and_rule(client, project):
    greets = check_evaluator(project, {"type": "exact_match"}, name="greets")
    rule = chat_rule(project, greets)
    TraceFactory(project=project, name="chat", trace_id="t" * 32)
    from evaluators.backfill import rule_backfill

    rule_backfill(project=project, rule=rule, start=timezone.now() - timedelta(days=1), end=timezone.now() + timedelta(hours=1))
    EvaluationJob.objects.filter(project=project).update(cost=Decimal("0.25"), finished_at=timezone.now(), status="completed")
    as_role(client, project, Role.VIEWER)
    evaluator_page = client.get(reverse("admin:evaluators_evaluator_change", args=[greets.pk])).content.decode()
    assert "greets v1: 0.2500" in evaluator_page and "rule chats: 0.2500" in evaluator_page
    rule_page = client.get(reverse("admin:evaluators_evaluationrule_change", args=[rule.pk])).content.decode()
    assert "evaluator greets: 0.2500" in rule_page and "greets v1: 0.2500" in rule_page
