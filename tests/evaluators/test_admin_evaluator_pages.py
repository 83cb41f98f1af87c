"""The evaluator admin's own pages: create, edit the definition (a new version), versions and diff,
and "try it" against the fake OpenAI-compatible server, which writes nothing."""

import json

import pytest
from django.urls import reverse

from evalsite.tenancy.roles import Role
from evaluators.models import EvaluationJob, Evaluator, EvaluatorVersion
from evaluators.services import evaluator_update
from scoring.models import Score
from tests.evaluators.setup import MODEL, boolean_judge, check_evaluator, judge_connection
from tests.experiments.factories import ExperimentRunFactory, RunItemFactory
from tests.support.fake_llm import FakeLLMServer
from tests.tenancy.factories import user_with_role
from tests.traces.factories import TraceFactory
from traces.models import Observation, Trace

pytestmark = pytest.mark.django_db

JUDGE_PROMPT = json.dumps([
    {"role": "system", "content": "You grade answers."},
    {"role": "user", "content": "Question: {{input}}\nAnswer: {{output}}"},
])


@pytest.fixture
def llm():
    with FakeLLMServer() as server:
        yield server


def as_role(client, project, role):
    client.force_login(user_with_role(project, role))
    return client


def url(name, obj):
    return reverse(f"admin:evaluators_evaluator_{name}", args=[obj.pk])


# --- creating and editing ----------------------------------------------------------------------------


def test_a_member_creates_a_judge_in_the_admin(client, project, llm):
    judge_connection(project, llm)
    as_role(client, project, Role.MEMBER)
    response = client.post(reverse("admin:evaluators_evaluator_add"), {
        "project": project.pk, "name": "correct", "kind": "llm_as_judge", "prompt": JUDGE_PROMPT,
        "connection": "fake", "model": MODEL, "model_parameters": '{"temperature": 0}',
        "output_definition": '{"dataType": "NUMERIC", "minValue": 0, "maxValue": 1}',
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    evaluator = Evaluator.objects.get(project=project, name="correct")
    version = evaluator.versions.get()
    assert (evaluator.kind, evaluator.status, version.version, version.model) == ("llm_as_judge", "active", 1, MODEL)
    assert version.variables == ["input", "output"] and version.model_parameters == {"temperature": 0}
    assert version.output_definition["maxValue"] == 1


def test_a_member_creates_a_check_in_the_admin(client, project):
    as_role(client, project, Role.MEMBER)
    response = client.post(reverse("admin:evaluators_evaluator_add"), {
        "project": project.pk, "name": "json", "kind": "check", "check": '{"type": "valid_json"}',
    })
    assert response.status_code == 302
    version = Evaluator.objects.get(project=project, name="json").versions.get()
    assert version.check_spec["type"] == "valid_json" and version.output_definition["dataType"] == "BOOLEAN"


def test_bad_input_on_the_create_page_is_a_form_error_and_writes_nothing(client, project):
    as_role(client, project, Role.MEMBER)
    cases = [
        ({"kind": "check", "check": "{not json"}, "check"),
        ({"kind": "check", "check": '{"type": "no_such_check"}'}, "check"),
        ({"kind": "llm_as_judge", "prompt": "[{broken", "output_definition": '{"dataType": "BOOLEAN"}'}, "prompt"),
        ({"kind": "llm_as_judge", "prompt": "Grade {{output}}", "output_definition": '{"dataType": "PERCENT"}'}, "output_definition"),
        # A model without a connection: the service refuses the model config.
        ({"kind": "llm_as_judge", "prompt": "Grade {{output}}", "model": "gpt", "output_definition": '{"dataType": "BOOLEAN"}'}, "connection"),
        ({"kind": "code", "check": '{"type": "valid_json"}'}, "kind"),
    ]
    for fields, field in cases:
        response = client.post(reverse("admin:evaluators_evaluator_add"), {"project": project.pk, "name": "x", **fields})
        assert response.status_code == 200, fields
        assert response.context["form"].errors.get(field), (fields, response.context["form"].errors)
    assert not Evaluator.objects.filter(project=project).exists()


def test_editing_the_definition_adds_a_version_and_leaves_the_old_one_as_it_was(client, project):
    evaluator = check_evaluator(project, {"type": "contains", "value": "hello"}, name="greets")
    first = evaluator.versions.get()
    as_role(client, project, Role.MEMBER)
    page = client.get(url("definition", evaluator))
    assert page.status_code == 200 and "hello" in page.content.decode()

    response = client.post(url("definition", evaluator), {
        "name": "greets", "description": "", "check": '{"type": "contains", "value": "bonjour"}',
    })
    assert response.status_code == 302
    versions = list(evaluator.versions.order_by("version"))
    assert [v.version for v in versions] == [1, 2]
    assert versions[1].check_spec["value"] == "bonjour"
    first.refresh_from_db()
    assert first.check_spec["value"] == "hello"


def test_a_new_name_alone_adds_no_version(client, project, llm):
    judge_connection(project, llm)
    evaluator = boolean_judge(project)
    as_role(client, project, Role.MEMBER)
    form = client.get(url("definition", evaluator)).context["form"]
    # What the browser sends back: every field as the page rendered it.
    data = {name: form[name].value() for name in form.fields if name != "kind"}
    data = {key: ("" if value is None else value) for key, value in data.items()}
    # Browsers send textarea newlines as \r\n.
    data["prompt"] = data["prompt"].replace("\n", "\r\n")
    data["name"] = "renamed"
    response = client.post(url("definition", evaluator), data)
    assert response.status_code == 302, response.context["form"].errors
    evaluator.refresh_from_db()
    assert evaluator.name == "renamed" and evaluator.versions.count() == 1


def test_the_versions_page_diffs_any_two_versions(client, project):
    evaluator = check_evaluator(project, {"type": "contains", "value": "one"})
    evaluator_update(project=project, evaluator=evaluator, kind="check", check={"type": "contains", "value": "two"})
    evaluator_update(project=project, evaluator=evaluator, kind="check", check={"type": "contains", "value": "three"})
    as_role(client, project, Role.VIEWER)
    latest = client.get(url("versions", evaluator))
    assert latest.status_code == 200
    assert "-    &quot;value&quot;: &quot;two&quot;" in latest.content.decode()
    assert "+    &quot;value&quot;: &quot;three&quot;" in latest.content.decode()
    picked = client.get(url("versions", evaluator), {"a": 1, "b": 3}).content.decode()
    assert "--- v1" in picked and "+++ v3" in picked and "&quot;one&quot;" in picked
    refused = client.get(url("versions", evaluator), {"a": "x", "b": 99})
    assert refused.status_code == 200 and "Pick two versions" in refused.content.decode()


# --- roles and tenancy -----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ANNOTATOR])
def test_readers_see_versions_but_cannot_create_edit_or_try(client, project, role):
    evaluator = check_evaluator(project, {"type": "exact_match"})
    as_role(client, project, role)
    assert client.get(url("versions", evaluator)).status_code == 200
    assert client.get(url("definition", evaluator)).status_code == 403
    assert client.post(url("definition", evaluator), {"name": "x", "check": '{"type": "valid_json"}'}).status_code == 403
    assert client.get(url("try", evaluator)).status_code == 403
    assert client.post(url("try", evaluator), {"target_kind": "trace", "target_id": "t", "version": 1}).status_code == 403
    add = client.post(reverse("admin:evaluators_evaluator_add"),
                      {"project": project.pk, "name": "x", "kind": "check", "check": '{"type": "valid_json"}'})
    assert add.status_code == 403
    assert EvaluatorVersion.objects.filter(project=project).count() == 1
    assert Evaluator.objects.filter(project=project).count() == 1


def test_another_projects_evaluator_pages_are_not_found(client, project, victim_project):
    theirs = check_evaluator(victim_project, {"type": "exact_match"})
    as_role(client, project, Role.OWNER)
    for name in ("definition", "versions", "try"):
        assert client.get(url(name, theirs)).status_code == 404
    assert client.post(url("definition", theirs), {"name": "x", "check": '{"type": "valid_json"}'}).status_code == 404
    # Nor can an evaluator be created in their project by naming it.
    response = client.post(reverse("admin:evaluators_evaluator_add"),
                           {"project": victim_project.pk, "name": "x", "kind": "check", "check": '{"type": "valid_json"}'})
    assert response.status_code == 200 and "pick a project" in response.content.decode()
    assert Evaluator.objects.filter(project=victim_project).count() == 1
    assert not Evaluator.objects.filter(project=project).exists()


# --- try it ------------------------------------------------------------------------------------------


def nothing_written(project, traces_before: int) -> bool:
    return (
        not EvaluationJob.objects.filter(project=project).exists()
        and not Score.objects.filter(project=project).exists()
        and Trace.objects.filter(project=project).count() == traces_before
        and not Observation.objects.filter(project=project, environment="langfuse-evaluation").exists()
    )


def test_trying_a_judge_on_a_trace_shows_the_messages_the_answer_and_the_score_and_writes_nothing(client, project, llm):
    judge_connection(project, llm)
    evaluator = boolean_judge(project, prompt=[
        {"role": "system", "content": "You grade answers."},
        {"role": "user", "content": "Question: {{input}}\nAnswer: {{output}}"},
    ])
    trace = TraceFactory(project=project, input="What is 2 + 2?", output="4")
    llm.json_answer = {"reasoning": "Two and two make four.", "score": True}
    as_role(client, project, Role.MEMBER)

    page = client.post(url("try", evaluator), {"target_kind": "trace", "target_id": trace.trace_id, "version": 1})

    assert page.status_code == 200
    trial = page.context["trial"]
    assert trial.error is None and trial.values == [1.0] and trial.explanation == "Two and two make four."
    assert trial.messages[1]["content"].startswith("Question: What is 2 + 2?\nAnswer: 4")
    assert json.loads(trial.raw_answer)["score"] is True
    text = page.content.decode()
    assert "Question: What is 2 + 2?" in text and "Two and two make four." in text
    # The executor's own call: one request, with the structured answer format, to the project's connection.
    [call] = llm.chat_requests
    assert call.body["model"] == MODEL and call.body["response_format"]["type"] == "json_schema"
    assert "What is 2 + 2?" in call.body["messages"][1]["content"]
    assert trial.input_tokens and trial.cost is not None
    assert nothing_written(project, traces_before=1)


def test_a_malformed_judge_answer_is_shown_as_the_error_with_the_raw_answer(client, project, llm):
    judge_connection(project, llm)
    evaluator = boolean_judge(project)
    trace = TraceFactory(project=project, input="q", output="a")
    llm.json_answer = {"reasoning": "unsure", "score": "maybe"}
    as_role(client, project, Role.MEMBER)
    page = client.post(url("try", evaluator), {"target_kind": "trace", "target_id": trace.trace_id, "version": 1})
    trial = page.context["trial"]
    assert trial.score is None and "not true or false" in trial.error and "maybe" in trial.raw_answer
    assert nothing_written(project, traces_before=1)


def test_trying_a_check_on_a_run_item_runs_it_locally(client, project):
    evaluator = check_evaluator(project, {"type": "exact_match"})
    item = RunItemFactory(run=ExperimentRunFactory(project=project), output="expected", expected_output="expected")
    as_role(client, project, Role.MEMBER)
    page = client.post(url("try", evaluator), {"target_kind": "run_item", "target_id": str(item.pk), "version": 1})
    trial = page.context["trial"]
    assert trial.values == [1.0] and trial.messages is None and trial.raw_answer is None
    assert not EvaluationJob.objects.exists() and not Score.objects.exists()


def test_an_older_version_and_a_mapping_override_can_be_tried(client, project, llm):
    judge_connection(project, llm)
    evaluator = boolean_judge(project, prompt="Answer: {{output}}")
    evaluator_update(project=project, evaluator=evaluator, kind="llm_as_judge", prompt="Reply: {{output}}",
                     model_config={"provider": "fake", "model": MODEL}, output_definition={"dataType": "BOOLEAN"})
    trace = TraceFactory(project=project, output={"text": "deep value"})
    as_role(client, project, Role.MEMBER)
    page = client.post(url("try", evaluator), {
        "target_kind": "trace", "target_id": trace.trace_id, "version": 1,
        "variable_mapping": '[{"variable": "output", "source": "output", "jsonPath": "$.text"}]',
    })
    trial = page.context["trial"]
    assert trial.version.version == 1 and trial.messages[0]["content"].startswith("Answer: deep value")


def test_a_missing_or_foreign_target_and_a_bad_mapping_are_form_errors(client, project, victim_project, llm):
    judge_connection(project, llm)
    evaluator = boolean_judge(project)
    theirs = TraceFactory(project=victim_project, input="secret", output="secret")
    as_role(client, project, Role.MEMBER)
    cases = [
        ({"target_kind": "trace", "target_id": theirs.trace_id}, "target_id"),
        ({"target_kind": "trace", "target_id": "nope"}, "target_id"),
        ({"target_kind": "run_item", "target_id": "12abc"}, "target_id"),
        ({"target_kind": "galaxy", "target_id": "x"}, "target_kind"),
        ({"target_kind": "trace", "target_id": theirs.trace_id, "variable_mapping": '[{"variable": "nope", "source": "output"}]'},
         "variable_mapping"),
    ]
    for fields, field in cases:
        page = client.post(url("try", evaluator), {"version": 1, **fields})
        assert page.status_code == 200
        assert page.context["form"].errors.get(field), (fields, page.context["form"].errors)
        assert page.context["trial"] is None and "secret" not in page.content.decode()
    assert llm.chat_requests == []


def test_trying_a_check_on_an_observation_reads_the_observation(client, project):
    from tests.traces.factories import ObservationFactory

    evaluator = check_evaluator(project, {"type": "contains", "value": "bonjour"})
    observation = ObservationFactory(trace=TraceFactory(project=project, output="nothing"), output="bonjour !")
    as_role(client, project, Role.MEMBER)
    page = client.post(url("try", evaluator), {"target_kind": "observation", "target_id": observation.observation_id, "version": 1})
    assert page.context["trial"].values == [1.0]


def test_a_nul_in_a_posted_project_or_target_is_refused_without_a_server_error(client, project):
    evaluator = check_evaluator(project, {"type": "exact_match"})
    as_role(client, project, Role.MEMBER)
    add = client.post(reverse("admin:evaluators_evaluator_add"),
                      {"project": "a\x00", "name": "x", "kind": "check", "check": '{"type": "valid_json"}'})
    assert add.status_code == 200 and Evaluator.objects.filter(project=project).count() == 1
    page = client.post(url("try", evaluator), {"target_kind": "trace", "target_id": "t\x00", "version": 1})
    assert page.status_code == 200 and page.context["form"].errors.get("target_id")


def test_a_run_item_number_too_big_or_not_ascii_is_a_form_error(client, project):
    evaluator = check_evaluator(project, {"type": "exact_match"})
    as_role(client, project, Role.MEMBER)
    for target_id in ("9" * 30, "²", "-1"):
        page = client.post(url("try", evaluator), {"target_kind": "run_item", "target_id": target_id, "version": 1})
        assert page.status_code == 200 and page.context["form"].errors.get("target_id"), target_id
