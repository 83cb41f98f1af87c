"""The unmodified langfuse 5.0.4 SDK against a live server: its evaluator and evaluation-rule
clients parse every answer, and our errors parse as its PublicApiError."""

import pytest
from langfuse.api.evaluation_commons import (
    EvaluationRuleFilter_StringObject,
    EvaluationRuleFilter_StringOptions,
    EvaluatorOutputDefinition_Boolean,
    EvaluatorOutputDefinition_Categorical,
    PromptVariableMappingInput,
)
from langfuse.api.evaluation_errors.errors.evaluation_not_found_error import EvaluationNotFoundError
from langfuse.api.evaluation_rules import EvaluationRuleEvaluatorAssignmentInput
from langfuse.api.evaluators import (
    CreateEvaluatorRequest_Code,
    CreateEvaluatorRequest_LlmAsJudge,
    EvaluatorChatMessage,
    EvaluatorModelConfig,
    UpdateEvaluatorMetadataRequest,
    UpdateLlmAsJudgeEvaluatorRequest,
)

from evalsite.tenancy.roles import Role
from evaluators.models import EvaluatorVersion
from tests.evaluators.setup import MODEL, judge_connection
from tests.support.fake_llm import FakeLLMServer
from tests.support.live import langfuse_client
from tests.tenancy.factories import api_key_for

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


def test_sdk_manages_evaluators_and_rules_and_parses_every_answer(live_server, project):
    with FakeLLMServer() as llm:
        judge_connection(project, llm)
    key = api_key_for(project, Role.MEMBER)
    with langfuse_client(live_server, key) as lf:
        judge = lf.api.evaluators.create(
            request=CreateEvaluatorRequest_LlmAsJudge(
                name="tone",
                description="Is the tone right?",
                prompt=[
                    EvaluatorChatMessage(role="system", content="You judge tone."),
                    EvaluatorChatMessage(role="user", content="Answer: {{output}}\nContext: {{context}}"),
                ],
                model_config_=EvaluatorModelConfig(provider="fake", model=MODEL),
                variable_mapping=[PromptVariableMappingInput(variable="context", source="metadata", json_path="$.ctx")],
                output_definition=EvaluatorOutputDefinition_Categorical(
                    categories=["friendly", "neutral", "rude"], should_allow_multiple_matches=False
                ),
            )
        )
        assert judge.type == "llm_as_judge" and judge.version == 1 and judge.status == "active"
        assert judge.variables == ["output", "context"] and judge.model_config_.provider == "fake"
        assert judge.output_definition.categories == ["friendly", "neutral", "rude"]

        short = lf.api.evaluators.create(
            request=CreateEvaluatorRequest_LlmAsJudge(
                name="no model yet", prompt="Is {{output}} fine?", output_definition=EvaluatorOutputDefinition_Boolean()
            )
        )
        assert short.status == "paused" and short.paused_reason == "MODEL_CONFIG_MISSING"

        renamed = lf.api.evaluators.update(judge.id, request=UpdateEvaluatorMetadataRequest(name="tone v1"))
        assert renamed.name == "tone v1" and renamed.version == 1
        edited = lf.api.evaluators.update(
            judge.id,
            request=UpdateLlmAsJudgeEvaluatorRequest(
                prompt="Is {{output}} polite?",
                model_config_=EvaluatorModelConfig(provider="fake", model=MODEL),
                output_definition=EvaluatorOutputDefinition_Boolean(score_value_instructions="true if polite"),
            ),
        )
        assert edited.version == 2 and edited.output_definition.data_type == "BOOLEAN"

        rule = lf.api.evaluation_rules.create(
            name="polite generations",
            enabled=True,
            filter=[
                EvaluationRuleFilter_StringOptions(column="type", operator="any of", value=["GENERATION"]),
                EvaluationRuleFilter_StringObject(column="metadata", key="team", operator="=", value="support"),
            ],
            evaluator_assignments=[EvaluationRuleEvaluatorAssignmentInput(evaluator_id=judge.id)],
        )
        assert rule.enabled and rule.sampling == 1 and len(rule.filter) == 2
        assert rule.filter[1].key == "team" and rule.evaluator_assignments[0].evaluator_id == judge.id
        updated = lf.api.evaluation_rules.update(rule.id, sampling=0.25)
        assert updated.sampling == 0.25

        listed = lf.api.evaluators.list(limit=1)
        assert len(listed.data) == 1 and listed.meta.cursor
        rest = lf.api.evaluators.list(limit=1, cursor=listed.meta.cursor)
        assert {listed.data[0].id, rest.data[0].id} == {judge.id, short.id} and rest.meta.cursor is None
        fetched = lf.api.evaluators.get(judge.id)
        assert fetched.evaluation_rule_assignments[0].evaluation_rule_id == rule.id
        versions = lf.api.evaluators.list_versions(judge.id)
        assert [v.version for v in versions.data] == [2, 1]
        assert lf.api.evaluation_rules.list().data[0].id == rule.id
        assert lf.api.evaluation_rules.get(rule.id).name == "polite generations"

        with pytest.raises(Exception) as refused:
            lf.api.evaluators.create(
                request=CreateEvaluatorRequest_Code(name="py", source_code="return 1", source_code_language="PYTHON")
            )
        assert refused.value.status_code == 400
        assert refused.value.body.code == "invalid_body" and "deterministic check" in refused.value.body.message

        with pytest.raises(Exception) as wrong_type:
            lf.api.evaluation_rules.create(
                name="bad", enabled=False, evaluator_assignments=[],
                filter=[EvaluationRuleFilter_StringObject(column="type", key="x", operator="=", value="SPAN")],
            )
        assert wrong_type.value.status_code == 400 and "stringOptions" in wrong_type.value.body.message

        assert lf.api.evaluation_rules.delete(rule.id).id == rule.id
        assert lf.api.evaluators.delete(short.id).id == short.id
        with pytest.raises(EvaluationNotFoundError):
            lf.api.evaluators.get(short.id)

    assert EvaluatorVersion.objects.filter(project=project, evaluator_id=judge.id).count() == 2
