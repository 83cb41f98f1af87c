"""Judges receive the media a variable maps to as OpenAI-style content parts (evaluators/judge_media.py),
checked on the requests the fake OpenAI-compatible server receives."""

import base64

import pytest

from evaluators.executor import jobs_execute
from evaluators.jobs import Target, jobs_create
from evaluators.judge_media import messages_with_media, part_bytes
from evaluators.models import EvaluationJob
from scoring.models import Score
from tests.evaluators.setup import boolean_judge, judge_connection
from tests.support.fake_llm import FakeLLMServer
from tests.traces.factories import TraceFactory
from tests.traces.media.factories import PDF, png, reference, stored_media
from traces.models import Trace

pytestmark = pytest.mark.django_db

PROMPT = [
    {"role": "system", "content": "You check that a picture answers the question."},
    {"role": "user", "content": "Question: {{question}}\nPicture: {{picture}}\nAnswer: {{output}}"},
]
MAPPING = [
    {"variable": "question", "source": "input", "jsonPath": "$.question"},
    {"variable": "picture", "source": "input", "jsonPath": "$.picture"},
]


@pytest.fixture
def llm():
    with FakeLLMServer() as server:
        server.json_answer = {"reasoning": "The picture is red.", "score": True}
        yield server


def judge_traces(project, evaluator, trace_ids):
    targets = [Target(kind="trace", id=trace_id, trace_id=trace_id) for trace_id in trace_ids]
    summary = jobs_create(project=project, version=evaluator.versions.get(), targets=targets, enqueue=False)
    jobs_execute(job_pks=summary.job_ids)


def request_about(llm, question):
    [request] = [r for r in llm.chat_requests if question in r.text]
    return request


def test_a_judge_receives_the_image_a_variable_maps_to_and_a_judge_without_media_plain_text(project, llm, media_root):
    image = png(rgb=(220, 10, 10))
    stored_media(project, image, trace_id="with-image")
    TraceFactory(project=project, trace_id="with-image", output="red",
                 input={"question": "Which colour?", "picture": reference(image, "image/png")})
    TraceFactory(project=project, trace_id="text-only", output="blue", input={"question": "Sky colour?", "picture": "none"})
    judge_connection(project, llm)
    evaluator = boolean_judge(project, prompt=PROMPT, variable_mapping=MAPPING)

    judge_traces(project, evaluator, ["with-image", "text-only"])

    system, user = request_about(llm, "Which colour?").messages
    assert system == {"role": "system", "content": PROMPT[0]["content"]}
    assert [part["type"] for part in user["content"]] == ["text", "image_url", "text"]
    assert user["content"][0]["text"] == "Question: Which colour?\nPicture: "
    assert user["content"][1]["image_url"]["url"] == "data:image/png;base64," + base64.b64encode(image).decode()
    assert user["content"][2]["text"].startswith("\nAnswer: red\n") and '"score"' in user["content"][2]["text"]

    plain = request_about(llm, "Sky colour?").messages[1]["content"]
    assert isinstance(plain, str) and plain.startswith("Question: Sky colour?\nPicture: none\nAnswer: blue")

    assert Score.objects.filter(project=project, source="EVAL", value=1.0).count() == 2
    # The judge's own trace keeps the reference (the page shows the image), not the bytes.
    job = EvaluationJob.objects.get(project=project, target_id="with-image")
    recorded = Trace.objects.get(project=project, trace_id=job.judge_trace_id).input
    assert reference(image, "image/png") in recorded[1]["content"] and "base64," not in str(recorded)


def test_media_of_another_project_is_described_never_sent(project, victim_project, llm, media_root):
    image = png(rgb=(1, 2, 3))
    stored_media(victim_project, image, trace_id="t")
    TraceFactory(project=project, trace_id="t", output="?", input={"question": "Whose?", "picture": reference(image, "image/png")})
    judge_connection(project, llm)
    judge_traces(project, boolean_judge(project, prompt=PROMPT, variable_mapping=MAPPING), ["t"])

    content = request_about(llm, "Whose?").messages[1]["content"]
    assert [part["type"] for part in content] == ["text"]
    assert "not stored" in content[0]["text"] and "base64," not in content[0]["text"]


def test_media_beyond_the_call_s_budget_is_described_instead(project, llm, media_root, settings):
    first, second = png(rgb=(9, 9, 9)), png(width=40, height=40, rgb=(8, 8, 8))
    for content in (first, second):
        stored_media(project, content, trace_id="two")
    settings.EVALSITE_EVAL_MEDIA_MAX_BYTES = len(first) + len(second) - 1
    pictures = f"{reference(first, 'image/png')} then {reference(second, 'image/png')}"
    TraceFactory(project=project, trace_id="two", output="x", input={"question": "Two?", "picture": pictures})
    judge_connection(project, llm)
    judge_traces(project, boolean_judge(project, prompt=PROMPT, variable_mapping=MAPPING), ["two"])

    content = request_about(llm, "Two?").messages[1]["content"]
    assert [part["type"] for part in content] == ["text", "image_url", "text"]
    assert "not shown" in content[2]["text"]


def test_the_budget_spans_the_user_messages_of_a_call_and_system_messages_stay_text(project, media_root):
    stored_media(project, PDF, "application/pdf", trace_id="t")
    ref = reference(PDF, "application/pdf")
    messages = [{"role": "system", "content": ref}, {"role": "user", "content": ref}, {"role": "user", "content": ref}]

    sent = messages_with_media(project=project, messages=messages, budget=len(PDF))

    assert sent[0] == messages[0]
    assert [part["type"] for part in sent[1]["content"]] == ["file"]
    assert part_bytes(sent[1]["content"][0]) == len(PDF)
    assert [part["type"] for part in sent[2]["content"]] == ["text"] and "not shown" in sent[2]["content"][0]["text"]


def test_stored_media_that_cannot_be_read_fails_the_job_without_a_call(project, llm, media_root):
    image = png(rgb=(5, 5, 5))
    media = stored_media(project, image, trace_id="lost")
    (media_root / media.storage_key).unlink()
    TraceFactory(project=project, trace_id="lost", output="x", input={"question": "Lost?", "picture": reference(image, "image/png")})
    judge_connection(project, llm)
    judge_traces(project, boolean_judge(project, prompt=PROMPT, variable_mapping=MAPPING), ["lost"])

    job = EvaluationJob.objects.get(project=project, target_id="lost")
    assert job.status == "failed" and "could not be read" in job.error
    assert llm.chat_requests == []
