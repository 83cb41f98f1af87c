"""Concurrent writes to one prompt name (PostgreSQL: real row locks between connections)."""

import threading

import pytest
from django.db import connection, connections

from prompts.models import Prompt, PromptLabel
from prompts.services import prompt_labels_add
from tests.prompts.factories import text_prompt

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="row locks between connections: PostgreSQL only"
    ),
]


def run_concurrently(work, count: int) -> list[Exception]:
    failures = []
    start = threading.Barrier(count)

    def run(index: int):
        try:
            start.wait()
            work(index)
        except Exception as error:  # reported by the caller: a thread's exception would otherwise vanish
            failures.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return failures


def test_concurrent_creates_of_a_new_name_get_distinct_versions_and_one_latest(project):
    failures = run_concurrently(lambda index: text_prompt(project, name="race", labels=["production"]), 10)
    assert failures == []
    assert sorted(Prompt.objects.filter(name="race").values_list("version", flat=True)) == list(range(1, 11))
    latest = PromptLabel.objects.get(name="race", label="latest")
    assert latest.prompt.version == 10
    assert PromptLabel.objects.filter(name="race", label="production").count() == 1


def test_concurrent_label_moves_leave_each_label_on_exactly_one_version(project):
    for _ in range(4):
        text_prompt(project, name="moves")
    failures = run_concurrently(
        lambda index: prompt_labels_add(
            project=project, name="moves", version=index + 1, labels=["production"]
        ),
        4,
    )
    assert failures == []
    assert PromptLabel.objects.filter(name="moves", label="production").count() == 1
