"""The unmodified langfuse 5.0.4 SDK creates, fetches, relabels and compiles prompts against us."""

import pytest

from prompts.compile import prompt_compile
from prompts.models import Prompt
from tests.support.live import langfuse_client
from tests.tenancy.factories import api_key_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live]

CHAT = [
    {"role": "system", "content": "You are {{persona}}."},
    {"type": "placeholder", "name": "history"},
    {"role": "user", "content": "{{ question }}"},
]


@pytest.fixture
def langfuse(live_server, project):
    with langfuse_client(live_server, api_key_for(project)) as client:
        yield client


def test_sdk_creates_and_fetches_a_text_prompt_in_a_folder_by_label_and_by_version(langfuse, project):
    first = langfuse.create_prompt(
        name="support/greeting",
        prompt="Hi {{name}}",
        labels=["production"],
        config={"model": "m1"},
        tags=["cs"],
    )
    second = langfuse.create_prompt(
        name="support/greeting", prompt="Hello {{name}}, welcome to {{place}}!", labels=["staging"],
        commit_message="warmer",
    )  # fmt: skip
    assert (first.version, second.version) == (1, 2)
    assert second.commit_message == "warmer"

    production = langfuse.get_prompt("support/greeting", cache_ttl_seconds=0)
    assert (production.version, production.prompt, production.config) == (1, "Hi {{name}}", {"model": "m1"})
    staging = langfuse.get_prompt("support/greeting", label="staging", cache_ttl_seconds=0)
    assert staging.version == 2
    assert sorted(staging.labels) == ["latest", "staging"]
    assert staging.tags == ["cs"]  # tags belong to the name: the second version kept them
    by_version = langfuse.get_prompt("support/greeting", version=2, cache_ttl_seconds=0)
    assert by_version.prompt == "Hello {{name}}, welcome to {{place}}!"

    variables = {"name": "Ada", "place": "the lab"}
    assert by_version.compile(**variables) == "Hello Ada, welcome to the lab!"
    stored = Prompt.objects.get(project=project, name="support/greeting", version=2)
    assert prompt_compile(stored, variables) == by_version.compile(**variables)


def test_sdk_creates_and_compiles_a_chat_prompt_with_a_placeholder(langfuse, project):
    created = langfuse.create_prompt(name="agents/qa", type="chat", prompt=CHAT, labels=["production"])
    assert created.version == 1

    fetched = langfuse.get_prompt("agents/qa", type="chat", cache_ttl_seconds=0)
    assert fetched.prompt[1] == {"type": "placeholder", "name": "history"}
    history = [{"role": "user", "content": "earlier {{persona}}"}, {"role": "assistant", "content": "ok"}]
    variables = {"persona": "a tutor", "question": "What is 2+2?", "history": history}
    compiled = fetched.compile(**variables)
    assert compiled == [
        {"role": "system", "content": "You are a tutor."},
        {"role": "user", "content": "earlier a tutor"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "What is 2+2?"},
    ]
    assert prompt_compile(Prompt.objects.get(project=project, name="agents/qa"), variables) == compiled

    by_version = langfuse.get_prompt("agents/qa", type="chat", version=1, cache_ttl_seconds=0)
    # The given labels first and `latest` last, as Langfuse lists them.
    assert by_version.version == 1 and by_version.labels == ["production", "latest"]


def test_sdk_update_prompt_moves_a_label_and_a_missing_prompt_raises_not_found(langfuse):
    langfuse.create_prompt(name="a/b/c", prompt="one", labels=["production"])
    langfuse.create_prompt(name="a/b/c", prompt="two")
    updated = langfuse.update_prompt(name="a/b/c", version=2, new_labels=["production"])
    assert updated.version == 2 and "production" in updated.labels

    assert langfuse.get_prompt("a/b/c", cache_ttl_seconds=0).prompt == "two"
    assert langfuse.get_prompt("a/b/c", version=1, cache_ttl_seconds=0).labels == []
    with pytest.raises(Exception) as raised:
        langfuse.get_prompt("a/b/missing", cache_ttl_seconds=0, max_retries=0)
    assert "NotFound" in type(raised.value).__name__ or "404" in str(raised.value)


def test_sdk_lists_prompts_through_the_generated_client(langfuse):
    langfuse.create_prompt(name="listed/one", prompt="x", tags=["t"])
    langfuse.create_prompt(name="listed/one", prompt="y")
    page = langfuse.api.prompts.list(tag="t")
    assert [(meta.name, meta.versions, meta.labels) for meta in page.data] == [
        ("listed/one", [1, 2], ["latest"])
    ]
    assert page.meta.total_items == 1


def test_a_generation_linked_to_a_prompt_reads_back_with_the_prompt_versions_id(langfuse, project):
    langfuse.create_prompt(name="linked/p", prompt="v1 {{x}}", labels=["production"])
    langfuse.create_prompt(name="linked/p", prompt="v2 {{x}}")
    prompt = langfuse.get_prompt("linked/p", version=2, cache_ttl_seconds=0)
    with langfuse.start_as_current_observation(name="call", as_type="generation", model="m", prompt=prompt) as generation:
        generation.update(output="done")
    langfuse.flush()

    expected = Prompt.objects.get(project=project, name="linked/p", version=2).id
    observations = langfuse.api.observations.get_many(trace_id=generation.trace_id, fields="core,prompt").data
    assert [(o.prompt_name, o.prompt_version, o.prompt_id) for o in observations] == [("linked/p", 2, expected)]
