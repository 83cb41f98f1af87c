"""Project pages for the page scoping test (tests/support/cross_project.py): every page under
/projects/<project_id>/ and every SDK link under /project/<project_id>/, including the pages of
other apps, so one place lists what a member of another project must never open."""

from tests.experiments.factories import ExperimentRunFactory
from tests.support.cross_project import PageCase
from tests.traces.factories import TraceFactory

CASES = []


def _trace(project) -> dict:
    return {"trace_id": TraceFactory(project=project, trace_id="folder/trace-id").trace_id}


def _run(project) -> dict:
    ExperimentRunFactory(project=project, run_id="run-of-the-page")
    return {}


PAGE_CASES = [
    PageCase(pattern="projects/<str:project_id>/", make=lambda project: {}),
    PageCase(pattern="projects/<str:project_id>/traces/<path:trace_id>", make=_trace),
    PageCase(pattern="projects/<str:project_id>/experiments/compare", make=_run, query={"runs": "run-of-the-page"}),
    PageCase(pattern="project/<str:project_id>/traces/<path:trace_id>", make=_trace),
    PageCase(pattern="project/<str:project_id>/experiments/results", make=_run, query={"baseline": "run-of-the-page"}),
]
