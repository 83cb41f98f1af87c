"""Versions, labels, tags and type rules of prompts, through the services and selectors."""

import pytest
from django.core.exceptions import ValidationError

from evalsite.errors import NotFound
from evalsite.tenancy.models import AuditLog
from prompts.models import Prompt, PromptLabel
from prompts.selectors import prompt_get, prompt_versions
from prompts.services import (
    prompt_delete,
    prompt_labels_add,
    prompt_labels_set,
    prompt_tags_set,
)
from tests.prompts.factories import chat_prompt, text_prompt

pytestmark = pytest.mark.django_db


def labels_by_version(project, name):
    return {p.version: p.label_names() for p in prompt_versions(project=project, name=name)}


def test_versions_count_up_per_name_and_project(project, victim_project):
    assert [text_prompt(project).version for _ in range(3)] == [1, 2, 3]
    assert text_prompt(project, name="other").version == 1
    assert text_prompt(victim_project).version == 1


def test_latest_always_moves_to_the_newest_version(project):
    text_prompt(project)
    text_prompt(project)
    assert labels_by_version(project, "folder/greeting") == {1: [], 2: ["latest"]}


def test_assigning_a_label_on_create_takes_it_from_the_older_version(project):
    text_prompt(project, labels=["production", "staging"])
    text_prompt(project, labels=["production"])
    assert labels_by_version(project, "folder/greeting") == {1: ["staging"], 2: ["latest", "production"]}


def test_a_fetch_without_label_or_version_returns_the_production_version(project):
    text_prompt(project, content="v1", labels=["production"])
    text_prompt(project, content="v2")
    assert prompt_get(project=project, name="folder/greeting").prompt == "v1"
    assert prompt_get(project=project, name="folder/greeting", label="latest").prompt == "v2"
    assert prompt_get(project=project, name="folder/greeting", version=2).prompt == "v2"


def test_a_fetch_without_label_is_not_found_when_no_version_is_in_production(project):
    text_prompt(project)
    with pytest.raises(Prompt.DoesNotExist, match="label 'production'"):
        prompt_get(project=project, name="folder/greeting")


def test_a_new_version_cannot_change_the_prompt_type(project):
    text_prompt(project, name="typed")
    with pytest.raises(ValidationError) as raised:
        chat_prompt(project, name="typed")
    assert "prompt_type" in raised.value.message_dict
    assert Prompt.objects.filter(name="typed").count() == 1


def test_tags_apply_to_every_version_and_none_keeps_them(project):
    text_prompt(project, tags=["a"])
    text_prompt(project)
    assert [tags for (tags,) in Prompt.objects.order_by("version").values_list("tags")] == [["a"], ["a"]]
    text_prompt(project, tags=["b", "c"])
    assert [tags for (tags,) in Prompt.objects.order_by("version").values_list("tags")] == [["b", "c"]] * 3
    prompt_tags_set(project=project, name="folder/greeting", tags=[])
    assert [tags for (tags,) in Prompt.objects.values_list("tags")] == [[]] * 3


def test_adding_labels_keeps_the_version_s_other_labels_and_moves_the_new_ones(project):
    text_prompt(project, labels=["production", "staging"])
    text_prompt(project)
    prompt_labels_add(project=project, name="folder/greeting", version=2, labels=["production", "canary"])
    assert labels_by_version(project, "folder/greeting") == {
        1: ["staging"],
        2: ["canary", "latest", "production"],
    }


def test_latest_cannot_be_given_to_an_older_version(project):
    text_prompt(project)
    text_prompt(project)
    with pytest.raises(ValidationError):
        prompt_labels_add(project=project, name="folder/greeting", version=1, labels=["latest"])
    prompt_labels_add(project=project, name="folder/greeting", version=2, labels=["latest"])  # a no-op
    assert labels_by_version(project, "folder/greeting") == {1: [], 2: ["latest"]}


def test_setting_labels_replaces_the_version_s_labels_but_keeps_latest_on_the_newest(project):
    old = text_prompt(project, labels=["production"])
    new = text_prompt(project, labels=["staging"])
    prompt_labels_set(prompt=old, labels=["staging", "qa"])
    assert labels_by_version(project, "folder/greeting") == {1: ["qa", "staging"], 2: ["latest"]}
    with pytest.raises(ValidationError):
        prompt_labels_set(prompt=new, labels=["production"])  # would drop latest from the newest
    with pytest.raises(ValidationError):
        prompt_labels_set(prompt=old, labels=["latest"])


@pytest.mark.parametrize("label", ["Production", "has space", "x" * 37, ""])
def test_invalid_labels_are_refused(project, label):
    with pytest.raises(ValidationError) as raised:
        text_prompt(project, labels=[label])
    assert "labels" in raised.value.message_dict


@pytest.mark.parametrize("name", ["", " padded", "/abs", "trailing/", "a//b"])
def test_invalid_names_are_refused(project, name):
    with pytest.raises(ValidationError) as raised:
        text_prompt(project, name=name)
    assert "name" in raised.value.message_dict


@pytest.mark.parametrize(
    "content",
    ["not a list", [{"role": "user"}], [{"content": "x"}], [{"type": "placeholder"}], ["text"]],
)
def test_malformed_chat_messages_are_refused(project, content):
    with pytest.raises(ValidationError) as raised:
        chat_prompt(project, content=content)
    assert "content" in raised.value.message_dict


def test_chat_messages_are_stored_in_the_sdk_shape(project):
    prompt = chat_prompt(
        project,
        content=[
            {"role": "user", "content": "hi", "type": "chatmessage"},
            {"type": "placeholder", "name": "h", "extra": 1},
        ],
    )
    assert prompt.prompt == [{"role": "user", "content": "hi"}, {"type": "placeholder", "name": "h"}]


def test_deleting_the_newest_version_moves_latest_back(project):
    text_prompt(project, labels=["production"])
    text_prompt(project)
    assert prompt_delete(project=project, name="folder/greeting", version=2) == 1
    assert labels_by_version(project, "folder/greeting") == {1: ["latest", "production"]}
    assert AuditLog.objects.filter(action="prompt.delete", project=project).count() == 1


def test_deleting_by_label_removes_only_the_labelled_version(project):
    text_prompt(project, labels=["production"])
    text_prompt(project)
    prompt_delete(project=project, name="folder/greeting", label="production")
    assert labels_by_version(project, "folder/greeting") == {2: ["latest"]}


def test_deleting_without_version_or_label_removes_every_version(project):
    text_prompt(project)
    text_prompt(project)
    assert prompt_delete(project=project, name="folder/greeting") == 2
    assert not Prompt.objects.exists() and not PromptLabel.objects.exists()


def test_deleting_what_does_not_exist_raises_not_found(project):
    text_prompt(project)
    with pytest.raises(NotFound):
        prompt_delete(project=project, name="folder/greeting", version=9)
    with pytest.raises(NotFound):
        prompt_delete(project=project, name="folder/greeting", label="production")
