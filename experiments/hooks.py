"""What the apps above `experiments` add to it (evalsite/hooks.py explains extension points).

Registered by `evaluators` from its AppConfig.ready():

- `run_evaluators_clean`: `hook(project=…, evaluators=[{evaluatorId, variableMapping?}])` → the
  cleaned list a platform run stores in `config["evaluators"]`; raises ValidationError keyed
  `evaluators`. With nothing registered, a run that names evaluators is refused.
- `run_items_recorded`: `hook(project=…, run=…, items=[RunItem], evaluators=[…])`, called in the
  runner's flush transaction for the items it just recorded, so their evaluation jobs commit with them.
- `run_evaluation_progress`: `hook(project=…, runs=[ExperimentRun])` → {run pk: {"total", "done",
  "failed"}} of the runs' evaluation jobs, shown beside the run's own progress.
- `run_admin_actions`: actions of the ExperimentRun admin (`@admin.action` functions), appended to
  its own ("Evaluate with evaluators", "Judge pairwise against a baseline run").

Registered by `annotations`:

- `run_item_admin_actions`: actions of the RunItem admin (`@admin.action` functions), appended to
  its own. Registered by `annotations` ("add to an annotation queue").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from evalsite.hooks import ExtensionPoint

run_evaluators_clean: ExtensionPoint[Callable[..., Any]] = ExtensionPoint("experiments.run_evaluators_clean")
run_items_recorded: ExtensionPoint[Callable[..., Any]] = ExtensionPoint("experiments.run_items_recorded")
run_evaluation_progress: ExtensionPoint[Callable[..., Any]] = ExtensionPoint("experiments.run_evaluation_progress")
run_admin_actions: ExtensionPoint[Callable[..., Any]] = ExtensionPoint("experiments.run_admin_actions")
run_item_admin_actions: ExtensionPoint[Callable[..., Any]] = ExtensionPoint("experiments.run_item_admin_actions")
