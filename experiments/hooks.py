"""What the apps above `experiments` add to it (evalsite/hooks.py explains extension points).

- `run_item_admin_actions`: actions of the RunItem admin (`@admin.action` functions), appended to
  its own. Registered by `annotations` ("add to an annotation queue").
"""

from collections.abc import Callable
from typing import Any

from evalsite.hooks import ExtensionPoint

run_item_admin_actions: ExtensionPoint[Callable[..., Any]] = ExtensionPoint("experiments.run_item_admin_actions")
