"""The apps depend on each other one way only, in the order of DESIGN.md §3.

The import graph is read from the source with `ast` (function-level imports included, since a
late import is still a dependency), so the test needs no app to be importable and cannot be
fooled by an import hidden inside a function.
"""

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Levels of DESIGN.md §3: an app may import apps of a lower level, never of its own level or above.
APP_LEVELS: dict[str, int] = {
    "evalsite": 0,
    "traces": 1,
    "prompts": 1,
    "scoring": 2,
    "datasets": 3,
    "experiments": 4,
    "evaluators": 5,
    "annotations": 6,
    "ingestion": 7,
    "dashboards": 8,
}

# The root URLconf and the settings are the only modules that name every app.
MAY_NAME_EVERY_APP = {"evalsite/urls.py", "evalsite/settings.py"}

# Modules that speak HTTP or render; another app never imports them.
VIEW_LAYER = {"admin", "api", "pages", "views"}

# The core's view-layer bases, which every app builds its views on (not another app's views).
CORE_VIEW_BASES = ("evalsite.api", "evalsite.pages", "evalsite.tenancy.admin_base")

# Roles that know nothing of HTTP (DESIGN.md §3): they raise Django's ValidationError or the
# core's evalsite.errors, and the API layer alone speaks the wire.
HTTP_FREE_ROLES = {"services", "selectors", "models", "tasks"}
HTTP_MODULES = ("rest_framework", "evalsite.api", "django.http")


@dataclass(frozen=True)
class Import:
    source: str  # path relative to the repository root
    app: str  # the app the importing module belongs to
    target: str  # the dotted module imported


def app_of_module(dotted: str) -> str | None:
    head = dotted.split(".", 1)[0]
    return head if head in APP_LEVELS else None


def is_view_layer(dotted: str) -> bool:
    if dotted.startswith(CORE_VIEW_BASES):
        return False
    return any(part in VIEW_LAYER or part.endswith("_admin") or part.endswith("_api") for part in dotted.split(".")[1:])


def app_imports() -> Iterator[Import]:
    for app in APP_LEVELS:
        folder = ROOT / app
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            tree = ast.parse(path.read_text(), filename=relative)
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    targets = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    # `from app import module` imports app.module when it is one.
                    targets = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
                else:
                    continue
                for target in targets:
                    yield Import(source=relative, app=app, target=target)


def test_the_source_tree_has_the_apps_of_the_design():
    present = {app for app in APP_LEVELS if (ROOT / app / "apps.py").exists() or (ROOT / app / "models.py").exists()}
    assert {"evalsite", "traces", "prompts", "scoring", "datasets", "experiments", "ingestion"} <= present


def app_imports_between_apps() -> Iterator[Import]:
    return (imp for imp in app_imports() if app_of_module(imp.target))


def test_no_app_imports_an_app_at_or_above_its_own_level():
    offenders = sorted(
        f"{imp.source} imports {imp.target}"
        for imp in app_imports_between_apps()
        if imp.source not in MAY_NAME_EVERY_APP
        and app_of_module(imp.target) != imp.app
        and APP_LEVELS[app_of_module(imp.target)] >= APP_LEVELS[imp.app]
    )
    assert offenders == [], "upward or sideways imports between apps (DESIGN.md §3):\n" + "\n".join(offenders)


def test_no_module_imports_another_apps_view_layer():
    offenders = sorted(
        f"{imp.source} imports {imp.target}"
        for imp in app_imports_between_apps()
        if imp.source not in MAY_NAME_EVERY_APP
        and app_of_module(imp.target) != imp.app
        and is_view_layer(imp.target)
    )
    assert offenders == [], "imports of another app's admin/api/pages/views:\n" + "\n".join(offenders)


def test_the_app_graph_has_no_cycle():
    edges: dict[str, set[str]] = {app: set() for app in APP_LEVELS}
    for imp in app_imports_between_apps():
        target_app = app_of_module(imp.target)
        if imp.source not in MAY_NAME_EVERY_APP and target_app != imp.app:
            edges[imp.app].add(target_app)
    visiting: list[str] = []
    done: set[str] = set()

    def visit(app: str) -> None:
        if app in done:
            return
        assert app not in visiting, "cycle between apps: " + " → ".join([*visiting[visiting.index(app):], app])
        visiting.append(app)
        for target in sorted(edges[app]):
            visit(target)
        visiting.pop()
        done.add(app)

    for app in APP_LEVELS:
        visit(app)


def test_services_selectors_models_and_tasks_know_nothing_of_http():
    offenders = sorted(
        f"{imp.source} imports {imp.target}"
        for imp in app_imports()
        if Path(imp.source).stem in HTTP_FREE_ROLES and imp.target.startswith(HTTP_MODULES)
    )
    assert offenders == [], "HTTP in services/selectors/models/tasks:\n" + "\n".join(offenders)


def test_the_checker_sees_function_level_and_from_imports(tmp_path, monkeypatch):
    """The graph would be worthless if a late or `from x import y` import slipped past it."""
    fake_root = tmp_path
    (fake_root / "traces").mkdir()
    (fake_root / "traces" / "apps.py").write_text("")
    (fake_root / "traces" / "late.py").write_text("def f():\n    from scoring import services\n")
    (fake_root / "traces" / "viewish.py").write_text("from datasets import admin\n")
    monkeypatch.setattr(__import__(__name__, fromlist=["ROOT"]), "ROOT", fake_root)
    found = {(imp.source, imp.target) for imp in app_imports()}
    assert ("traces/late.py", "scoring.services") in found
    assert ("traces/viewish.py", "datasets.admin") in found
    assert is_view_layer("datasets.admin") and is_view_layer("experiments.run_admin")
    assert not is_view_layer("datasets.selectors")
    assert not is_view_layer("evalsite.api.viewsets") and is_view_layer("evalsite.llm.admin")
