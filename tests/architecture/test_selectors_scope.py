"""Selectors are the scoping mechanism: every read takes the project, keyword-only.

Read from the source with `ast`, so a new selector module is covered the moment it exists.
"""

import ast
from pathlib import Path

from tests.architecture.test_app_order import APP_LEVELS, ROOT

# Reads that select projects themselves, or find the project a credential belongs to: they are
# how the scoping mechanism learns the project, so they cannot take one.
UNSCOPED_SELECTORS = {
    "evalsite/tenancy/selectors.py": {
        "roles_by_project": "which projects a user may see, and with which role",
        "project_ids_with_role": "the projects where a user has at least a role",
        "project_list_with_roles": "the projects a user may see, for the list of their projects",
        "api_key_get_by_credentials": "finds the project an API key belongs to",
    },
}


def selector_modules() -> list[Path]:
    modules = []
    for app in APP_LEVELS:
        folder = ROOT / app
        if folder.is_dir():
            modules += [path for path in folder.rglob("selectors.py") if "migrations" not in path.parts]
    return sorted(modules)


def public_functions(path: Path) -> list[ast.FunctionDef]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        node
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and not node.name.startswith("_")
    ]


def test_every_selector_takes_a_keyword_only_project():
    offenders = []
    for path in selector_modules():
        relative = path.relative_to(ROOT).as_posix()
        allowed = UNSCOPED_SELECTORS.get(relative, {})
        for function in public_functions(path):
            if function.name in allowed:
                continue
            keyword_only = [arg.arg for arg in function.args.kwonlyargs]
            if "project" not in keyword_only or function.args.args or function.args.posonlyargs:
                offenders.append(f"{relative}:{function.lineno} {function.name}")
    assert offenders == [], "selectors without a keyword-only `project` (and no positional arguments):\n" + "\n".join(
        offenders
    )


def test_the_walk_finds_the_selectors_of_every_app():
    found = {path.relative_to(ROOT).parts[0] for path in selector_modules()}
    assert {"evalsite", "traces", "scoring", "datasets", "experiments"} <= found


def test_the_allowlist_names_only_functions_that_exist():
    for relative, names in UNSCOPED_SELECTORS.items():
        defined = {function.name for function in public_functions(ROOT / relative)}
        assert set(names) <= defined, f"{relative}: stale entries {set(names) - defined}"
