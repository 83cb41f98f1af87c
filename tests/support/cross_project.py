"""The registry behind the cross-project tests.

Every app's tests folder may hold a `cross_project_cases.py` defining `CASES`: for each API route
with a path parameter, how to create an object in a given project and the URL kwargs that name it.
`tests/api/test_cross_project.py` creates each object in the victim project, calls every method of
the route with a key of another project, and expects 404 — and fails when a parameterised route
has no case at all, so a new route cannot skip the check.

The same module may define `PAGE_CASES` for the project pages (`projects/<project_id>/…` and the
SDK's `project/<project_id>/…` links): `tests/pages/test_page_scoping.py` opens each, made in the
victim project, as the owner of another project and expects 404, and fails when a page has no case.
"""

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class CrossProjectCase:
    pattern: str  # the route as the urlconf writes it, e.g. "api/public/scores/<str:score_id>"
    make: Callable  # make(project) -> dict of URL kwargs naming an object of that project
    body: dict = field(default_factory=dict)  # a valid body for PUT/PATCH/POST, so only scoping can refuse
    still_there: Callable | None = None  # still_there(project, kwargs) -> bool, checked after writes


def all_cases() -> list[CrossProjectCase]:
    tests_dir = Path(__file__).resolve().parent.parent
    cases = []
    for module in pkgutil.iter_modules([str(tests_dir)]):
        if not module.ispkg:
            continue
        try:
            registry = importlib.import_module(f"tests.{module.name}.cross_project_cases")
        except ModuleNotFoundError as error:
            if error.name != f"tests.{module.name}.cross_project_cases":
                raise
            continue
        cases += registry.CASES
    return cases


@dataclass(frozen=True)
class PageCase:
    pattern: str  # e.g. "projects/<str:project_id>/traces/<path:trace_id>"
    make: Callable  # make(project) -> URL kwargs other than project_id, naming what the page shows
    query: dict = field(default_factory=dict)


def _registries():
    tests_dir = Path(__file__).resolve().parent.parent
    for module in pkgutil.iter_modules([str(tests_dir)]):
        if not module.ispkg:
            continue
        try:
            yield importlib.import_module(f"tests.{module.name}.cross_project_cases")
        except ModuleNotFoundError as error:
            if error.name != f"tests.{module.name}.cross_project_cases":
                raise


def all_page_cases() -> list[PageCase]:
    return [case for registry in _registries() for case in getattr(registry, "PAGE_CASES", [])]
