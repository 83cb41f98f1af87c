"""Where score analytics and the home dashboard meet the apps below them that write evaluation
data (evaluators, annotations). Dashboards is the highest app, so it reads their selectors; each
assumption about what those apps write is named here, in one place:

* EVALUATOR_ID_KEY / EVALUATOR_VERSION_KEY — the metadata keys the evaluator executor writes on
  every score it records (evaluators/executor.py, `Executor.scores_for`).
* FINAL_ANNOTATION_KEY — the metadata flag of an annotation queue's final score, written by the
  adjudication step (annotations/claims.py, `scores_write(final=True)`); human gold is the final
  annotation where one exists, else the latest annotation.
* evaluator_spend() / queue_progress() — the built-in dashboard's evaluator-spend and
  queue-progress panels, from evaluators' and annotations' selectors.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from annotations.claims import ADJUDICATED_KEY
from annotations.selectors import queue_progress_list
from evalsite.tenancy.models import Project
from evaluators.executor import EVALUATOR_ID_KEY as EXECUTOR_EVALUATOR_ID_KEY
from evaluators.executor import EVALUATOR_VERSION_KEY as EXECUTOR_EVALUATOR_VERSION_KEY
from evaluators.selectors import evaluator_spend_by_day

EVALUATOR_ID_KEY = EXECUTOR_EVALUATOR_ID_KEY
EVALUATOR_VERSION_KEY = EXECUTOR_EVALUATOR_VERSION_KEY
FINAL_ANNOTATION_KEY = ADJUDICATED_KEY


def is_final_annotation(metadata: Any) -> bool:
    return isinstance(metadata, dict) and metadata.get(FINAL_ANNOTATION_KEY) is True


def evaluator_version_of(metadata: Any) -> str | None:
    """The evaluator version a score's metadata names, as text ("3"), or None."""
    if not isinstance(metadata, dict) or metadata.get(EVALUATOR_VERSION_KEY) is None:
        return None
    return str(metadata[EVALUATOR_VERSION_KEY])


def evaluator_spend(*, project: Project, from_timestamp: datetime, to_timestamp: datetime) -> list[dict]:
    """Cost of evaluator calls per UTC day and evaluator in the window (empty when nothing was spent)."""
    return evaluator_spend_by_day(project=project, from_timestamp=from_timestamp, to_timestamp=to_timestamp)


def queue_progress(*, project: Project) -> list[dict]:
    """Per annotation queue: total, completed, pending, in progress (empty when there is no queue)."""
    return [
        {
            "queue_id": row.queue_id, "name": row.name, "total": row.progress.total,
            "completed": row.progress.completed, "pending": row.progress.pending,
            "in_progress": row.progress.in_progress,
        }
        for row in queue_progress_list(project=project)
    ]
