"""Enqueue django-q2 tasks after the surrounding transaction commits.

A task takes only ids and re-reads its row, so it must not start before that row is committed.
If the broker is down when the commit happens the error propagates: work is never silently run
inline in the web request instead.
"""

from django.db import transaction
from django_q.tasks import async_task


def enqueue_after_commit(func_path: str, *args, task_name: str | None = None, group: str | None = None) -> None:
    def send() -> None:
        kwargs = {}
        if task_name:
            kwargs["task_name"] = task_name
        if group:
            kwargs["group"] = group
        async_task(func_path, *args, **kwargs)

    transaction.on_commit(send)
