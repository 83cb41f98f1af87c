"""The registry behind the admin scoping test.

Every app's tests folder may hold an `admin_object_factories.py` defining `FACTORIES`:
`{Model: make(project) -> instance}`. `tests/tenancy/test_admin_scoping.py` walks every registered
ModelAdmin, and fails when a project-owned model has no factory.
"""

import importlib
import pkgutil
from pathlib import Path


def all_factories() -> dict:
    tests_dir = Path(__file__).resolve().parent.parent
    factories = {}
    for module in pkgutil.iter_modules([str(tests_dir)]):
        if not module.ispkg:
            continue
        name = f"tests.{module.name}.admin_object_factories"
        try:
            registry = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name != name:
                raise
            continue
        factories.update(registry.FACTORIES)
    return factories
