"""The registry behind the cross-project test.

Every app's tests folder may hold a `cross_project_cases.py` defining `CASES`: for each API route
with a path parameter, how to create an object in a given project and the URL kwargs that name it.
`tests/api/test_cross_project.py` creates each object in the victim project, calls every method of
the route with a key of another project, and expects 404 — and fails when a parameterised route
has no case at all, so a new route cannot skip the check.
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
