"""What the apps add to the tenancy core (evalsite/hooks.py explains extension points).

- `project_delete_hooks`: hook(project=…), called inside the transaction that deletes a project,
  before its rows go by cascade, for what lives outside the database. Registered by `traces`
  (stored media objects, deleted after the commit).
"""

from collections.abc import Callable
from typing import Any

from evalsite.hooks import ExtensionPoint

project_delete_hooks: ExtensionPoint[Callable[..., Any]] = ExtensionPoint("tenancy.project_delete_hooks")
