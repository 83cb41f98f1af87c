"""Where score analytics meets the apps being built beside it (evaluators, annotations).

Those apps come after scoring and before dashboards in the app order, so analytics could import
them; today they do not exist yet, and analytics reads only what every score already carries:
`source` and `metadata`. Each assumption about them is named here, in one place, to be wired when
they land:

* EVALUATOR_ID_KEY / EVALUATOR_VERSION_KEY — the metadata keys an evaluator writes on its scores
  ("scores record the evaluator id and version in their metadata", issue 10).
* FINAL_ANNOTATION_KEY — the metadata flag of an annotation queue's final score (issue 11: "marked
  as such"); human gold is the final annotation where one exists, else the latest annotation.
* evaluator_spend() / queue_progress() — the built-in dashboard's evaluator-spend and queue-progress
  panels: None until those apps offer a selector (the panels then say "not available yet").
"""

from __future__ import annotations

from typing import Any

from evalsite.tenancy.models import Project

EVALUATOR_ID_KEY = "evaluator_id"
EVALUATOR_VERSION_KEY = "evaluator_version"
FINAL_ANNOTATION_KEY = "final"


def is_final_annotation(metadata: Any) -> bool:
    return isinstance(metadata, dict) and metadata.get(FINAL_ANNOTATION_KEY) is True


def evaluator_version_of(metadata: Any) -> str | None:
    """The evaluator version a score's metadata names, as text ("3"), or None."""
    if not isinstance(metadata, dict) or metadata.get(EVALUATOR_VERSION_KEY) is None:
        return None
    return str(metadata[EVALUATOR_VERSION_KEY])


def evaluator_spend(*, project: Project, from_timestamp, to_timestamp) -> list[dict] | None:
    """Cost of evaluator calls per day and evaluator: owned by evaluators/ (issue 10), not built yet."""
    return None


def queue_progress(*, project: Project) -> list[dict] | None:
    """Done/remaining per annotation queue: owned by annotations/ (issue 11), not built yet."""
    return None
